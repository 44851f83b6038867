#pragma once
/// From a trained model (a Module tree) or a run folder to a PackedModel.
///
///   ConvertReport report;
///   PackedModel pm = export_run("runs/mnist_bnn", &report);   // config.json + model.safetensors
///   pm.save("mnist_bnn.lbp");
///   std::cout << format_report(report, file_bytes);
///
/// Per layer of the (flattened) Sequential:
///   quant_linear / quant_conv2d whose eval-mode weight quantizer yields {−n, 0, +p} per
///     output unit  -> packed_linear / packed_conv2d (bit planes + scales). The input is
///     "binary"/"ternary" when the input quantizer is_threshold_quantizer() (elementwise,
///     values in {−1, (0,) +1}); the quantizer, with the Monotone layers right before it
///     (Module::inference_traits: batch norms, hardtanh, relu, tanh; through a flatten) is
///     folded into a threshold op. XNOR-Net's K scaling needs the float input, so that
///     layer quantizes its own input. No input quantizer: "float" input (BNN first layer,
///     BWN): weights stored packed, computed with the float GEMM.
///   any other quantized layer (k-bit quantizers, float weights) -> kept as the float module.
///   dropout -> dropped (identity at inference); everything else -> float module.
#include <cstdint>
#include <string>
#include <vector>

#include "packed/packed_model.h"
#include "datasets/transforms.h"
#include "layers/module.h"

namespace lowbit::packed {

struct ConvertedLayer {
  std::string name;  ///< dotted path in the source model ("3")
  std::string type;  ///< its layer type
  std::string how;   ///< what the export did with it
};

struct ConvertOptions {
  /// The value of each 8-bit input level after the data transforms (256 entries; empty:
  /// unknown). Lets a binary/ternary linear layer fed by the model input use bit planes
  /// (PackedLayerOptions::input_lut).
  std::vector<float> input_lut;
};

/// lut[v] = the transforms' output for a pixel of value v, when every channel maps alike
/// (e.g. scale only; per-channel normalisation gives an empty result), as the evaluation
/// DataLoader computes it.
std::vector<float> input_lut_from_transforms(const TransformList& transforms);

struct ConvertReport {
  std::vector<ConvertedLayer> layers;
  /// Parameters and buffers of the source model at 4 bytes each.
  int64_t float32_bytes = 0;
  /// Bytes of the packed model's blobs.
  int64_t packed_bytes = 0;
};

/// Converts `model` (set to eval mode; left in eval mode). Throws lowbit::Error for a model
/// the engine cannot represent at all (e.g. a layer with several children that is not a
/// Sequential).
PackedModel convert_model(Module& model, ConvertReport* report = nullptr,
                          const ConvertOptions& options = {});

/// Loads RUN_DIR/config.json and RUN_DIR/model.safetensors and converts the model; meta
/// gets name, source {run_dir, config (the resolved experiment config)} and memory. The
/// run's data transforms give ConvertOptions::input_lut.
PackedModel export_run(const std::string& run_dir, ConvertReport* report = nullptr);

/// The export summary: one line per source layer, then memory of the packed file against
/// float32 (file_bytes: the written file's size, 0 to omit).
std::string format_report(const ConvertReport& report, int64_t file_bytes);

}  // namespace lowbit::packed
