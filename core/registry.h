#pragma once
/// Registry: name -> factory, for everything a config can name (layers, quantizers,
/// optimizers, schedules, data sets, transforms, losses), and the one spec resolver they
/// share.
///
///   Registry<std::shared_ptr<Module>(const nlohmann::json&)> modules("layer type");
///   modules.add("linear", &Linear::from_json);
///   auto [name, obj] = modules.resolve(spec, "model.layers[3]", "type");
///   auto m = modules.make(name, obj);
///
/// A spec names one registered thing: a bare name ("adam", default options) or an object
/// {"<key>": "adam", ...options}, where <key> is "name" ("type" for layers and transforms,
/// as configs have always spelled it). resolve() returns the name and the spec as an
/// object (a bare name becomes {"<key>": name}); every error starts with the JSON path:
///
///   train.optimizer.name: unknown optimizer "adma" (did you mean "adam"?); known: adam, ...
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/json_args.h"

namespace lowbit {

/// A spec resolved against a registry: the registered name and the spec as an object.
struct ResolvedSpec {
  std::string name;
  nlohmann::json spec;  ///< {"<key>": name, ...options}
};

template <class Signature>
class Registry;

template <class R, class... Args>
class Registry<R(Args...)> {
 public:
  using Factory = std::function<R(Args...)>;

  /// `kind` names what is registered, for error messages ("quantizer", "layer type").
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  const std::string& kind() const { return kind_; }

  /// Throws on a duplicate name.
  void add(const std::string& name, Factory factory) {
    LB_CHECK(factory != nullptr, kind_, " \"", name, "\": null factory");
    LB_CHECK(!factories_.count(name), kind_, " \"", name, "\" is already registered");
    factories_.emplace(name, std::move(factory));
  }
  bool contains(const std::string& name) const { return factories_.count(name) > 0; }

  /// Throws `<path>: unknown <kind> "x" (did you mean "y"?); known: ...` for an unknown name.
  R make(const std::string& name, Args... args) const {
    auto it = factories_.find(name);
    if (it == factories_.end()) json_fail("", unknown(name));
    return it->second(std::forward<Args>(args)...);
  }

  /// Resolves "name" | {"<key>": "name", ...} at JSON path `path` (see the file comment).
  ResolvedSpec resolve(const nlohmann::json& spec, const std::string& path,
                       std::string_view key = "name") const {
    const std::string k(key);
    if (spec.is_string()) {
      const std::string name = spec.get<std::string>();
      if (!contains(name)) json_fail(path, unknown(name));
      return {name, nlohmann::json{{k, name}}};
    }
    if (!spec.is_object())
      json_fail(path, "expected " + a_kind() + " name or an object {\"" + k + "\": ...}, got " +
                          json_brief(spec));
    const std::string name_path = json_path(path, key);
    auto it = spec.find(k);
    if (it == spec.end())
      json_fail(name_path, "missing required key (expected " + a_kind() + ": " + known() + ")");
    if (!it->is_string())
      json_fail(name_path, "expected " + a_kind() + " name, got " + json_brief(*it));
    const std::string name = it->template get<std::string>();
    if (!contains(name)) json_fail(name_path, unknown(name));
    return {name, spec};
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
  /// `unknown <kind> "x" (did you mean "y"?); known: ...`.
  std::string unknown(const std::string& name) const {
    const std::string near = closest_match(name, names());
    return "unknown " + kind_ + " \"" + name + "\"" +
           (near.empty() ? "" : " (did you mean \"" + near + "\"?)") + "; known: " + known();
  }

 private:
  /// "a layer type", "an optimizer".
  std::string a_kind() const {
    return (kind_.find_first_of("aeiou") == 0 ? "an " : "a ") + kind_;
  }

  std::string kind_;
  std::map<std::string, Factory> factories_;
};

/// A registered thing written back as a spec: the bare name when it has no options, else
/// {"name": name, ...config} (how the resolved config records data sets and losses).
inline nlohmann::json name_or_spec(const std::string& name, const nlohmann::json& config) {
  if (config.is_null() || config.empty()) return name;
  nlohmann::json j = {{"name", name}};
  j.update(config);
  return j;
}

}  // namespace lowbit
