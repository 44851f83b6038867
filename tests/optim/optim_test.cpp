// Optimizers against PyTorch golden values, state save/load, errors, registry sweep.
#include "optim/optim.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/random.h"
#include "core/serialize.h"
#include "core/threads.h"
#include "tests/optim/golden.h"

using namespace lowbit;
using nlohmann::json;

namespace {

std::vector<Var> make_params(const json& golden) {
  std::vector<Var> params;
  for (size_t i = 0; i < golden["shapes"].size(); ++i)
    params.emplace_back(Tensor::from_vector(golden["shapes"][i].get<Shape>(),
                                            golden["init"][i].get<std::vector<float>>()),
                        true);
  return params;
}

void set_grads(const std::vector<Var>& params, const json& step_grads) {
  for (size_t i = 0; i < params.size(); ++i)
    params[i].set_grad(
        Tensor::from_vector(params[i].shape(), step_grads[i].get<std::vector<float>>()));
}

// |a − b| <= 1e-6·|b| + 1e-7: relative 1e-6, with a floor for values that cross zero.
bool close(float a, double b) { return std::fabs(double(a) - b) <= 1e-6 * std::fabs(b) + 1e-7; }

void check_values(const Tensor& t, const json& expected, const std::string& what) {
  const auto want = expected.get<std::vector<double>>();
  REQUIRE(size_t(t.numel()) == want.size());
  for (size_t j = 0; j < want.size(); ++j)
    if (!close(t.data()[j], want[j]))
      FAIL_CHECK(what << " element " << j << ": got " << t.data()[j] << ", PyTorch " << want[j]);
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data()[i] - b.data()[i]));
  return m;
}

}  // namespace

TEST_CASE("optimizers match PyTorch golden values step by step") {
  const json& golden = testing::optim_golden();
  REQUIRE(golden["cases"].size() >= 12);
  for (const json& c : golden["cases"]) {
    const std::string label = c["optimizer"].dump() + " scales " + c["lr_scales"].dump();
    CAPTURE(label);
    std::vector<Var> params = make_params(golden);
    OptimizerPtr opt =
        make_optimizer(c["optimizer"], params, c["lr_scales"].get<std::vector<float>>(), "case");
    const json& grads = golden["grads"];
    REQUIRE(grads.size() == c["after_step"].size());
    for (size_t s = 0; s < grads.size(); ++s) {
      set_grads(params, grads[s]);
      opt->step();
      for (size_t i = 0; i < params.size(); ++i)
        check_values(params[i].data(), c["after_step"][s][i],
                     "step " + std::to_string(s + 1) + " param " + std::to_string(i));
    }
    CHECK(opt->step_count() == int64_t(grads.size()));
    // Final state under the same names as PyTorch's state dict entries.
    const NamedTensors state = opt->state_tensors("optim.");
    for (auto& [name, values] : c["final_state"].items()) {
      const std::string full = "optim." + name;
      bool found = false;
      for (const auto& [n, t] : state)
        if (n == full) found = true, check_values(t, values, full);
      CHECK_MESSAGE(found, "missing state ", full);
    }
  }
}

TEST_CASE("optimizer state round-trips through safetensors and resumes identically") {
  const json& golden = testing::optim_golden();
  for (const std::string name : {"sgd", "adam", "adamw", "adamax"}) {
    CAPTURE(name);
    const json spec = {{"name", name}, {"lr", 0.01}, {"momentum", 0.9}};
    const json s = name == "sgd" ? spec : json{{"name", name}, {"lr", 0.01}};
    std::vector<Var> a = make_params(golden);
    OptimizerPtr oa = make_optimizer(s, a, {});
    for (size_t k = 0; k < 3; ++k) set_grads(a, golden["grads"][k]), oa->step();

    // Save params + state to a file, rebuild from it.
    const std::string path =
        (std::filesystem::temp_directory_path() / ("lowbit_optim_state_" + name + ".safetensors"))
            .string();
    NamedTensors saved = oa->state_tensors();
    for (size_t i = 0; i < a.size(); ++i)
      saved.emplace_back("param." + std::to_string(i), a[i].data());
    save_safetensors(path, saved);
    const NamedTensors loaded = load_safetensors(path);
    std::filesystem::remove(path);

    std::vector<Var> b = make_params(golden);
    for (size_t i = 0; i < b.size(); ++i)
      for (const auto& [n, t] : loaded)
        if (n == "param." + std::to_string(i)) Tensor(b[i].data()).copy_(t);
    OptimizerPtr ob = make_optimizer(s, b, {});
    ob->load_state_tensors(loaded, path);
    CHECK(ob->step_count() == 3);

    for (size_t k = 3; k < golden["grads"].size(); ++k) {
      set_grads(a, golden["grads"][k]), oa->step();
      set_grads(b, golden["grads"][k]), ob->step();
    }
    for (size_t i = 0; i < a.size(); ++i) CHECK(max_abs_diff(a[i].data(), b[i].data()) == 0.f);
  }
}

