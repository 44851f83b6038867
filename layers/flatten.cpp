#include "layers/flatten.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"

namespace lowbit {

Var Flatten::forward(const Var& x) {
  LB_CHECK(x.dim() >= 1, "flatten: expected an input with a batch dimension, got ", x.shape());
  return x.dim() == 2 ? x : flatten(x);
}

ModulePtr Flatten::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  a.finish();
  return std::make_shared<Flatten>();
}

}  // namespace lowbit
