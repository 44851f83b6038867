#pragma once
/// Quantizer registry: make a quantizer from JSON by name (larq's `quantizers.get`).
///
///   QuantizerPtr a = make_quantizer("ste_sign");                              // defaults
///   QuantizerPtr b = make_quantizer({{"name", "dorefa"}, {"bits", 2}});       // with options
///   QuantizerPtr c = make_quantizer(nullptr);                                 // no quantizer
///   nlohmann::json spec = quantizer_to_json(*b);   // {"bits": 2, "name": "dorefa"}
///
/// Built-ins are listed one per line in quant/registry.cpp (LB_BUILTIN_QUANTIZER), not
/// self-registered: static registrar objects in a static library are dropped by the linker
/// when nothing references their object file. For quantizers defined in an application,
/// LB_REGISTER_QUANTIZER below is safe because the application's own objects are always
/// linked.
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "quant/quantizer.h"

namespace lowbit {

/// Builds a quantizer from its spec object (which holds "name" plus options). Must reject
/// unknown options (JsonArgs::finish with "name" allowed); `path` is the spec's JSON path
/// for messages ("model.layers[2].weight_quantizer").
using QuantizerFactory =
    std::function<QuantizerPtr(const nlohmann::json& spec, const std::string& path)>;

/// spec: null (no quantizer: returns nullptr), a name ("ste_sign": default options) or an
/// object {"name": "dorefa", ...options}. Errors start with `path`: an unknown name lists the
/// known ones (with a "did you mean"), an unknown option names the key.
QuantizerPtr make_quantizer(const nlohmann::json& spec, const std::string& path = "quantizer");
/// {"name": q.name(), ...q.config()}.
nlohmann::json quantizer_to_json(const Quantizer& q);
/// Adds a quantizer; throws on a duplicate name.
void register_quantizer(const std::string& name, QuantizerFactory factory);
/// Sorted registered names (tests sweep them; error messages list them).
std::vector<std::string> quantizer_names();

/// Adds "quant_linear" and "quant_conv2d" to the layer registry (layers/registry.h).
/// Idempotent. lowbit_layers cannot name types of lowbit_quant (the dependency points the
/// other way), so programs that build quantized models from JSON call this once first.
void register_quant_modules();

}  // namespace lowbit

/// Registers a quantizer defined in an application (not in a static library, see above):
///   LB_REGISTER_QUANTIZER("my_sign", &MySign::from_json);
#define LB_REGISTER_QUANTIZER(name, factory) LB_REGISTER_QUANTIZER_AT_(name, factory, __LINE__)
#define LB_REGISTER_QUANTIZER_AT_(name, factory, line) \
  LB_REGISTER_QUANTIZER_AT2_(name, factory, line)
#define LB_REGISTER_QUANTIZER_AT2_(name, factory, line)                    \
  [[maybe_unused]] static const bool lb_quantizer_registered_##line = [] { \
    ::lowbit::register_quantizer(name, factory);                           \
    return true;                                                           \
  }()
