// The registry sweep (every registered quantizer, larq's test_serialization) and the
// JSON error messages.
#include "quant/registry.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/check.h"
#include "core/random.h"
#include "quant/functions.h"

using namespace lowbit;
using nlohmann::json;

namespace {

std::string error_of(const json& spec, const std::string& path = "q") {
  try {
    make_quantizer(spec, path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// A quantizer defined outside the library, registered with the application-side macro.
class NegSignForTest final : public Quantizer {
 public:
  Var operator()(const Var& x) const override { return neg(ste_sign(x)); }
  std::string_view name() const override { return "neg_sign_for_test"; }
  int precision() const override { return 1; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  static QuantizerPtr from_json(const json&, const std::string&) {
    return std::make_shared<NegSignForTest>();
  }
};

}  // namespace

LB_REGISTER_QUANTIZER("neg_sign_for_test", &NegSignForTest::from_json);

TEST_CASE("LB_REGISTER_QUANTIZER registers an application's quantizer") {
  QuantizerPtr q = make_quantizer("neg_sign_for_test");
  CHECK(q->name() == "neg_sign_for_test");
  CHECK((*q)(Var(Tensor::from_vector({2}, {-1.f, 2.f}))).data().to_vector() ==
        std::vector<float>{1.f, -1.f});
}

TEST_CASE("registry lists every method") {
  const std::vector<std::string> names = quantizer_names();
  CHECK(std::is_sorted(names.begin(), names.end()));
  for (const char* n :
       {"ste_sign", "binary_connect", "stochastic_sign", "bwn", "xnor_sign", "qnn_linear",
        "qnn_log", "dorefa", "dorefa_weight", "twn", "ttq", "tnn", "ftprop", "swish_sign"})
    CHECK_MESSAGE(std::count(names.begin(), names.end(), n) == 1, n);
}

TEST_CASE("every registered quantizer: JSON round trip, shape, finite gradients, levels") {
  for (const std::string& name : quantizer_names()) {
    CAPTURE(name);
    QuantizerPtr a = make_quantizer(name);
    QuantizerPtr b = make_quantizer(json{{"name", name}});
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->name() == name);
    CHECK(b->config() == a->config());
    // Round trip through quantizer_to_json.
    const json spec = quantizer_to_json(*a);
    CHECK(spec["name"] == name);
    QuantizerPtr c = make_quantizer(spec);
    CHECK(c->name() == a->name());
    CHECK(c->config() == a->config());
    CHECK(quantizer_to_json(*c) == spec);
    CHECK(a->precision() >= 1);
    CHECK(a->precision() <= 32);
    CHECK(a->levels() >= 2);
    CHECK(a->levels() <= (int64_t{1} << a->precision()));

    for (bool training : {true, false}) {
      CAPTURE(training);
      a->set_training(training);
      Rng rng(17);
      const Shape shape{4, 64};  // 4 output filters of 64 values
      Var x(Tensor::uniform(shape, rng, -2.f, 2.f), true);
      Var q = (*a)(x);
      CHECK(q.shape() == shape);
      Tensor seed = Tensor::uniform(shape, rng, -1.f, 1.f);
      q.backward(seed);
      REQUIRE(x.grad().defined());
      bool finite = true;
      for (float v : x.grad().to_vector()) finite = finite && std::isfinite(v);
      for (float v : q.data().to_vector()) finite = finite && std::isfinite(v);
      CHECK(finite);
      for (auto& [pname, p] : a->parameters()) {
        CAPTURE(pname);
        REQUIRE(p->grad().defined());
        CHECK(std::isfinite(p->grad().to_vector()[0]));
      }
      // Distinct values per output filter at most levels() (2^bits, 3 for ternary).
      const std::vector<float> v = q.data().to_vector();
      for (int64_t f = 0; f < shape[0]; ++f) {
        std::set<float> distinct(v.begin() + f * shape[1], v.begin() + (f + 1) * shape[1]);
        CHECK(int64_t(distinct.size()) <= a->levels());
      }
    }
  }
}

TEST_CASE("options are read, validated and round-tripped") {
  QuantizerPtr d = make_quantizer(json{{"name", "dorefa"}, {"bits", 3}});
  CHECK(d->precision() == 3);
  CHECK(quantizer_to_json(*d) == json{{"name", "dorefa"}, {"bits", 3}});
  QuantizerPtr s = make_quantizer(json{{"name", "ste_sign"}, {"clip_value", nullptr}});
  CHECK(s->config()["clip_value"].is_null());  // plain STE round-trips as null
  QuantizerPtr t =
      make_quantizer(json{{"name", "twn"}, {"delta_factor", 0.75}, {"per_filter", true}});
  CHECK(t->config() == json{{"delta_factor", 0.75}, {"per_filter", true}});
  CHECK(t->num_scales({8, 3, 3, 3}) == 8);
  CHECK(make_quantizer("twn")->num_scales({8, 3, 3, 3}) == 1);
  CHECK(make_quantizer(nullptr) == nullptr);
  // TTQ owns two parameters.
  QuantizerPtr ttq = make_quantizer("ttq");
  auto params = ttq->parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].first == "wp");
  CHECK(params[1].first == "wn");
  CHECK(params[0].second->data().item() == 1.f);
  // Stochastic quantizers own a generator; deterministic ones do not.
  CHECK(make_quantizer("stochastic_sign")->rng() != nullptr);
  CHECK(make_quantizer(json{{"name", "tnn"}, {"stochastic", true}})->rng() != nullptr);
  CHECK(make_quantizer("tnn")->rng() == nullptr);
  CHECK(make_quantizer("ste_sign")->rng() == nullptr);
}

TEST_CASE("stochastic quantizers are deterministic in evaluation mode") {
  for (const json& spec : {json("stochastic_sign"), json{{"name", "tnn"}, {"stochastic", true}}}) {
    QuantizerPtr q = make_quantizer(spec);
    q->set_training(false);
    Rng rng(1);
    Var x(Tensor::uniform({100}, rng, -1.5f, 1.5f));
    CHECK((*q)(x).data().to_vector() == (*q)(x).data().to_vector());
    q->set_training(true);
    CHECK((*q)(x).data().to_vector() != (*q)(x).data().to_vector());
  }
}

TEST_CASE("bad specs name the path, the key and the choices") {
  std::string e = error_of("ste_sgn");
  CHECK(contains(e, "q: unknown quantizer \"ste_sgn\""));
  CHECK(contains(e, "did you mean \"ste_sign\""));
  CHECK(contains(e, "known: "));
  CHECK(contains(e, "dorefa"));
  e = error_of(json{{"name", "dorefa"}, {"bitz", 2}});
  CHECK(contains(e, "q.bitz: unknown key (did you mean \"bits\"?)"));
  e = error_of(json{{"name", "dorefa"}, {"bits", 0}});
  CHECK(contains(e, "q.bits"));
  e = error_of(json{{"name", "ste_sign"}, {"clip_vaule", 1.0}});
  CHECK(contains(e, "clip_vaule"));
  e = error_of(json{{"name", "ste_sign"}, {"clip_value", -1.0}});
  CHECK(contains(e, "q.clip_value"));
  e = error_of(json{{"bits", 2}});
  CHECK(contains(e, "q.name: missing required key (expected a quantizer: "));
  e = error_of(json{{"name", 3}});
  CHECK(contains(e, "q.name: expected a quantizer name"));
  e = error_of(json{{"name", "nope"}});
  CHECK(contains(e, "q.name: unknown quantizer \"nope\""));
  e = error_of(json(42));
  CHECK(contains(e, "q: expected a quantizer name or an object {\"name\": ...}, got 42"));
  e = error_of(json{{"name", "bwn"}, {"gradient", "exact"}});
  CHECK(contains(e, "q.gradient"));
  CHECK(contains(e, "xnor"));
  CHECK_THROWS_AS(register_quantizer(
                      "ste_sign", [](const json&, const std::string&) { return QuantizerPtr(); }),
                  Error);
}
