#include "quant/quant_conv2d.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"
#include "layers/init.h"
#include "quant/internal/layer_common.h"
#include "quant/registry.h"

namespace lowbit {

QuantConv2dOptions QuantConv2dOptions::from_json(const nlohmann::json& spec,
                                                 const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  QuantConv2dOptions o;
  o.in_channels = a.positive_int("in_channels");
  o.out_channels = a.positive_int("out_channels");
  o.kernel_size = a.positive_int("kernel_size");
  o.stride = a.positive_int("stride", o.stride);
  o.padding = a.non_negative_int("padding", o.padding);
  o.bias = a.boolean("bias", o.bias);
  o.weight_init = a.choice("weight_init", detail::quant_weight_inits(), o.weight_init);
  o.input_quantizer = detail::read_quantizer(a, "input_quantizer");
  o.weight_quantizer = detail::read_quantizer(a, "weight_quantizer");
  o.clip_latent = detail::read_clip_latent(a);
  o.glorot_lr_scale = a.boolean("glorot_lr_scale", o.glorot_lr_scale);
  a.finish();
  return o;
}

nlohmann::json QuantConv2dOptions::to_json() const {
  return {{"in_channels", in_channels},
          {"out_channels", out_channels},
          {"kernel_size", kernel_size},
          {"stride", stride},
          {"padding", padding},
          {"bias", bias},
          {"weight_init", weight_init},
          {"input_quantizer", detail::quantizer_or_null(input_quantizer)},
          {"weight_quantizer", detail::quantizer_or_null(weight_quantizer)},
          {"clip_latent", detail::clip_latent_to_json(clip_latent)},
          {"glorot_lr_scale", glorot_lr_scale}};
}

QuantConv2d::QuantConv2d(QuantConv2dOptions options, Rng& rng) : options_(std::move(options)) {
  const auto& o = options_;
  LB_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel_size > 0 && o.stride > 0 &&
               o.padding >= 0,
           "QuantConv2d: expected positive in_channels, out_channels, kernel_size, stride and "
           "padding >= 0, got ",
           o.in_channels, ", ", o.out_channels, ", ", o.kernel_size, ", ", o.stride, ", ",
           o.padding);
  LB_CHECK(o.clip_latent >= 0, "QuantConv2d: clip_latent must be >= 0 (0: none), got ",
           o.clip_latent);
  const Shape w_shape{o.out_channels, o.in_channels, o.kernel_size, o.kernel_size};
  const int64_t k2 = o.kernel_size * o.kernel_size;
  Tensor w, b;
  detail::init_quant_weights(o.weight_init, w_shape, o.in_channels * k2, o.bias, rng, w, b);
  const float lr_scale =
      o.glorot_lr_scale ? glorot_lr_scale(o.in_channels * k2, o.out_channels * k2) : 1.f;
  weight_ = register_parameter("weight", w, lr_scale);
  if (o.bias) bias_ = register_parameter("bias", b);
  attach_quantizer_state(*this, "input_quantizer", o.input_quantizer, rng);
  attach_quantizer_state(*this, "weight_quantizer", o.weight_quantizer, rng);
}

Var QuantConv2d::forward(const Var& x) {
  const auto& o = options_;
  LB_CHECK(x.dim() == 4 && x.size(1) == o.in_channels, "quant_conv2d(in_channels=", o.in_channels,
           "): expected input (N, ", o.in_channels, ", H, W), got ", x.shape());
  LB_CHECK(x.size(2) + 2 * o.padding >= o.kernel_size && x.size(3) + 2 * o.padding >= o.kernel_size,
           "quant_conv2d(kernel_size=", o.kernel_size, ", padding=", o.padding, "): input ",
           x.shape(), " is smaller than the kernel");
  const Conv2dArgs args{.stride = o.stride, .padding = o.padding};
  Var xq = x, wq = weight_, scale;
  if (o.input_quantizer) {
    o.input_quantizer->set_training(is_training());
    xq = (*o.input_quantizer)(x);
    scale = o.input_quantizer->output_scale(
        x, InputWindow{.kernel_h = o.kernel_size, .kernel_w = o.kernel_size, .conv = args});
  }
  if (o.weight_quantizer) {
    o.weight_quantizer->set_training(is_training());
    wq = (*o.weight_quantizer)(weight_);
  }
  if (!scale.defined()) return conv2d(xq, wq, bias_, args);
  Var y = mul(conv2d(xq, wq, Var(), args), scale);  // (N, OC, OH, OW) ⊙ K (N, 1, OH, OW)
  return bias_.defined() ? add(y, reshape(bias_, {1, o.out_channels, 1, 1})) : y;
}

void QuantConv2d::after_step() {
  if (options_.clip_latent > 0) detail::clamp_in_place(weight_.data(), options_.clip_latent);
}

nlohmann::json QuantConv2d::config() const { return options_.to_json(); }

void QuantConv2d::pretty_print(std::ostream& os) const { detail::print_flat(os, type(), config()); }

ModulePtr QuantConv2d::from_json(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  return std::make_shared<QuantConv2d>(QuantConv2dOptions::from_json(spec, path), rng);
}

}  // namespace lowbit
