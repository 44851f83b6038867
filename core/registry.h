#pragma once
/// Registry: name -> factory, for everything a config can name (layers, quantizers,
/// optimizers, schedules, datasets).
///
///   Registry<std::shared_ptr<Module>(const nlohmann::json&)> modules("layer");
///   modules.add("linear", &Linear::from_json);
///   auto m = modules.make("linear", spec);   // unknown name -> Error listing known ones
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/check.h"

namespace lowbit {

template <class Signature>
class Registry;

template <class R, class... Args>
class Registry<R(Args...)> {
 public:
  using Factory = std::function<R(Args...)>;

  /// `kind` names what is registered, for error messages ("quantizer", "layer type").
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  /// Throws on a duplicate name.
  void add(const std::string& name, Factory factory) {
    LB_CHECK(!factories_.count(name), kind_, " \"", name, "\" is already registered");
    factories_.emplace(name, std::move(factory));
  }
  bool contains(const std::string& name) const { return factories_.count(name) > 0; }

  R make(const std::string& name, Args... args) const {
    auto it = factories_.find(name);
    LB_CHECK(it != factories_.end(), "unknown ", kind_, " \"", name, "\"; known: ", known());
    return it->second(std::forward<Args>(args)...);
  }

  /// Sorted names.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, _] : factories_) out.push_back(name);
    return out;
  }
  /// "a, b, c" — for error messages.
  std::string known() const {
    std::string s;
    for (const auto& [name, _] : factories_) s += (s.empty() ? "" : ", ") + name;
    return s;
  }

 private:
  std::string kind_;
  std::map<std::string, Factory> factories_;
};

}  // namespace lowbit
