// End to end: every registered quantizer, used as input and weight quantizer of a small
// MLP, trains on a separable toy problem; and the BNN recipe (binary weights and
// activations, shift-based BN, shift-based AdaMax, squared hinge, Glorot lr scale, latent
// clipping) learns it too.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/registry.h"
#include "optim/registry.h"
#include "quant/registry.h"

using namespace lowbit;
using nlohmann::json;

namespace {

struct Toy {
  Tensor x, labels;
};

/// 256 points in [−1, 1]^16, label = [x·v > 0] for a fixed v.
Toy make_toy() {
  Rng rng(99);
  const int64_t n = 256, d = 16;
  Tensor v = Tensor::uniform({d}, rng, -1, 1);
  Toy t{Tensor::uniform({n, d}, rng, -1, 1), Tensor::empty({n})};
  for (int64_t i = 0; i < n; ++i) {
    float dot = 0;
    for (int64_t j = 0; j < d; ++j) dot += t.x.data()[i * d + j] * v.data()[j];
    t.labels.data()[i] = dot > 0 ? 1.f : 0.f;
  }
  return t;
}

float accuracy(Module& net, const Toy& t) {
  NoGradGuard ng;
  net.eval();
  const Tensor y = net(Var(t.x)).data();
  net.train();
  int correct = 0;
  for (int64_t i = 0; i < y.size(0); ++i) {
    const int pred = y.data()[2 * i + 1] > y.data()[2 * i] ? 1 : 0;
    correct += pred == static_cast<int>(t.labels.data()[i]);
  }
  return static_cast<float>(correct) / static_cast<float>(y.size(0));
}

/// Full-batch training for `steps`; returns the final training accuracy.
float train(const json& layers, const json& optimizer, const std::string& loss, int steps) {
  register_quant_modules();
  Rng rng(5);
  ModulePtr net = make_module(layers, rng, "model.layers");
  OptimizerPtr opt = make_optimizer(optimizer, net->parameters(), net->param_lr_scales());
  const Toy t = make_toy();
  net->train();
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    Var y = (*net)(Var(t.x));
    Var l = loss == "squared_hinge" ? squared_hinge(y, t.labels) : cross_entropy(y, t.labels);
    l.backward();
    opt->step();
    net->apply_after_step();
  }
  return accuracy(*net, t);
}

}  // namespace

TEST_CASE("every quantizer trains a small quantized MLP on a toy problem") {
  for (const std::string& name : quantizer_names()) {
    CAPTURE(name);
    const json layers = json::array({{{"type", "quant_linear"},
                                      {"in_features", 16},
                                      {"out_features", 64},
                                      {"weight_init", "uniform"},
                                      {"weight_quantizer", name},
                                      {"clip_latent", 1.0}},
                                     {{"type", "batch_norm1d"}, {"num_features", 64}},
                                     {{"type", "quant_linear"},
                                      {"in_features", 64},
                                      {"out_features", 2},
                                      {"weight_init", "uniform"},
                                      {"input_quantizer", name},
                                      {"weight_quantizer", name},
                                      {"clip_latent", 1.0}}});
    const float acc = train(layers, {{"name", "adam"}, {"lr", 0.01}}, "cross_entropy", 60);
    MESSAGE(name << ": training accuracy " << acc);
    CHECK(acc > 0.75f);  // chance is 0.5
  }
}

TEST_CASE("BNN recipe: binary MLP with shift-based BN and shift-based AdaMax") {
  auto hidden = [](int64_t in, int64_t out, json input_q) {
    return json{{"type", "quant_linear"},     {"in_features", in},
                {"out_features", out},        {"weight_init", "uniform"},
                {"input_quantizer", input_q}, {"weight_quantizer", "binary_connect"},
                {"clip_latent", 1.0},         {"glorot_lr_scale", true}};
  };
  const json layers = json::array({hidden(16, 96, nullptr),
                                   {{"type", "shift_batch_norm"}, {"num_features", 96}},
                                   hidden(96, 96, "stochastic_sign"),
                                   {{"type", "shift_batch_norm"}, {"num_features", 96}},
                                   hidden(96, 2, "ste_sign"),
                                   {{"type", "shift_batch_norm"}, {"num_features", 2}}});
  const float acc =
      train(layers, {{"name", "shift_adamax"}, {"lr", 0.015625}}, "squared_hinge", 80);
  MESSAGE("BNN recipe: training accuracy " << acc);
  CHECK(acc > 0.9f);
}
