#pragma once
/// Umbrella header for quant/: the Quantizer interface, the quantizer functions of every
/// method, the registry (make_quantizer), QuantLinear, QuantConv2d, AP2 and the model summary.
///
///   register_quant_modules();                 // once: "quant_linear", "quant_conv2d" types
///   ModulePtr net = make_module(json::parse(R"([
///       {"type": "flatten"},
///       {"type": "quant_linear", "in_features": 784, "out_features": 10,
///        "input_quantizer": "ste_sign", "weight_quantizer": "binary_connect",
///        "clip_latent": 1.0}])"), rng);
///   print_summary(std::cout, summarize(*net, {1, 28, 28}));
#include "quant/functions.h"
#include "quant/quant_conv2d.h"
#include "quant/quant_layer.h"
#include "quant/quant_linear.h"
#include "quant/quantizer.h"
#include "quant/registry.h"
#include "quant/summary.h"
