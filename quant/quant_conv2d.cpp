#include "quant/quant_conv2d.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"
#include "layers/conv2d.h"

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
  o.read_json(a);
  a.finish();
  return o;
}

nlohmann::json QuantConv2dOptions::to_json() const {
  nlohmann::json j = {{"in_channels", in_channels}, {"out_channels", out_channels},
                      {"kernel_size", kernel_size}, {"stride", stride},
                      {"padding", padding}};
  write_json(j);
  return j;
}

QuantConv2d::QuantConv2d(QuantConv2dOptions options, Rng& rng) : options_(std::move(options)) {
  const auto& o = options_;
  detail::check_conv2d_options("QuantConv2d", o);
  const int64_t k2 = o.kernel_size * o.kernel_size;
  init_weights("QuantConv2d", {o.out_channels, o.in_channels, o.kernel_size, o.kernel_size},
               o.in_channels * k2, o.out_channels * k2, rng);
}

Var QuantConv2d::forward(const Var& x) {
  const auto& o = options_;
  detail::check_conv2d_input(type(), x, o);
  const Conv2dArgs args{.stride = o.stride, .padding = o.padding};
  const auto [xq, wq, scale] = quantize_operands(
      x, InputWindow{.kernel_h = o.kernel_size, .kernel_w = o.kernel_size, .conv = args});
  if (!scale.defined()) return conv2d(xq, wq, bias(), args);
  Var y = mul(conv2d(xq, wq, Var(), args), scale);  // (N, OC, OH, OW) ⊙ K (N, 1, OH, OW)
  return bias().defined() ? add(y, reshape(bias(), {1, o.out_channels, 1, 1})) : y;
}

nlohmann::json QuantConv2d::config() const { return options_.to_json(); }

ModulePtr QuantConv2d::from_json(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  return std::make_shared<QuantConv2d>(QuantConv2dOptions::from_json(spec, path), rng);
}

}  // namespace lowbit
