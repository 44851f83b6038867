#pragma once
/// Model summary (larq's `lq.models.summary`, extended): per layer the type, quantizers,
/// weight and activation bits, parameters and multiply-accumulates split by precision; totals
/// with float32 size, quantized size and compression ratio.
///
///   ModelSummary s = summarize(*net, {1, 28, 28});    // one sample's shape, no batch dim
///   print_summary(std::cout, s);                      // table
///   metrics["model_summary"] = summary_to_json(s);
///
/// Shapes come from one evaluation-mode forward pass of a zero batch of size 1 (under
/// NoGradGuard; training mode is restored afterwards, stochastic quantizers draw nothing).
/// Sequential containers are walked child by child; any other module with children (a user
/// block) is one row whose MACs are not counted (mac_precision "unknown").
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/module.h"

namespace lowbit {

/// Categories of multiply-accumulates, by max(weight bits, activation bits): "binary" (1),
/// "ternary" (both sides at most 3 levels), "k-bit" (up to 16 bits), "float" (else).
struct MacCounts {
  int64_t binary = 0;
  int64_t ternary = 0;
  int64_t kbit = 0;
  int64_t floating = 0;
  int64_t total() const { return binary + ternary + kbit + floating; }
};

struct LayerSummary {
  std::string name;              ///< dotted module path ("3")
  std::string type;              ///< registry type ("quant_conv2d")
  std::string input_quantizer;   ///< Quantizer::label() ("qnn_linear(grid=paper)"), "" for full precision
  std::string weight_quantizer;  ///< Quantizer::label(), "" for full precision
  int weight_bits = 32;          ///< bits per stored weight (32 without a weight quantizer)
  int activation_bits = 32;      ///< bits of the layer's input as it enters the MACs
  Shape output_shape;            ///< one sample's output shape (no batch dim)
  int64_t params = 0;            ///< parameter elements, quantizer parameters included
  int64_t macs = 0;              ///< multiply-accumulates per sample
  /// "binary", "ternary", "k-bit", "float"; "" without MACs; "unknown" for user blocks.
  std::string mac_precision;
  int64_t float32_bits = 0;    ///< params · 32
  int64_t quantized_bits = 0;  ///< quantized weights at weight_bits, scales and the rest at 32
};

struct ModelSummary {
  std::vector<LayerSummary> layers;
  Shape input_shape;  ///< one sample
  int64_t params = 0;
  MacCounts macs;  ///< per sample
  int64_t float32_bits = 0;
  int64_t quantized_bits = 0;
  /// float32_bits / quantized_bits (1 when the model has no parameters).
  double compression_ratio() const;
};

/// Runs the shape pass and collects the rows. input_shape excludes the batch dimension.
ModelSummary summarize(Module& model, const Shape& input_shape);
/// {"input_shape": [...], "layers": [{name, type, input_quantizer, weight_quantizer,
///  weight_bits, activation_bits, output_shape, params, macs, mac_precision, float32_bits,
///  quantized_bits}], "totals": {params, macs: {binary, ternary, k_bit, float, total},
///  float32_bytes, quantized_bytes, float32_bits, quantized_bits, compression_ratio}}.
/// Full-precision quantizer fields are null.
nlohmann::json summary_to_json(const ModelSummary& s);
/// A fixed-width table with the totals below it.
void print_summary(std::ostream& os, const ModelSummary& s);

}  // namespace lowbit
