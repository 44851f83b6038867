#include "layers/dropout.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"

namespace lowbit {

DropoutOptions DropoutOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  DropoutOptions o;
  // p = 1 would divide by zero in the survivors' scale (PyTorch returns zeros); reject it.
  o.p = static_cast<float>(a.number_in("p", 0.0, 0.999999, o.p));
  a.finish();
  return o;
}

nlohmann::json DropoutOptions::to_json() const { return {{"p", float_to_json(p)}}; }

Dropout::Dropout(DropoutOptions options, Rng& rng) : options_(options), rng_(rng.split()) {
  LB_CHECK(options_.p >= 0.f && options_.p < 1.f, "Dropout: p must be in [0, 1), got ", options_.p);
  register_rng("rng", rng_);
}

Var Dropout::forward(const Var& x) { return dropout(x, options_.p, is_training(), rng_); }

nlohmann::json Dropout::config() const { return options_.to_json(); }

ModulePtr Dropout::from_json(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  return std::make_shared<Dropout>(DropoutOptions::from_json(spec, path), rng);
}

}  // namespace lowbit
