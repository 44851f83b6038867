// QuantLinear and QuantConv2d: construction from JSON, config round trip, forward against
// the composition of the quantizer functions, latent clipping after a step, Glorot lr scale,
// quantizer parameters and generators in the module tree.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/registry.h"
#include "layers/sequential.h"
#include "quant/functions.h"
#include "quant/quant_conv2d.h"
#include "quant/quant_linear.h"
#include "quant/registry.h"

using namespace lowbit;
using nlohmann::json;

namespace {

ModulePtr build(const json& spec, uint64_t seed = 1) {
  register_quant_modules();
  Rng rng(seed);
  return make_module(spec, rng, "model");
}

bool same(const Tensor& a, const Tensor& b) { return allclose(a, b, 1e-5f, 1e-6f); }

}  // namespace

TEST_CASE("quant_linear from JSON: forward is linear(iq(x), wq(W), b)") {
  ModulePtr net = build(json::array({{{"type", "quant_linear"},
                                      {"in_features", 6},
                                      {"out_features", 3},
                                      {"input_quantizer", "ste_sign"},
                                      {"weight_quantizer", "bwn"}}}));
  auto& layer = dynamic_cast<QuantLinear&>(*net->children()[0].second);
  CHECK(layer.input_quantizer()->name() == "ste_sign");
  CHECK(layer.weight_quantizer()->name() == "bwn");
  Rng rng(2);
  Var x(Tensor::uniform({4, 6}, rng, -2, 2));
  Var y = (*net)(x);
  Var want = linear(ste_sign(x), bwn(layer.weight()), layer.bias());
  CHECK(same(y.data(), want.data()));
  // Gradients reach the latent weights.
  sum(y).backward();
  CHECK(layer.weight().grad().defined());
  // Parameter names: no quantizer state for stateless quantizers.
  auto named = net->named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].name == "0.weight");
  CHECK(named[1].name == "0.bias");
}

TEST_CASE("quant_linear config round-trips through make_module") {
  const json spec = {
      {"type", "quant_linear"},    {"in_features", 5},
      {"out_features", 2},         {"bias", false},
      {"weight_init", "uniform"},  {"input_quantizer", {{"name", "dorefa"}, {"bits", 3}}},
      {"weight_quantizer", "ttq"}, {"clip_latent", 1.0},
      {"glorot_lr_scale", true}};
  ModulePtr m = build(spec);
  const json back = module_to_json(*m);
  CHECK(back["input_quantizer"] == json{{"name", "dorefa"}, {"bits", 3}});
  CHECK(back["weight_quantizer"]["name"] == "ttq");
  CHECK(back["clip_latent"] == 1.0);
  ModulePtr again = build(back);
  CHECK(module_to_json(*again) == back);
  // Full precision quantizers are null in the config.
  ModulePtr fp = build({{"type", "quant_linear"}, {"in_features", 2}, {"out_features", 2}});
  CHECK(module_to_json(*fp)["input_quantizer"].is_null());
  CHECK(module_to_json(*fp)["clip_latent"].is_null());
  std::ostringstream os;
  os << *m;
  CHECK(os.str().find("quant_linear(") == 0);
  CHECK(os.str().find("\n") == std::string::npos);  // one line, no quantizer-state children
}

TEST_CASE("uniform init, latent clipping after_step and the Glorot lr scale") {
  ModulePtr net = build(json::array({{{"type", "quant_linear"},
                                      {"in_features", 30},
                                      {"out_features", 10},
                                      {"weight_init", "uniform"},
                                      {"weight_quantizer", "binary_connect"},
                                      {"clip_latent", 1.0},
                                      {"glorot_lr_scale", true}}}));
  auto& layer = dynamic_cast<QuantLinear&>(*net->children()[0].second);
  float lo = 1, hi = -1;
  for (float v : layer.weight().data().to_vector()) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  CHECK(lo >= -1.f);
  CHECK(hi <= 1.f);
  CHECK(lo < -0.8f);  // U(−1, 1), not a fan-scaled init
  CHECK(hi > 0.8f);
  // Optimizer steps push latents outside; after_step clips them back to [−1, 1].
  float* w = layer.weight().data().data();
  w[0] = 3.f;
  w[1] = -2.5f;
  w[2] = 0.25f;
  net->apply_after_step();
  CHECK(w[0] == 1.f);
  CHECK(w[1] == -1.f);
  CHECK(w[2] == 0.25f);
  // lr scale 1/√(1.5/(30 + 10)) on the weight only.
  auto scales = net->param_lr_scales();
  REQUIRE(scales.size() == 2);
  CHECK(scales[0] == doctest::Approx(1.0 / std::sqrt(1.5 / 40.0)));
  CHECK(scales[1] == 1.f);
  // Without clip_latent nothing is clipped.
  ModulePtr free = build({{"type", "quant_linear"}, {"in_features", 2}, {"out_features", 1}});
  auto& fl = dynamic_cast<QuantLinear&>(*free);
  fl.weight().data().data()[0] = 5.f;
  free->apply_after_step();
  CHECK(fl.weight().data().data()[0] == 5.f);
}

