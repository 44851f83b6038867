#include "layers/activation.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"

namespace lowbit {

namespace {
void no_options(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  a.finish();
}
}  // namespace

Var ReLU::forward(const Var& x) { return relu(x); }

ModulePtr ReLU::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  no_options(spec, path);
  return std::make_shared<ReLU>();
}

HardtanhOptions HardtanhOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  HardtanhOptions o;
  o.min_val = static_cast<float>(a.number("min_val", o.min_val));
  o.max_val = static_cast<float>(a.number("max_val", o.max_val));
  if (!(o.min_val < o.max_val))
    json_fail(a.path_of("max_val"), "expected max_val > min_val, got min_val " +
                                        std::to_string(o.min_val) + ", max_val " +
                                        std::to_string(o.max_val));
  a.finish();
  return o;
}

nlohmann::json HardtanhOptions::to_json() const {
  return {{"min_val", float_to_json(min_val)}, {"max_val", float_to_json(max_val)}};
}

Hardtanh::Hardtanh(HardtanhOptions options) : options_(options) {
  LB_CHECK(options_.min_val < options_.max_val, "Hardtanh: expected min_val < max_val, got ",
           options_.min_val, " and ", options_.max_val);
}

Var Hardtanh::forward(const Var& x) { return hardtanh(x, options_.min_val, options_.max_val); }

nlohmann::json Hardtanh::config() const { return options_.to_json(); }

ModulePtr Hardtanh::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  return std::make_shared<Hardtanh>(HardtanhOptions::from_json(spec, path));
}

Var Tanh::forward(const Var& x) { return tanh(x); }

ModulePtr Tanh::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  no_options(spec, path);
  return std::make_shared<Tanh>();
}

}  // namespace lowbit
