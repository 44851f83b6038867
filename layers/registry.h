#pragma once
/// Layer registry: every layer a config can name, built from JSON by its "type".
///
///   Rng rng(42);
///   ModulePtr net = make_module(json::parse(R"([
///       {"type": "flatten"},
///       {"type": "linear", "in_features": 784, "out_features": 10}])"), rng, "model.layers");
///   json spec = module_to_json(*net);   // {"type": "sequential", "layers": [...]}
///
/// Built-ins are listed one per line in register_builtin_modules() (layers/registry.cpp),
/// which make_module calls on first use: self-registering statics in a static library are
/// dropped by the linker when nothing references their object file.
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "layers/module.h"

namespace lowbit {

/// Builds a module from its spec (the spec's "type" key already matched the registered
/// name). `path` is the spec's JSON path for error messages ("model.layers[3]"). Factories
/// must reject unknown keys (JsonArgs::finish, with "type" allowed). Each layer provides
/// one as `static ModulePtr from_json(const json&, Rng&, const std::string& path)`.
using ModuleFactory =
    std::function<ModulePtr(const nlohmann::json& spec, Rng& rng, const std::string& path)>;

/// spec: a layer type ("relu": default options), {"type": "<name>", ...options}, or a list
/// of such specs (-> Sequential); resolved by Registry::resolve (core/registry.h).
/// Errors name the JSON path: `model.layers[3].out_features: expected a positive integer,
/// got "64"`, `model.layers[0].type: unknown layer type "lineer" (did you mean "linear"?);
/// known: ...`. Random initialisation draws from `rng`.
ModulePtr make_module(const nlohmann::json& spec, Rng& rng, const std::string& path = "model");
/// {"type": m.type(), ...m.config()}.
nlohmann::json module_to_json(const Module& m);
/// Adds a layer type; throws on a duplicate name.
void register_module_type(const std::string& name, ModuleFactory factory);
/// Sorted registered type names (tests sweep them).
std::vector<std::string> module_type_names();
/// Registers Linear, Conv2d, ... (idempotent; make_module calls it).
void register_builtin_modules();

}  // namespace lowbit
