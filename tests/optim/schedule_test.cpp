// lr schedules: PyTorch golden values, closed forms, config round trip, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "optim/registry.h"
#include "tests/optim/golden.h"

using namespace lowbit;
using nlohmann::json;

TEST_CASE("schedules match PyTorch's schedulers epoch by epoch") {
  const json& golden = testing::optim_golden();
  REQUIRE(golden["schedules"].size() >= 6);
  for (const json& s : golden["schedules"]) {
    CAPTURE(s["schedule"].dump());
    const int64_t epochs = s["epochs"];
    LrSchedulePtr sched = make_schedule(s["schedule"], s["lr_start"].get<double>(), epochs);
    const auto want = s["lr"].get<std::vector<double>>();
    REQUIRE(int64_t(want.size()) == epochs);
    for (int64_t e = 0; e < epochs; ++e)
      CHECK(sched->lr_at(e) == doctest::Approx(want[size_t(e)]).epsilon(1e-9));
  }
}

TEST_CASE("exponential lr_end form starts at lr_start and ends at lr_end") {
  auto s = make_schedule({{"name", "exponential"}, {"lr_end", 3e-7}}, 3e-3, 500);
  CHECK(s->lr_at(0) == 3e-3);
  CHECK(s->lr_at(499) == doctest::Approx(3e-7).epsilon(1e-12));
  CHECK(s->lr_at(250) == doctest::Approx(3e-3 * std::pow(1e-4, 250.0 / 499)).epsilon(1e-12));
  CHECK(make_schedule({{"name", "exponential"}, {"lr_end", 1e-5}}, 0.1, 1)->lr_at(0) == 0.1);
}

TEST_CASE("constant is the default; step, multistep, cosine closed forms") {
  CHECK(make_schedule(nullptr, 0.1, 5)->name() == "constant");
  CHECK(make_schedule(nullptr, 0.1, 5)->lr_at(4) == 0.1);
  auto step = make_schedule({{"name", "step"}, {"step_size", 2}}, 1.0, 10);
  CHECK(step->lr_at(1) == 1.0);
  CHECK(step->lr_at(2) == doctest::Approx(0.1));
  CHECK(step->lr_at(5) == doctest::Approx(0.01));
  auto ms = make_schedule({{"name", "multistep"}, {"milestones", {3, 6}}, {"gamma", 0.5}}, 1.0, 10);
  CHECK(ms->lr_at(2) == 1.0);
  CHECK(ms->lr_at(3) == 0.5);
  CHECK(ms->lr_at(9) == 0.25);
  auto cos = make_schedule("cosine", 1.0, 4);
  CHECK(cos->lr_at(0) == 1.0);
  CHECK(cos->lr_at(2) == doctest::Approx(0.5));
  CHECK(cos->lr_at(4) == doctest::Approx(0.0));
}

TEST_CASE("which schedules stretch with the budget and which count absolute epochs") {
  CHECK(make_schedule(nullptr, 0.1, 5)->stretches_with_budget());
  CHECK(make_schedule("cosine", 0.1, 5)->stretches_with_budget());
  CHECK(make_schedule({{"name", "exponential"}, {"lr_end", 1e-4}}, 0.1, 5)->stretches_with_budget());
  CHECK_FALSE(make_schedule({{"name", "exponential"}, {"gamma", 0.9}}, 0.1, 5)->stretches_with_budget());
  CHECK_FALSE(make_schedule({{"name", "step"}, {"step_size", 2}}, 0.1, 5)->stretches_with_budget());
  CHECK_FALSE(make_schedule({{"name", "multistep"}, {"milestones", {3}}}, 0.1, 5)->stretches_with_budget());
}

TEST_CASE("every registered schedule round-trips its config") {
  // Minimal spec per name; a new schedule must be added here (checked below).
  const std::map<std::string, json> specs = {
      {"constant", {{"name", "constant"}}},
      {"step", {{"name", "step"}, {"step_size", 3}}},
      {"multistep", {{"name", "multistep"}, {"milestones", {2, 4}}}},
      {"exponential", {{"name", "exponential"}, {"lr_end", 1e-5}}},
      {"cosine", {{"name", "cosine"}}},
  };
  for (const auto& name : schedule_names()) {
    CAPTURE(name);
    REQUIRE_MESSAGE(specs.count(name), "add a minimal spec for \"", name, "\" to this test");
    LrSchedulePtr a = make_schedule(specs.at(name), 0.1, 10);
    CHECK(a->name() == name);
    const json j = schedule_to_json(*a);
    LrSchedulePtr b = make_schedule(j, 0.1, 10);
    CHECK(schedule_to_json(*b) == j);
    for (int64_t e = 0; e < 10; ++e) {
      CHECK(a->lr_at(e) == b->lr_at(e));
      CHECK(a->lr_at(e) <= 0.1 + 1e-12);
      CHECK(a->lr_at(e) >= 0);
    }
  }
  CHECK(schedule_to_json(*make_schedule({{"name", "exponential"}, {"gamma", 0.9}}, 0.1, 10)) ==
        json{{"name", "exponential"}, {"gamma", 0.9}});
}

TEST_CASE("schedule config errors name the JSON path") {
  auto make = [](const json& spec) { return make_schedule(spec, 0.1, 10, "train.lr_schedule"); };
  CHECK_THROWS_WITH_AS(make({{"name", "cosin"}}),
                       doctest::Contains("train.lr_schedule.name: unknown lr schedule \"cosin\" "
                                         "(did you mean \"cosine\"?)"),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "step"}}),
                       doctest::Contains("train.lr_schedule.step_size: missing required key"),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "step"}, {"step_size", 0}}),
                       doctest::Contains("train.lr_schedule.step_size: expected a positive "
                                         "integer, got 0"),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "multistep"}, {"milestones", {5, 3}}}),
                       doctest::Contains("train.lr_schedule.milestones[1]: milestones must be "
                                         "strictly increasing"),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "multistep"}, {"milestones", {1, "x"}}}),
                       doctest::Contains("train.lr_schedule.milestones[1]: expected an integer"),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "exponential"}}),
                       doctest::Contains("give exactly one of \"lr_end\""), Error);
  CHECK_THROWS_WITH_AS(make({{"name", "exponential"}, {"lr_end", 1e-5}, {"gamma", 0.5}}),
                       doctest::Contains("give exactly one of"), Error);
  CHECK_THROWS_WITH_AS(make({{"name", "cosine"}, {"eta_min", 0}}),
                       doctest::Contains("train.lr_schedule.eta_min: unknown key; valid keys: "
                                         "lr_min, name"),
                       Error);
  CHECK_THROWS_AS(make_schedule("cosine", 0.1, 0), Error);
}
