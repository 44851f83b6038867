#include "layers/sequential.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "layers/activation.h"
#include "layers/registry.h"

namespace lowbit {

Sequential::Sequential(std::vector<ModulePtr> layers) {
  for (auto& l : layers) push_back(std::move(l));
}

void Sequential::push_back(ModulePtr layer) {
  LB_CHECK(layer != nullptr, "Sequential::push_back: layer ", layers_.size(), " is null");
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

const ModulePtr& Sequential::at(size_t i) const {
  LB_CHECK(i < layers_.size(), "Sequential::at: index ", i, " out of range for ", layers_.size(),
           " layers");
  return layers_[i];
}

Var Sequential::forward(const Var& x) {
  Var h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    // A layer followed by a ReLU may compute both in one op (batch norm + relu: the same
    // values, two passes over the activations fewer).
    if (i + 1 < layers_.size() && dynamic_cast<const ReLU*>(layers_[i + 1].get())) {
      if (Var fused = layers_[i]->forward_relu(h); fused.defined()) {
        h = std::move(fused);
        ++i;
        continue;
      }
    }
    h = layers_[i]->forward(h);
  }
  return h;
}

nlohmann::json Sequential::config() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& layer : layers_) list.push_back(module_to_json(*layer));
  return {{"layers", list}};
}

std::shared_ptr<Sequential> Sequential::from_list(const nlohmann::json& layers, Rng& rng,
                                                  const std::string& path) {
  if (!layers.is_array())
    json_fail(path, "expected a list of layer objects, got " + json_brief(layers));
  // Nested sequential lists recurse here; a limit turns a runaway nesting (a generated or
  // hostile config) into a message instead of a stack overflow.
  thread_local int depth = 0;
  if (depth > kMaxNesting)  // depth 0: model.layers itself
    json_fail(path, "sequential layer lists nested more than " + std::to_string(kMaxNesting) +
                        " deep; flatten the model.layers list");
  struct Enter {
    Enter() { ++depth; }
    ~Enter() { --depth; }
  } enter;
  auto seq = std::make_shared<Sequential>();
  for (size_t i = 0; i < layers.size(); ++i)
    seq->push_back(make_module(layers[i], rng, json_path(path, i)));
  return seq;
}

ModulePtr Sequential::from_json(const nlohmann::json& spec, Rng& rng, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  const nlohmann::json& layers = a.required("layers");
  a.finish();
  return from_list(layers, rng, a.path_of("layers"));
}

}  // namespace lowbit
