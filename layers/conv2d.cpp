#include "layers/conv2d.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"
#include "layers/init.h"

namespace lowbit {

Conv2dOptions Conv2dOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  Conv2dOptions o;
  o.in_channels = a.positive_int("in_channels");
  o.out_channels = a.positive_int("out_channels");
  o.kernel_size = a.positive_int("kernel_size");
  o.stride = a.positive_int("stride", o.stride);
  o.padding = a.non_negative_int("padding", o.padding);
  o.bias = a.boolean("bias", o.bias);
  o.weight_init = a.choice("weight_init", {"kaiming_uniform", "glorot_uniform"}, o.weight_init);
  a.finish();
  return o;
}

nlohmann::json Conv2dOptions::to_json() const {
  return {{"in_channels", in_channels}, {"out_channels", out_channels},
          {"kernel_size", kernel_size}, {"stride", stride},
          {"padding", padding},         {"bias", bias},
          {"weight_init", weight_init}};
}

Conv2d::Conv2d(Conv2dOptions options, Rng& rng) : options_(std::move(options)) {
  const auto& o = options_;
  detail::check_conv2d_options("Conv2d", o);
  const Shape w_shape{o.out_channels, o.in_channels, o.kernel_size, o.kernel_size};
  const int64_t fan_in = o.in_channels * o.kernel_size * o.kernel_size;
  if (o.weight_init == "kaiming_uniform") {
    weight_ = register_parameter("weight", kaiming_uniform(w_shape, rng));
    if (o.bias) bias_ = register_parameter("bias", fan_in_uniform({o.out_channels}, fan_in, rng));
  } else if (o.weight_init == "glorot_uniform") {
    weight_ = register_parameter("weight", glorot_uniform(w_shape, rng));
    if (o.bias) bias_ = register_parameter("bias", Tensor::zeros({o.out_channels}));
  } else {
    LB_FAIL("Conv2d: unknown weight_init \"", o.weight_init,
            "\"; expected kaiming_uniform or glorot_uniform");
  }
}

Var Conv2d::forward(const Var& x) {
  const auto& o = options_;
  detail::check_conv2d_input(type(), x, o);
  return conv2d(x, weight_, bias_, {.stride = o.stride, .padding = o.padding});
}

nlohmann::json Conv2d::config() const { return options_.to_json(); }

ModulePtr Conv2d::from_json(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  return std::make_shared<Conv2d>(Conv2dOptions::from_json(spec, path), rng);
}

}  // namespace lowbit
