#include "quant/quant_layer.h"

#include <nlohmann/json.hpp>
#include <ostream>

#include "core/check.h"
#include "core/collective.h"
#include "core/json_args.h"
#include "core/parallel.h"
#include "layers/init.h"
#include "quant/internal/layer_common.h"
#include "quant/registry.h"

namespace lowbit {

namespace {

/// Holds a quantizer's parameters and generator so that they get dotted names, reach the
/// optimizer and the checkpoint, and follow the owner's train()/eval(). Not a layer of its
/// own: it has no registry type and its forward is never called.
class QuantizerState final : public Module {
 public:
  QuantizerState(QuantizerPtr q, Rng& rng) : q_(std::move(q)) {
    for (auto& [name, var] : q_->parameters()) *var = register_parameter(name, var->data());
    if (Rng* r = q_->rng()) {
      r->seed_with(rng.next_u64());
      register_rng("rng", *r);
    }
  }
  Var forward(const Var&) override {
    LB_FAIL("quantizer_state: holds the state of quantizer \"", q_->name(),
            "\" for its layer; it is not a layer");
  }
  std::string_view type() const override { return "quantizer_state"; }
  nlohmann::json config() const override { return quantizer_to_json(*q_); }

 private:
  QuantizerPtr q_;
};

}  // namespace

void attach_quantizer_state(Module& owner, const std::string& name, const QuantizerPtr& q,
                            Rng& rng) {
  if (!q || (q->parameters().empty() && q->rng() == nullptr)) return;
  owner.register_module(name, std::make_shared<QuantizerState>(q, rng));
}

// ---- QuantLayerOptions

void QuantLayerOptions::read_json(JsonArgs& a) {
  bias = a.boolean("bias", bias);
  weight_init = a.choice("weight_init", detail::quant_weight_inits(), weight_init);
  input_quantizer = detail::read_quantizer(a, "input_quantizer");
  weight_quantizer = detail::read_quantizer(a, "weight_quantizer");
  clip_latent = detail::read_clip_latent(a);
  glorot_lr_scale = a.boolean("glorot_lr_scale", glorot_lr_scale);
}

void QuantLayerOptions::write_json(nlohmann::json& j) const {
  j["bias"] = bias;
  j["weight_init"] = weight_init;
  j["input_quantizer"] = detail::quantizer_or_null(input_quantizer);
  j["weight_quantizer"] = detail::quantizer_or_null(weight_quantizer);
  j["clip_latent"] = detail::clip_latent_to_json(clip_latent);
  j["glorot_lr_scale"] = glorot_lr_scale;
}

// ---- LatentQuantLayer

void LatentQuantLayer::init_weights(std::string_view layer, const Shape& w_shape,
                                    int64_t fan_in, int64_t fan_out, Rng& rng) {
  const QuantLayerOptions& o = quant_options();
  LB_CHECK(o.clip_latent >= 0, layer, ": clip_latent must be >= 0 (0: none), got ",
           o.clip_latent);
  Tensor w, b;
  detail::init_quant_weights(o.weight_init, w_shape, fan_in, o.bias, rng, w, b);
  const float lr_scale = o.glorot_lr_scale ? glorot_lr_scale(fan_in, fan_out) : 1.f;
  weight_ = register_parameter("weight", w, lr_scale);
  if (o.bias) bias_ = register_parameter("bias", b);
  attach_quantizer_state(*this, "input_quantizer", o.input_quantizer, rng);
  attach_quantizer_state(*this, "weight_quantizer", o.weight_quantizer, rng);
}

LatentQuantLayer::QuantizedOperands LatentQuantLayer::quantize_operands(
    const Var& x, const InputWindow& window) const {
  const QuantLayerOptions& o = quant_options();
  QuantizedOperands q{.input = x, .weight = weight_, .input_scale = Var()};
  if (o.input_quantizer) {
    o.input_quantizer->set_training(is_training());
    q.input = (*o.input_quantizer)(x);
    q.input_scale = o.input_quantizer->output_scale(x, window);
  }
  if (o.weight_quantizer) {
    o.weight_quantizer->set_training(is_training());
    // The weights are the same in every process: a stochastic weight quantizer draws the
    // same numbers everywhere, never keyed by the batch shard.
    NotBatchMajorScope weights_are_not_a_batch;
    q.weight = (*o.weight_quantizer)(weight_);
  }
  return q;
}

void LatentQuantLayer::after_step() {
  const float clip = quant_options().clip_latent;
  if (clip > 0) detail::clamp_in_place(weight_.data(), clip);
}

void LatentQuantLayer::pretty_print(std::ostream& os) const {
  detail::print_flat(os, type(), config());
}

}  // namespace lowbit

// ---- shared by QuantLinear and QuantConv2d (quant/internal/layer_common.h)

namespace lowbit::detail {

const std::vector<std::string>& quant_weight_inits() {
  static const std::vector<std::string> kInits = {"kaiming_uniform", "glorot_uniform", "uniform"};
  return kInits;
}

void init_quant_weights(const std::string& init, const Shape& w_shape, int64_t fan_in, bool bias,
                        Rng& rng, Tensor& weight, Tensor& bias_out) {
  const Shape b_shape{w_shape[0]};
  if (init == "kaiming_uniform") {
    weight = kaiming_uniform(w_shape, rng);
    if (bias) bias_out = fan_in_uniform(b_shape, fan_in, rng);
  } else if (init == "glorot_uniform") {
    weight = glorot_uniform(w_shape, rng);
    if (bias) bias_out = Tensor::zeros(b_shape);
  } else if (init == "uniform") {
    weight = uniform(w_shape, rng, -1.f, 1.f);
    if (bias) bias_out = Tensor::zeros(b_shape);
  } else {
    LB_FAIL("quantized layer: unknown weight_init \"", init,
            "\"; expected kaiming_uniform, glorot_uniform or uniform");
  }
}

float read_clip_latent(JsonArgs& a) {
  const nlohmann::json* v = a.get("clip_latent");
  if (!v || v->is_null()) return 0.f;
  return static_cast<float>(a.positive("clip_latent"));
}

nlohmann::json clip_latent_to_json(float clip) {
  if (clip > 0) return float_to_json(clip);
  return nullptr;
}

QuantizerPtr read_quantizer(JsonArgs& a, std::string_view key) {
  const nlohmann::json* v = a.get(key);
  if (!v) return nullptr;
  return make_quantizer(*v, a.path_of(key));
}

nlohmann::json quantizer_or_null(const QuantizerPtr& q) {
  if (!q) return nullptr;
  return quantizer_to_json(*q);
}

void clamp_in_place(const Tensor& w, float c) {
  float* p = w.data();
  kernels::parallel_for(w.numel(), [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) p[i] = p[i] < -c ? -c : (p[i] > c ? c : p[i]);
  });
}

void print_flat(std::ostream& os, std::string_view type, const nlohmann::json& config) {
  os << type << "(";
  bool first = true;
  for (auto it = config.begin(); it != config.end(); ++it) {
    os << (first ? "" : ", ") << it.key() << "=" << it.value().dump();
    first = false;
  }
  os << ")";
}

}  // namespace lowbit::detail
