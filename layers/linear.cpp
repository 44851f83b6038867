#include "layers/linear.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"
#include "layers/init.h"

namespace lowbit {

static const std::vector<std::string> kWeightInits = {"kaiming_uniform", "glorot_uniform"};

LinearOptions LinearOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  LinearOptions o;
  o.in_features = a.positive_int("in_features");
  o.out_features = a.positive_int("out_features");
  o.bias = a.boolean("bias", o.bias);
  o.weight_init = a.choice("weight_init", kWeightInits, o.weight_init);
  a.finish();
  return o;
}

nlohmann::json LinearOptions::to_json() const {
  return {{"in_features", in_features},
          {"out_features", out_features},
          {"bias", bias},
          {"weight_init", weight_init}};
}

Linear::Linear(LinearOptions options, Rng& rng) : options_(std::move(options)) {
  const auto& o = options_;
  LB_CHECK(o.in_features > 0 && o.out_features > 0,
           "Linear: in_features and out_features must be > 0, got ", o.in_features, " and ",
           o.out_features);
  const Shape w_shape{o.out_features, o.in_features};
  if (o.weight_init == "kaiming_uniform") {
    weight_ = register_parameter("weight", kaiming_uniform(w_shape, rng));
    if (o.bias)
      bias_ = register_parameter("bias", fan_in_uniform({o.out_features}, o.in_features, rng));
  } else if (o.weight_init == "glorot_uniform") {
    weight_ = register_parameter("weight", glorot_uniform(w_shape, rng));
    if (o.bias) bias_ = register_parameter("bias", Tensor::zeros({o.out_features}));
  } else {
    LB_FAIL("Linear: unknown weight_init \"", o.weight_init,
            "\"; expected kaiming_uniform or glorot_uniform");
  }
}

Var Linear::forward(const Var& x) {
  LB_CHECK(x.dim() == 2 && x.size(1) == options_.in_features,
           "linear(in_features=", options_.in_features, "): expected input (N, ",
           options_.in_features, "), got ", x.shape(),
           x.dim() > 2 ? "; add a flatten layer before it" : "");
  return linear(x, weight_, bias_);
}

nlohmann::json Linear::config() const { return options_.to_json(); }

ModulePtr Linear::from_json(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  return std::make_shared<Linear>(LinearOptions::from_json(spec, path), rng);
}

}  // namespace lowbit
