#include "quant/quant_linear.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"

namespace lowbit {

QuantLinearOptions QuantLinearOptions::from_json(const nlohmann::json& spec,
                                                 const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  QuantLinearOptions o;
  o.in_features = a.positive_int("in_features");
  o.out_features = a.positive_int("out_features");
  o.read_json(a);
  a.finish();
  return o;
}

nlohmann::json QuantLinearOptions::to_json() const {
  nlohmann::json j = {{"in_features", in_features}, {"out_features", out_features}};
  write_json(j);
  return j;
}

QuantLinear::QuantLinear(QuantLinearOptions options, Rng& rng) : options_(std::move(options)) {
  const auto& o = options_;
  LB_CHECK(o.in_features > 0 && o.out_features > 0,
           "QuantLinear: in_features and out_features must be > 0, got ", o.in_features, " and ",
           o.out_features);
  init_weights("QuantLinear", {o.out_features, o.in_features}, o.in_features, o.out_features,
               rng);
}

Var QuantLinear::forward(const Var& x) {
  const auto& o = options_;
  LB_CHECK(x.dim() == 2 && x.size(1) == o.in_features, "quant_linear(in_features=", o.in_features,
           "): expected input (N, ", o.in_features, "), got ", x.shape(),
           x.dim() > 2 ? "; add a flatten layer before it" : "");
  const auto [xq, wq, scale] = quantize_operands(x, InputWindow{});
  if (!scale.defined()) return linear(xq, wq, bias());
  Var y = mul(linear(xq, wq), scale);  // (N, out) ⊙ K (N, 1)
  return bias().defined() ? add(y, bias()) : y;
}

nlohmann::json QuantLinear::config() const { return options_.to_json(); }

ModulePtr QuantLinear::from_json(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  return std::make_shared<QuantLinear>(QuantLinearOptions::from_json(spec, path), rng);
}

}  // namespace lowbit