TEST_CASE("load_state_tensors rejects missing, unexpected and mis-shaped state") {
  Var p(Tensor::zeros({3}), true);
  Adam opt({p}, {}, AdamOptions{});
  NamedTensors good = opt.state_tensors();
  {
    NamedTensors missing(good.begin(), good.end() - 1);
    CHECK_THROWS_WITH_AS(opt.load_state_tensors(missing, "ckpt.safetensors"),
                         doctest::Contains("ckpt.safetensors: missing optimizer state"), Error);
  }
  {
    NamedTensors extra = good;
    extra.emplace_back("optim.7.exp_avg", Tensor::zeros({3}));
    CHECK_THROWS_WITH_AS(opt.load_state_tensors(extra, "f"),
                         doctest::Contains("unexpected optimizer state \"optim.7.exp_avg\""),
                         Error);
  }
  {
    NamedTensors bad = good;
    for (auto& [n, t] : bad)
      if (n == "optim.0.exp_avg") t = Tensor::zeros({4});
    CHECK_THROWS_WITH_AS(opt.load_state_tensors(bad, "f"), doctest::Contains("has shape (4,)"),
                         Error);
  }
  // Weights in the same file (no "optim." prefix) are ignored.
  NamedTensors with_weights = good;
  with_weights.emplace_back("0.weight", Tensor::zeros({5}));
  CHECK_NOTHROW(opt.load_state_tensors(with_weights, "f"));
}

