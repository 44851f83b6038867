// Shift-based AdaMax against two steps worked out by hand.
#include "optim/shift_adamax.h"

#include <doctest/doctest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "optim/registry.h"

using namespace lowbit;

TEST_CASE("shift_adamax: two steps by hand") {
  Var w(Tensor::from_vector({2}, {1.f, -0.5f}), true);
  Var u(Tensor::from_vector({1}, {1.f}), true);  // lr_scale 4
  ShiftAdaMax opt({w, u}, {1.f, 4.f}, {.lr = 0.1});
  // Step 1, g = (0.3, −0.02): m = 0.1·g = (0.03, −0.002), v = |g| = (0.3, 0.02),
  // AP2(v) = (0.25, 1/64), step = AP2(0.1/(1 − 0.9)) = 1:
  // w = (1 − 0.03/0.25, −0.5 + 0.002·64) = (0.88, −0.372).
  w.set_grad(Tensor::from_vector({2}, {0.3f, -0.02f}));
  u.set_grad(Tensor::from_vector({1}, {0.3f}));
  opt.step();
  CHECK(w.data().to_vector()[0] == doctest::Approx(0.88).epsilon(1e-6));
  CHECK(w.data().to_vector()[1] == doctest::Approx(-0.372).epsilon(1e-6));
  CHECK(u.data().to_vector()[0] == doctest::Approx(1.0 - 4 * 0.12).epsilon(1e-6));
  // Step 2, g = (0.1, 0.05): m = (0.037, 0.0032), v = (max(0.2997, 0.1), max(0.01998, 0.05))
  // -> AP2 = (0.25, 0.0625); step = AP2(0.1/0.19 = 0.526) = 0.5:
  // w = (0.88 − 0.5·0.037/0.25, −0.372 − 0.5·0.0032/0.0625) = (0.806, −0.3976).
  w.set_grad(Tensor::from_vector({2}, {0.1f, 0.05f}));
  u.set_grad(Tensor());  // no gradient: skipped, its step count stays 1
  opt.step();
  CHECK(w.data().to_vector()[0] == doctest::Approx(0.806).epsilon(1e-6));
  CHECK(w.data().to_vector()[1] == doctest::Approx(-0.3976).epsilon(1e-6));
  CHECK(u.data().to_vector()[0] == doctest::Approx(1.0 - 4 * 0.12).epsilon(1e-6));
  // State is exposed for checkpoints.
  bool found = false;
  for (auto& [name, t] : opt.state_tensors())
    if (name == "optim.0.exp_inf") {
      found = true;
      CHECK(t.to_vector()[0] == doctest::Approx(0.2997));
    }
  CHECK(found);
}

TEST_CASE("shift_adamax from JSON") {
  Var w(Tensor::zeros({3}), true);
  OptimizerPtr opt = make_optimizer(nlohmann::json{{"name", "shift_adamax"}, {"lr", 0.015625}}, {w},
                                    {}, "train.optimizer");
  CHECK(opt->name() == "shift_adamax");
  CHECK(optimizer_to_json(*opt)["lr"] == 0.015625);
  CHECK(optimizer_to_json(*opt)["eps"] == doctest::Approx(7.450580596923828e-09));
  CHECK_THROWS_AS(make_optimizer(nlohmann::json{{"name", "shift_adamax"}, {"beta1", 1.5}}, {w}, {},
                                 "train.optimizer"),
                  Error);
}

TEST_CASE("shift_adamax ap2_state: v is stored as AP2(v) + eps and does not decay") {
  // The Torch code's rule. Step 1, g = 0.3: v = 0.3 -> stored AP2(0.3) + ε = 0.25 + ε;
  // w = 1 − 1·0.03/(0.25 + ε). Step 2, g = 0.1: v = max(0.999·(0.25 + ε), 0.1) = 0.24975,
  // whose AP2 is 0.25 again (an exact v would be 0.2997 -> 0.25 too, but keeps decaying).
  const float eps = 7.450580596923828e-09f;
  Var w(Tensor::from_vector({1}, {1.f}), true);
  ShiftAdaMax opt({w}, {1.f}, {.lr = 0.1, .ap2_state = true});
  w.set_grad(Tensor::from_vector({1}, {0.3f}));
  opt.step();
  CHECK(w.data().to_vector()[0] == doctest::Approx(1.0 - 0.03 / 0.25).epsilon(1e-6));
  auto stored_v = [&] {
    for (auto& [name, t] : opt.state_tensors())
      if (name == "optim.0.exp_inf") return t.to_vector()[0];
    FAIL("no exp_inf state");
    return 0.f;
  };
  CHECK(stored_v() == 0.25f + eps);
  // 300 steps of a tiny gradient: an exact v would decay to 0.3·0.999^300 ≈ 0.222 (AP2 0.25,
  // then 0.125 after ~350 more); the stored AP2 value stays at 0.25 + ε.
  for (int i = 0; i < 700; ++i) {
    w.set_grad(Tensor::from_vector({1}, {1e-6f}));
    opt.step();
  }
  CHECK(stored_v() == 0.25f + eps);
  CHECK(optimizer_to_json(opt)["ap2_state"] == true);
}

TEST_CASE("shift_adamax without ap2_state: v decays by beta2 each step") {
  Var w(Tensor::from_vector({1}, {1.f}), true);
  ShiftAdaMax opt({w}, {1.f}, {.lr = 0.1});
  w.set_grad(Tensor::from_vector({1}, {0.3f}));
  opt.step();
  for (int i = 0; i < 700; ++i) {
    w.set_grad(Tensor::from_vector({1}, {1e-6f}));
    opt.step();
  }
  for (auto& [name, t] : opt.state_tensors())
    if (name == "optim.0.exp_inf") CHECK(t.to_vector()[0] == doctest::Approx(0.3 * std::pow(0.999, 700)).epsilon(1e-4));
}
