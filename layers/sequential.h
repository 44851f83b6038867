#pragma once
/// Sequential: applies its children in order; children are named "0", "1", ... so their
/// parameters are "0.weight", "2.bias", ...
///
///   auto net = std::make_shared<Sequential>();
///   net->push_back(std::make_shared<Flatten>());
///   net->push_back(std::make_shared<Linear>(LinearOptions{.in_features = 784, .out_features = 10},
///   rng)); Var logits = (*net)(x);
///
/// JSON: {"type": "sequential", "layers": [{"type": "flatten"}, {"type": "linear", ...}]}
/// or just the list (make_module turns a list into a Sequential).
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "layers/module.h"

namespace lowbit {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> layers);
  /// Appends a layer named std::to_string(size()).
  void push_back(ModulePtr layer);
  size_t size() const { return layers_.size(); }
  /// Layer i (bounds-checked).
  const ModulePtr& at(size_t i) const;
  const std::vector<ModulePtr>& layers() const { return layers_; }

  Var forward(const Var& x) override;
  std::string_view type() const override { return "sequential"; }
  /// {"layers": [module_to_json(layer), ...]}
  nlohmann::json config() const override;
  /// spec: {"type": "sequential", "layers": [...]}; layer i's path is path.layers[i].
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
  /// Sequential lists inside sequential lists deeper than this are an error (the model
  /// builder recurses once per level).
  static constexpr int kMaxNesting = 32;
  /// layers: a JSON list; layer i's path is path[i].
  static std::shared_ptr<Sequential> from_list(const nlohmann::json& layers, Rng& rng,
                                               const std::string& path);

 private:
  std::vector<ModulePtr> layers_;
};

}  // namespace lowbit
