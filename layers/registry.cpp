#include "layers/registry.h"

#include <mutex>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/registry.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "layers/sequential.h"
#include "layers/shift_batch_norm.h"

namespace lowbit {

namespace {
using ModuleRegistry = Registry<ModulePtr(const nlohmann::json&, Rng&, const std::string&)>;

ModuleRegistry& registry() {
  static ModuleRegistry r("layer type");
  return r;
}

std::once_flag g_builtins_once;
}  // namespace

void register_builtin_modules() {
  std::call_once(g_builtins_once, [] {
    ModuleRegistry& r = registry();
    r.add("linear", &Linear::from_json);
    r.add("conv2d", &Conv2d::from_json);
    r.add("batch_norm1d", &BatchNorm1d::from_json);
    r.add("batch_norm2d", &BatchNorm2d::from_json);
    r.add("max_pool2d", &MaxPool2d::from_json);
    r.add("avg_pool2d", &AvgPool2d::from_json);
    r.add("dropout", &Dropout::from_json);
    r.add("relu", &ReLU::from_json);
    r.add("hardtanh", &Hardtanh::from_json);
    r.add("tanh", &Tanh::from_json);
    r.add("flatten", &Flatten::from_json);
    r.add("sequential", &Sequential::from_json);
    r.add("shift_batch_norm", &ShiftBatchNorm::from_json);
  });
}

void register_module_type(const std::string& name, ModuleFactory factory) {
  register_builtin_modules();
  registry().add(name, std::move(factory));
}

std::vector<std::string> module_type_names() {
  register_builtin_modules();
  return registry().names();
}

ModulePtr make_module(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  register_builtin_modules();
  if (spec.is_array()) return Sequential::from_list(spec, rng, path);
  if (!spec.is_object() && !spec.is_string())
    json_fail(path, "expected a layer type, an object {\"type\": ...} or a list of them, got " +
                        json_brief(spec));
  const auto [type, obj] = registry().resolve(spec, path, "type");
  return registry().make(type, obj, rng, path);
}

nlohmann::json module_to_json(const Module& m) {
  nlohmann::json j = {{"type", std::string(m.type())}};
  j.update(m.config());
  return j;
}

}  // namespace lowbit