TEST_CASE("parameters without gradient are skipped; lr scale 0 freezes") {
  Var a(Tensor::ones({4}), true), b(Tensor::ones({4}), true);
  Adam opt({a, b}, {1.f, 0.f}, AdamOptions{.lr = 0.1});
  a.set_grad(Tensor::full({4}, 0.5f));
  opt.step();  // b has no grad: untouched, its step count stays 0
  CHECK(a.data().data()[0] < 1.f);
  CHECK(b.data().data()[0] == 1.f);
  b.set_grad(Tensor::full({4}, 0.5f));
  opt.step();
  CHECK(b.data().data()[0] == 1.f);  // scale 0
  for (const auto& [n, t] : opt.state_tensors())
    if (n == "optim.0.step")
      CHECK(t.item() == 2.f);
    else if (n == "optim.1.step")
      CHECK(t.item() == 1.f);
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("update loops give the same bits on one thread and many (large tensors)") {
  // 200k elements take the parallel path of kernels::parallel_for.
  Rng rng(3);
  const Tensor init = Tensor::uniform({200000}, rng, -1, 1);
  const Tensor grad = Tensor::normal({200000}, rng);
  for (const std::string name : {"sgd", "adam", "adamw", "adamax"}) {
    CAPTURE(name);
    const json spec = {{"name", name}, {"lr", 0.01}};
    Tensor results[2];
    const int saved_threads = num_threads();
    for (int t = 0; t < 2; ++t) {
      set_num_threads(t == 0 ? 1 : std::max(2, saved_threads));
      Var p(init.clone(), true);
      OptimizerPtr opt = make_optimizer(
          name == "sgd" ? json{{"name", "sgd"}, {"lr", 0.01}, {"momentum", 0.9}} : spec, {p}, {});
      for (int k = 0; k < 3; ++k) p.set_grad(grad.clone()), opt->step();
      results[t] = p.data();
    }
    set_num_threads(saved_threads);
    CHECK(max_abs_diff(results[0], results[1]) == 0.f);
    CHECK(max_abs_diff(results[0], init) > 0.f);
  }
}

TEST_CASE("optimizer config errors name the JSON path and the fix") {
  Var p(Tensor::zeros({2}), true);
  auto make = [&](const json& spec) { return make_optimizer(spec, {p}, {}, "train.optimizer"); };
  CHECK_THROWS_WITH_AS(make({{"name", "adma"}}),
                       doctest::Contains("train.optimizer.name: unknown optimizer \"adma\" (did "
                                         "you mean \"adam\"?); known: adam, adamax, adamw,"),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "adam"}, {"betas1", 0.9}}),
                       doctest::Contains("train.optimizer.betas1: unknown key (did you mean "
                                         "\"beta1\"?); valid keys: beta1, beta2, eps, lr, name"),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "adam"}, {"lr", "0.1"}}),
                       doctest::Contains("train.optimizer.lr: expected a non-negative number, "
                                         "got \"0.1\""),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "adam"}, {"beta2", 1.0}}),
                       doctest::Contains("train.optimizer.beta2: expected a number in [0, "),
                       Error);
  CHECK_THROWS_WITH_AS(make({{"name", "sgd"}}),
                       doctest::Contains("train.optimizer.lr: missing required key"), Error);
  CHECK_THROWS_WITH_AS(make({{"name", "sgd"}, {"lr", 0.1}, {"nesterov", true}}),
                       doctest::Contains("train.optimizer.nesterov: Nesterov momentum requires"),
                       Error);
  CHECK_THROWS_WITH_AS(make(json{{"lr", 0.1}}),
                       doctest::Contains("train.optimizer.name: missing required key"), Error);
  CHECK_THROWS_WITH_AS(
      make(json(3)),
      doctest::Contains("train.optimizer: expected an optimizer name or an object"), Error);
  CHECK_THROWS_WITH_AS(make_optimizer("adam", {p}, {1.f, 2.f}),
                       doctest::Contains("2 lr scales for 1"), Error);
  CHECK_THROWS_WITH_AS(make_optimizer("adam", {p, p}, {}), doctest::Contains("appears twice"),
                       Error);
  CHECK_THROWS_WITH_AS(make_optimizer("adam", {Var(Tensor::zeros({2}))}, {}),
                       doctest::Contains("requires_grad"), Error);
  CHECK_THROWS_AS(SGD({p}, {}, SGDOptions{.lr = -1}), Error);
  CHECK_THROWS_AS(Adam({p}, {}, AdamOptions{.eps = 0}), Error);
  CHECK_THROWS_AS(AdaMax({p}, {}, AdaMaxOptions{.beta1 = 1.0}), Error);
}

TEST_CASE("every registered optimizer round-trips its config") {
  Var p(Tensor::ones({3}), true);
  const auto names = optimizer_names();
  REQUIRE(!names.empty());
  for (const auto& name : names) {
    CAPTURE(name);
    OptimizerPtr a = make_optimizer({{"name", name}, {"lr", 0.125}}, {p}, {});
    CHECK(a->name() == name);
    CHECK(a->lr() == 0.125);
    const json j = optimizer_to_json(*a);
    OptimizerPtr b = make_optimizer(j, {p}, {});
    CHECK(optimizer_to_json(*b) == j);
    // The bare name takes the defaults, or names the option that has none.
    std::string bare = "(no error)";
    try {
      const OptimizerPtr o = make_optimizer(name, {p}, {});
      CHECK(o->name() == name);
    } catch (const Error& e) {
      bare = e.what();
    }
    CHECK((bare == "(no error)" || (bare.starts_with("train.optimizer.") &&
                                    bare.find(": missing required key") != std::string::npos)));
  }
  CHECK(make_optimizer("adamw", {p}, {})->config()["weight_decay"] == 0.01);
}

TEST_CASE("set_lr changes the step size; clip_grad_norm rescales") {
  Var p(Tensor::zeros({2}), true);
  SGD opt({p}, {}, SGDOptions{.lr = 1.0});
  opt.set_lr(0.5);
  CHECK(opt.lr() == 0.5);
  p.set_grad(Tensor::from_vector({2}, {3.f, 4.f}));
  CHECK(clip_grad_norm({p}, 1.0) == doctest::Approx(5.0));
  CHECK(p.grad().data()[0] == doctest::Approx(0.6f).epsilon(1e-5));
  opt.step();
  CHECK(p.data().data()[1] == doctest::Approx(-0.4f).epsilon(1e-5));
  CHECK_THROWS_AS(opt.set_lr(-1), Error);
}
