#include "quant/quant_linear.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"
#include "layers/init.h"
#include "quant/internal/layer_common.h"
#include "quant/registry.h"

namespace lowbit {

QuantLinearOptions QuantLinearOptions::from_json(const nlohmann::json& spec,
                                                 const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  QuantLinearOptions o;
  o.in_features = a.positive_int("in_features");
  o.out_features = a.positive_int("out_features");
  o.bias = a.boolean("bias", o.bias);
  o.weight_init = a.choice("weight_init", detail::quant_weight_inits(), o.weight_init);
  o.input_quantizer = detail::read_quantizer(a, "input_quantizer");
  o.weight_quantizer = detail::read_quantizer(a, "weight_quantizer");
  o.clip_latent = detail::read_clip_latent(a);
  o.glorot_lr_scale = a.boolean("glorot_lr_scale", o.glorot_lr_scale);
  a.finish();
  return o;
}

nlohmann::json QuantLinearOptions::to_json() const {
  return {{"in_features", in_features},
          {"out_features", out_features},
          {"bias", bias},
          {"weight_init", weight_init},
          {"input_quantizer", detail::quantizer_or_null(input_quantizer)},
          {"weight_quantizer", detail::quantizer_or_null(weight_quantizer)},
          {"clip_latent", detail::clip_latent_to_json(clip_latent)},
          {"glorot_lr_scale", glorot_lr_scale}};
}

QuantLinear::QuantLinear(QuantLinearOptions options, Rng& rng) : options_(std::move(options)) {
  const auto& o = options_;
  LB_CHECK(o.in_features > 0 && o.out_features > 0,
           "QuantLinear: in_features and out_features must be > 0, got ", o.in_features, " and ",
           o.out_features);
  LB_CHECK(o.clip_latent >= 0, "QuantLinear: clip_latent must be >= 0 (0: none), got ",
           o.clip_latent);
  const Shape w_shape{o.out_features, o.in_features};
  Tensor w, b;
  detail::init_quant_weights(o.weight_init, w_shape, o.in_features, o.bias, rng, w, b);
  const float lr_scale = o.glorot_lr_scale ? glorot_lr_scale(o.in_features, o.out_features) : 1.f;
  weight_ = register_parameter("weight", w, lr_scale);
  if (o.bias) bias_ = register_parameter("bias", b);
  attach_quantizer_state(*this, "input_quantizer", o.input_quantizer, rng);
  attach_quantizer_state(*this, "weight_quantizer", o.weight_quantizer, rng);
}

Var QuantLinear::forward(const Var& x) {
  const auto& o = options_;
  LB_CHECK(x.dim() == 2 && x.size(1) == o.in_features, "quant_linear(in_features=", o.in_features,
           "): expected input (N, ", o.in_features, "), got ", x.shape(),
           x.dim() > 2 ? "; add a flatten layer before it" : "");
  Var xq = x, wq = weight_, scale;
  if (o.input_quantizer) {
    o.input_quantizer->set_training(is_training());
    xq = (*o.input_quantizer)(x);
    scale = o.input_quantizer->output_scale(x, InputWindow{});
  }
  if (o.weight_quantizer) {
    o.weight_quantizer->set_training(is_training());
    wq = (*o.weight_quantizer)(weight_);
  }
  if (!scale.defined()) return linear(xq, wq, bias_);
  Var y = mul(linear(xq, wq), scale);  // (N, out) ⊙ K (N, 1)
  return bias_.defined() ? add(y, bias_) : y;
}

void QuantLinear::after_step() {
  if (options_.clip_latent > 0) detail::clamp_in_place(weight_.data(), options_.clip_latent);
}

nlohmann::json QuantLinear::config() const { return options_.to_json(); }

void QuantLinear::pretty_print(std::ostream& os) const { detail::print_flat(os, type(), config()); }

ModulePtr QuantLinear::from_json(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  return std::make_shared<QuantLinear>(QuantLinearOptions::from_json(spec, path), rng);
}

}  // namespace lowbit
