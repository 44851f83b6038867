// core/json_args: typed reads, defaults, ranges, path-aware errors, unknown keys.
#include "core/json_args.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/check.h"

using namespace lowbit;
using nlohmann::json;

namespace {
std::string what(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("paths") {
  CHECK(json_path("", "seed") == "seed");
  CHECK(json_path("model", "layers") == "model.layers");
  CHECK(json_path("model.layers", size_t{3}) == "model.layers[3]");
  CHECK(json_brief(json("64")) == "\"64\"");
  CHECK(json_brief(json(std::string(100, 'x'))).size() == 60);
  CHECK(float_to_json(1e-5f) == 1e-05);
  CHECK(float(float_to_json(0.1f)) == 0.1f);
}

TEST_CASE("typed reads with defaults") {
  const json j = json::parse(R"({"n": 64, "m": 64.0, "x": 0.5, "b": true, "s": "sgd",
                                 "list": [1, 2, 3], "obj": {"a": 1}, "arr": [], "nul": null})");
  JsonArgs a(j, "train");
  CHECK(a.positive_int("n") == 64);
  CHECK(a.positive_int("m") == 64);  // integral float accepted
  CHECK(a.positive_int("absent", 7) == 7);
  CHECK(a.integer("n", 0) == 64);
  CHECK(a.int_in("n", 0, 100) == 64);
  CHECK(a.number("x") == 0.5);
  CHECK(a.number("n") == 64.0);
  CHECK(a.number_in("x", 0, 1, 0.1) == 0.5);
  CHECK(a.positive("absent2", 2.5) == 2.5);
  CHECK(a.boolean("b") == true);
  CHECK(a.boolean("absent3", false) == false);
  CHECK(a.string("s") == "sgd");
  CHECK(a.choice("s", {"sgd", "adam"}) == "sgd");
  CHECK(a.choice("absent4", {"sgd", "adam"}, "adam") == "adam");
  CHECK(a.int_list("list", 0) == std::vector<int64_t>{1, 2, 3});
  CHECK(a.object("obj") != nullptr);
  CHECK(a.object("nul") == nullptr);
  CHECK(a.array("arr") != nullptr);
  CHECK(a.object("absent5") == nullptr);
  CHECK_NOTHROW(a.finish());
  CHECK(a.has("n"));
  CHECK_FALSE(a.has("zzz"));
}

TEST_CASE("errors name the path, the expectation and the value") {
  const json j = json::parse(R"({"epochs": "10", "lr": -1, "bs": 0, "p": 2, "flag": 1,
                                 "opt": "adma", "k": 2.5, "l": [1, -2], "o": 3, "huge": 1e300})");
  auto err = [&](const std::function<void(JsonArgs&)>& fn) {
    return what([&] {
      JsonArgs a(j, "train");
      fn(a);
    });
  };
  CHECK(err([](JsonArgs& a) { a.positive_int("epochs"); }) ==
        "train.epochs: expected a positive integer, got \"10\"");
  CHECK(err([](JsonArgs& a) { a.positive_int("bs"); }) ==
        "train.bs: expected a positive integer, got 0");
  CHECK(err([](JsonArgs& a) { a.non_negative("lr"); }) ==
        "train.lr: expected a non-negative number, got -1");
  CHECK(err([](JsonArgs& a) { a.number_in("p", 0, 1); }) ==
        "train.p: expected a number in [0, 1], got 2");
  CHECK(err([](JsonArgs& a) { a.boolean("flag"); }) == "train.flag: expected true or false, got 1");
  CHECK(err([](JsonArgs& a) {
          a.choice("opt", {"adam", "sgd"});
        }) ==
        "train.opt: expected one of \"adam\", \"sgd\", got \"adma\" (did you mean \"adam\"?)");
  CHECK(err([](JsonArgs& a) { a.integer("k"); }) == "train.k: expected an integer, got 2.5");
  CHECK(err([](JsonArgs& a) { a.integer("huge"); }) ==
        "train.huge: expected an integer, got 1e+300");
  CHECK(err([](JsonArgs& a) { a.int_list("l", 0); }) ==
        "train.l[1]: expected an integer >= 0, got -2");
  CHECK(err([](JsonArgs& a) { a.object("o"); }) == "train.o: expected an object, got 3");
  CHECK(err([](JsonArgs& a) { a.array("o"); }) == "train.o: expected a list, got 3");
  CHECK(err([](JsonArgs& a) { a.string("missing"); }) ==
        "train.missing: missing required key (expected a string)");
  const json arr = json::array(), one = 1;
  CHECK(what([&] { JsonArgs a(arr, "data"); }) == "data: expected an object, got []");
  CHECK(what([&] { JsonArgs a(one, ""); }) == "expected an object, got 1");
}

TEST_CASE("finish rejects unknown keys, naming them and listing the valid ones") {
  const json j = json::parse(R"({"epochs": 3, "batch_sise": 32, "loss": "ce"})");
  JsonArgs a(j, "train");
  a.positive_int("epochs");
  a.positive_int("batch_size", 64);
  a.allow({"loss"});
  CHECK(what([&] { a.finish(); }) ==
        "train.batch_sise: unknown key (did you mean \"batch_size\"?); valid keys: batch_size, "
        "epochs, loss");
  const json k = json::parse(R"({"zzz": 1})");
  JsonArgs b(k, "");
  CHECK(what([&] { b.finish(); }) == "zzz: unknown key; valid keys: none");
}

TEST_CASE("closest_match") {
  CHECK(closest_match("lineer", {"linear", "relu"}) == "linear");
  CHECK(closest_match("adma", {"adam", "sgd"}) == "adam");
  CHECK(closest_match("xyz", {"linear", "relu"}) == "");
}