TEST_CASE("TTQ scales are parameters of the layer, updated through its name") {
  ModulePtr net = build(json::array({{{"type", "flatten"}},
                                     {{"type", "quant_linear"},
                                      {"in_features", 8},
                                      {"out_features", 4},
                                      {"weight_quantizer", {{"name", "ttq"}, {"init_wp", 0.5}}}}}));
  auto named = net->named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[2].name == "1.weight_quantizer.wp");
  CHECK(named[3].name == "1.weight_quantizer.wn");
  CHECK(named[2].var.data().item() == 0.5f);
  // The registered handles are the ones the quantizer reads: a write through the module
  // changes the forward, and backward fills the registered Var's grad.
  Rng rng(4);
  Var x(Tensor::uniform({3, 8}, rng, -1, 1));
  Var y1 = (*net)(x);
  named[2].var.data().data()[0] = 2.f;
  Var y2 = (*net)(x);
  CHECK_FALSE(same(y1.data(), y2.data()));
  sum(y2).backward();
  CHECK(named[2].var.grad().defined());
  CHECK(named[3].var.grad().defined());
}

TEST_CASE("TTQ layer: dL/dWp and dL/dWn match finite differences of a training loss") {
  ModulePtr net = build(json::array({{{"type", "quant_linear"},
                                      {"in_features", 6},
                                      {"out_features", 3},
                                      {"weight_quantizer", "ttq"}}}),
                        7);
  Rng rng(8);
  Var x(Tensor::uniform({5, 6}, rng, -1, 1));
  const Tensor labels = Tensor::from_vector({5}, {0, 1, 2, 1, 0});
  auto named = net->named_parameters();
  net->train();
  Var loss = cross_entropy((*net)(x), labels);
  loss.backward();
  for (size_t k : {size_t(2), size_t(3)}) {  // wp, wn
    CAPTURE(named[k].name);
    const double analytic = named[k].var.grad().item();
    float* p = named[k].var.data().data();
    const float p0 = *p;
    auto eval = [&](float v) {
      *p = v;
      NoGradGuard ng;
      return static_cast<double>(cross_entropy((*net)(x), labels).data().item());
    };
    const double numeric = (eval(p0 + 1e-2f) - eval(p0 - 1e-2f)) / 2e-2;
    *p = p0;
    CHECK(analytic == doctest::Approx(numeric).epsilon(2e-2));
  }
}

TEST_CASE("stochastic quantizer generators are registered and reseeded per layer") {
  const json layer = {{"type", "quant_linear"},
                      {"in_features", 4},
                      {"out_features", 4},
                      {"input_quantizer", "stochastic_sign"}};
  ModulePtr net = build(json::array({layer, layer}), 3);
  auto rngs = net->named_rngs();
  REQUIRE(rngs.size() == 2);
  CHECK(rngs[0].first == "0.input_quantizer.rng");
  CHECK(rngs[1].first == "1.input_quantizer.rng");
  CHECK(rngs[0].second->state() != rngs[1].second->state());
  // Same seed, same model, same draws.
  ModulePtr twin = build(json::array({layer, layer}), 3);
  Var x(Tensor::full({2, 4}, 0.1f));
  CHECK((*net)(x).data().to_vector() == (*twin)(x).data().to_vector());
  // eval() makes the quantizer deterministic.
  net->eval();
  CHECK((*net)(x).data().to_vector() == (*net)(x).data().to_vector());
}

