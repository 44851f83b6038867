#include "quant/registry.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/registry.h"
#include "layers/registry.h"
#include "quant/quant_conv2d.h"
#include "quant/quant_linear.h"

namespace lowbit {

using QuantizerRegistry = Registry<QuantizerPtr(const nlohmann::json&, const std::string&)>;

// LB_BUILTIN_QUANTIZER(key): declares `QuantizerPtr key_from_json(const json&, const
// std::string&)`, defined in quant/quantizers/<method>.cpp, and registers it as "key".
// (A block-scope function declaration names a function of the innermost enclosing
// namespace, so add_builtins must not sit in an anonymous namespace.)
#define LB_BUILTIN_QUANTIZER(key)                                                      \
  do {                                                                                 \
    QuantizerPtr key##_from_json(const nlohmann::json& spec, const std::string& path); \
    r.add(#key, &key##_from_json);                                                     \
  } while (0)

static void add_builtins(QuantizerRegistry& r) {
  // ---- BNN / BinaryConnect
  LB_BUILTIN_QUANTIZER(ste_sign);
  LB_BUILTIN_QUANTIZER(binary_connect);
  LB_BUILTIN_QUANTIZER(stochastic_sign);
  // ---- XNOR-Net / BWN
  LB_BUILTIN_QUANTIZER(bwn);
  LB_BUILTIN_QUANTIZER(xnor_sign);
  // ---- QNN
  LB_BUILTIN_QUANTIZER(qnn_linear);
  LB_BUILTIN_QUANTIZER(qnn_log);
  // ---- DoReFa-Net
  LB_BUILTIN_QUANTIZER(dorefa);
  LB_BUILTIN_QUANTIZER(dorefa_weight);
  // ---- ternary: TWN, TTQ, TNN
  LB_BUILTIN_QUANTIZER(twn);
  LB_BUILTIN_QUANTIZER(ttq);
  LB_BUILTIN_QUANTIZER(tnn);
  // ---- FTPROP
  LB_BUILTIN_QUANTIZER(ftprop);
  // ---- added by the docs/quantizers.md walk-through
  LB_BUILTIN_QUANTIZER(swish_sign);
}

#undef LB_BUILTIN_QUANTIZER

namespace {

QuantizerRegistry& registry() {
  static QuantizerRegistry r = [] {
    QuantizerRegistry reg("quantizer");
    add_builtins(reg);
    return reg;
  }();
  return r;
}

}  // namespace

QuantizerPtr make_quantizer(const nlohmann::json& spec, const std::string& path) {
  if (spec.is_null()) return nullptr;
  const auto [name, obj] = registry().resolve(spec, path);
  return registry().make(name, obj, path);
}

nlohmann::json quantizer_to_json(const Quantizer& q) {
  nlohmann::json j = q.config();
  if (j.is_null()) j = nlohmann::json::object();
  j["name"] = std::string(q.name());
  return j;
}

void register_quantizer(const std::string& name, QuantizerFactory factory) {
  registry().add(name, std::move(factory));
}

std::vector<std::string> quantizer_names() { return registry().names(); }

void register_quant_modules() {
  static const bool done = [] {
    register_module_type("quant_linear", &QuantLinear::from_json);
    register_module_type("quant_conv2d", &QuantConv2d::from_json);
    return true;
  }();
  (void)done;
}

}  // namespace lowbit
