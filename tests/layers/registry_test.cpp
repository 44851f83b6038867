// Layer registry: config round trip for every registered type, JSON errors with paths.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "layers/layers.h"

using namespace lowbit;
using nlohmann::json;

namespace {
struct SweepCase {
  json spec;
  Shape input;
};

// A minimal spec and a valid input shape per registered type. A new layer type must be
// added here: the sweep fails on any registered name without an entry.
const std::map<std::string, SweepCase>& sweep_cases() {
  static const std::map<std::string, SweepCase> cases = {
      {"linear", {{{"type", "linear"}, {"in_features", 6}, {"out_features", 3}}, {4, 6}}},
      {"conv2d",
       {{{"type", "conv2d"},
         {"in_channels", 2},
         {"out_channels", 3},
         {"kernel_size", 3},
         {"padding", 1}},
        {2, 2, 5, 5}}},
      {"batch_norm1d", {{{"type", "batch_norm1d"}, {"num_features", 3}}, {4, 3}}},
      {"batch_norm2d", {{{"type", "batch_norm2d"}, {"num_features", 2}}, {2, 2, 3, 3}}},
      {"shift_batch_norm", {{{"type", "shift_batch_norm"}, {"num_features", 3}}, {4, 3}}},
      {"max_pool2d", {{{"type", "max_pool2d"}, {"kernel_size", 2}}, {1, 2, 4, 4}}},
      {"avg_pool2d",
       {{{"type", "avg_pool2d"}, {"kernel_size", 3}, {"stride", 1}, {"padding", 1}}, {1, 2, 4, 4}}},
      {"dropout", {{{"type", "dropout"}, {"p", 0.3}}, {4, 5}}},
      {"relu", {{{"type", "relu"}}, {4, 5}}},
      {"hardtanh", {{{"type", "hardtanh"}, {"min_val", -0.5}}, {4, 5}}},
      {"tanh", {{{"type", "tanh"}}, {4, 5}}},
      {"flatten", {{{"type", "flatten"}}, {2, 3, 2, 2}}},
      {"sequential",
       {{{"type", "sequential"},
         {"layers",
          {{{"type", "flatten"}}, {{"type", "linear"}, {"in_features", 12}, {"out_features", 2}}}}},
        {2, 3, 2, 2}}},
  };
  return cases;
}

std::string what(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("every registered layer type round-trips its config through make_module") {
  const auto names = module_type_names();
  REQUIRE(!names.empty());
  for (const auto& name : names) {
    if (name.ends_with("_for_test")) continue;  // registered by the test below
    CAPTURE(name);
    REQUIRE_MESSAGE(sweep_cases().count(name), "add a minimal spec for layer type \"", name,
                    "\" to sweep_cases()");
    const SweepCase& c = sweep_cases().at(name);
    Rng rng(11);
    ModulePtr a = make_module(c.spec, rng, "model.layers[0]");
    CHECK(a->type() == name);
    const json j = module_to_json(*a);
    CHECK(j["type"] == name);
    for (auto& [k, v] : c.spec.items()) CHECK(j.contains(k));  // nothing dropped
    ModulePtr b = make_module(j, rng, "model.layers[0]");
    CHECK(module_to_json(*b) == j);
    // The bare name takes the defaults, or names the option that has none.
    std::string bare_type;
    const std::string bare =
        what([&] { bare_type = make_module(json(name), rng, "model.layers[0]")->type(); });
    if (bare == "(no error)") CHECK(bare_type == name);
    CHECK((bare == "(no error)" || (bare.starts_with("model.layers[0].") &&
                                    bare.find(": missing required key") != std::string::npos)));
    // Same parameter and buffer names and shapes.
    auto sa = a->state_tensors(), sb = b->state_tensors();
    REQUIRE(sa.size() == sb.size());
    for (size_t i = 0; i < sa.size(); ++i) {
      CHECK(sa[i].first == sb[i].first);
      CHECK(sa[i].second.shape() == sb[i].second.shape());
    }
    // Forward works on a valid input in both modes, and the spec printed is non-empty.
    Rng data_rng(12);
    Var x(Tensor::normal(c.input, data_rng));
    const Shape out = (*a)(x).shape();
    a->eval();
    CHECK((*a)(x).shape() == out);
    std::ostringstream os;
    os << *a;
    CHECK(os.str().rfind(name + "(", 0) == 0);
  }
}

TEST_CASE("a model list becomes a Sequential; defaults are written back") {
  Rng rng(1);
  ModulePtr m = make_module(json::parse(R"([{"type": "max_pool2d", "kernel_size": 3}])"), rng);
  CHECK(m->type() == "sequential");
  const json j = module_to_json(*m);
  CHECK(j == json::parse(R"({"type": "sequential", "layers": [
            {"type": "max_pool2d", "kernel_size": 3, "stride": 3, "padding": 0}]})"));
  CHECK(module_to_json(*make_module(json{{"type", "batch_norm2d"}, {"num_features", 4}}, rng)) ==
        json::parse(R"({"type": "batch_norm2d", "num_features": 4, "eps": 1e-05,
                        "momentum": 0.1, "affine": true})"));
}

TEST_CASE("layer config errors carry the JSON path, the reason and the choices") {
  Rng rng(2);
  auto err = [&](const char* text) {
    return what([&] { make_module(json::parse(text), rng, "model.layers"); });
  };
  CHECK(err(R"([{"type": "flatten"}, {"type": "relu"}, {"type": "relu"},
                {"type": "linear", "in_features": 784, "out_features": "64"}])") ==
        "model.layers[3].out_features: expected a positive integer, got \"64\"");
  CHECK(err(R"([{"type": "linear", "in_features": 784, "out_features": 10, "bais": false}])") ==
        "model.layers[0].bais: unknown key (did you mean \"bias\"?); valid keys: bias, "
        "in_features, out_features, type, weight_init");
  CHECK(err(R"([{"type": "lineer", "in_features": 3}])")
            .starts_with("model.layers[0].type: unknown layer type \"lineer\" (did you mean "
                         "\"linear\"?); known: avg_pool2d, batch_norm1d,"));
  CHECK(err(R"([{"in_features": 3}])")
            .starts_with("model.layers[0].type: missing required key (expected a layer type: "));
  CHECK(err(R"([{"type": 3}])") == "model.layers[0].type: expected a layer type name, got 3");
  CHECK(err(R"(["relux"])")
            .starts_with("model.layers[0]: unknown layer type \"relux\" (did you mean \"relu\"?)"));
  CHECK(err(R"([true])") == "model.layers[0]: expected a layer type, an object {\"type\": ...} "
                             "or a list of them, got true");
  CHECK(err(R"([{"type": "linear", "in_features": 784}])") ==
        "model.layers[0].out_features: missing required key (expected a positive integer)");
  CHECK(err(R"([{"type": "conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 3,
                 "padding": -1}])") ==
        "model.layers[0].padding: expected a non-negative integer, got -1");
  CHECK(err(R"([{"type": "dropout", "p": 1.5}])")
            .starts_with("model.layers[0].p: expected a number in [0, "));
  CHECK(err(R"([{"type": "linear", "in_features": 4, "out_features": 2, "weight_init": "he"}])") ==
        "model.layers[0].weight_init: expected one of \"kaiming_uniform\", \"glorot_uniform\", "
        "got \"he\"");
  CHECK(err(R"([{"type": "batch_norm2d", "num_features": 4, "affine": "yes"}])") ==
        "model.layers[0].affine: expected true or false, got \"yes\"");
  CHECK(err(R"([{"type": "max_pool2d", "kernel_size": 2, "padding": 2}])") ==
        "model.layers[0].padding: expected an integer in [0, 1], got 2");
  CHECK(err(R"([{"type": "hardtanh", "min_val": 1, "max_val": 0}])")
            .starts_with("model.layers[0].max_val: expected max_val > min_val"));
  CHECK(err(R"([{"type": "sequential", "layers": [{"type": "relu", "inplace": true}]}])") ==
        "model.layers[0].layers[0].inplace: unknown key; valid keys: type");
  CHECK(err(R"([{"type": "sequential"}])") ==
        "model.layers[0].layers: missing required key (expected a value)");
  CHECK(err(R"({"type": "sequential", "layers": {}})") ==
        "model.layers.layers: expected a list of layer objects, got {}");
  CHECK(err("7") ==
        "model.layers: expected a layer type, an object {\"type\": ...} or a list of them, got 7");
}

TEST_CASE("user layer types register next to the built-ins") {
  register_module_type("identity_for_test", [](const json&, Rng&, const std::string&) -> ModulePtr {
    return std::make_shared<Flatten>();
  });
  CHECK_THROWS_WITH_AS(register_module_type("linear", nullptr), doctest::Contains("null factory"),
                       Error);
  CHECK_THROWS_WITH_AS(
      register_module_type(
          "linear", [](const json&, Rng&, const std::string&) -> ModulePtr { return nullptr; }),
      doctest::Contains("\"linear\" is already registered"), Error);
  Rng rng(3);
  CHECK(make_module(json{{"type", "identity_for_test"}}, rng)->type() == "flatten");
}