TEST_CASE("quant_conv2d: forward is conv2d(iq(x), wq(W)) (+ XNOR K scaling)") {
  ModulePtr m = build({{"type", "quant_conv2d"},
                       {"in_channels", 2},
                       {"out_channels", 3},
                       {"kernel_size", 3},
                       {"padding", 1},
                       {"input_quantizer", "xnor_sign"},
                       {"weight_quantizer", "bwn"},
                       {"clip_latent", 1.0}});
  auto& conv = dynamic_cast<QuantConv2d&>(*m);
  Rng rng(5);
  Var x(Tensor::uniform({2, 2, 5, 5}, rng, -2, 2));
  const Conv2dArgs args{.stride = 1, .padding = 1};
  CHECK(same((*m)(x).data(), conv2d(ste_sign(x), bwn(conv.weight()), conv.bias(), args).data()));
  CHECK(module_to_json(*build(module_to_json(*m))) == module_to_json(*m));

  ModulePtr mk = build({{"type", "quant_conv2d"},
                        {"in_channels", 2},
                        {"out_channels", 3},
                        {"kernel_size", 3},
                        {"stride", 2},
                        {"padding", 1},
                        {"input_quantizer", {{"name", "xnor_sign"}, {"k_scaling", true}}},
                        {"weight_quantizer", "bwn"}});
  auto& ck = dynamic_cast<QuantConv2d&>(*mk);
  const Conv2dArgs args2{.stride = 2, .padding = 1};
  Var k = xnor_input_scale(x, InputWindow{.kernel_h = 3, .kernel_w = 3, .conv = args2});
  Var want = add(mul(conv2d(ste_sign(x), bwn(ck.weight()), Var(), args2), k),
                 reshape(ck.bias(), {1, 3, 1, 1}));
  Var got = (*mk)(x);
  CHECK(got.shape() == Shape{2, 3, 3, 3});
  CHECK(same(got.data(), want.data()));
}

TEST_CASE("quant_linear with K scaling multiplies by the mean |x| per sample") {
  ModulePtr m = build({{"type", "quant_linear"},
                       {"in_features", 3},
                       {"out_features", 2},
                       {"input_quantizer", {{"name", "xnor_sign"}, {"k_scaling", true}}}});
  auto& l = dynamic_cast<QuantLinear&>(*m);
  Var x(Tensor::from_vector({2, 3}, {1, -2, 3, 0.5f, 0.5f, -0.5f}));
  Var base = linear(ste_sign(x), l.weight());
  const std::vector<float> b = base.data().to_vector(), bias = l.bias().data().to_vector();
  const std::vector<float> y = (*m)(x).data().to_vector();
  CHECK(y[0] == doctest::Approx(b[0] * 2.f + bias[0]));
  CHECK(y[3] == doctest::Approx(b[3] * 0.5f + bias[1]));
}

TEST_CASE("bad layer specs name the JSON path") {
  register_quant_modules();
  Rng rng(1);
  auto err = [&](const json& spec) {
    try {
      make_module(spec, rng, "model.layers");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string e = err(json::array({{{"type", "quant_linear"},
                                    {"in_features", 2},
                                    {"out_features", 2},
                                    {"weight_quantizer", "twm"}}}));
  CHECK(e.find("model.layers[0].weight_quantizer: unknown quantizer \"twm\"") != std::string::npos);
  e = err(json::array({{{"type", "quant_conv2d"},
                        {"in_channels", 1},
                        {"out_channels", 1},
                        {"kernel_size", 3},
                        {"input_quantizer", {{"name", "dorefa"}, {"bits", 99}}}}}));
  CHECK(e.find("model.layers[0].input_quantizer.bits") != std::string::npos);
  e = err(json::array({{{"type", "quant_linear"},
                        {"in_features", 2},
                        {"out_features", 2},
                        {"kernel_quantizer", "ste_sign"}}}));
  CHECK(e.find("kernel_quantizer") != std::string::npos);
  e = err(json::array(
      {{{"type", "quant_linear"}, {"in_features", 2}, {"out_features", 2}, {"clip_latent", -1}}}));
  CHECK(e.find("model.layers[0].clip_latent") != std::string::npos);
  ModulePtr m = build({{"type", "quant_linear"}, {"in_features", 3}, {"out_features", 2}});
  CHECK_THROWS_AS((*m)(Var(Tensor::zeros({2, 4}))), Error);
}
