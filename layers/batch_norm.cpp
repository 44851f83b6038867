#include "layers/batch_norm.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"

namespace lowbit {

BatchNormOptions BatchNormOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  BatchNormOptions o;
  o.num_features = a.positive_int("num_features");
  o.eps = static_cast<float>(a.positive("eps", o.eps));
  o.momentum = static_cast<float>(a.number_in("momentum", 0.0, 1.0, o.momentum));
  o.affine = a.boolean("affine", o.affine);
  a.finish();
  return o;
}

nlohmann::json BatchNormOptions::to_json() const {
  return {{"num_features", num_features},
          {"eps", float_to_json(eps)},
          {"momentum", float_to_json(momentum)},
          {"affine", affine}};
}

BatchNormLayer::BatchNormLayer(BatchNormOptions options, std::string_view layer)
    : options_(std::move(options)) {
  const auto& o = options_;
  LB_CHECK(o.num_features > 0, layer, ": num_features must be > 0, got ", o.num_features);
  LB_CHECK(o.eps > 0 && std::isfinite(o.eps), layer, ": eps must be > 0, got ", o.eps);
  LB_CHECK(o.momentum >= 0 && o.momentum <= 1, layer, ": momentum must be in [0, 1], got ",
           o.momentum);
  if (o.affine) {
    weight_ = register_parameter("weight", Tensor::ones({o.num_features}));
    bias_ = register_parameter("bias", Tensor::zeros({o.num_features}));
  }
  running_mean_ = register_buffer("running_mean", Tensor::zeros({o.num_features}));
  running_var_ = register_buffer("running_var", Tensor::ones({o.num_features}));
}

void BatchNormLayer::check_batch_statistics(const Var& x) const {
  LB_CHECK(!is_training() || x.numel() / options_.num_features > 1, type(),
           ": training mode needs more than one value per channel, got input ", x.shape(),
           " (use a batch size > 1 or call eval())");
}

BatchNormArgs BatchNormLayer::op_args() const {
  return {.training = is_training(), .momentum = options_.momentum, .eps = options_.eps};
}

nlohmann::json BatchNormLayer::config() const { return options_.to_json(); }

BatchNorm::BatchNorm(BatchNormOptions options, int64_t input_dim)
    : BatchNormLayer(std::move(options), "BatchNorm"), input_dim_(input_dim) {}

Var BatchNorm::forward(const Var& x) { return forward_impl(x, false); }

Var BatchNorm::forward_relu(const Var& x) { return forward_impl(x, true); }

Var BatchNorm::forward_impl(const Var& x, bool relu) {
  const int64_t c = options().num_features;
  LB_CHECK(x.dim() == input_dim_ && x.size(1) == c, type(), "(num_features=", c,
           "): expected input ", input_dim_ == 2 ? "(N, " : "(N, ", c,
           input_dim_ == 2 ? ")" : ", H, W)", ", got ", x.shape(),
           input_dim_ == 2 && x.dim() == 4 ? "; use batch_norm2d after a convolution" : "",
           input_dim_ == 4 && x.dim() == 2 ? "; use batch_norm1d after a linear layer" : "");
  check_batch_statistics(x);
  BatchNormArgs args = op_args();
  args.relu = relu;
  return batch_norm(x, weight(), bias(), running_mean(), running_var(), args);
}

ModulePtr BatchNorm1d::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  return std::make_shared<BatchNorm1d>(BatchNormOptions::from_json(spec, path));
}

ModulePtr BatchNorm2d::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  return std::make_shared<BatchNorm2d>(BatchNormOptions::from_json(spec, path));
}

}  // namespace lowbit
