#pragma once
/// Quantizer: a differentiable quantization function with its pseudo-gradient (the free
/// functions in quant/functions.h) wrapped in a small object with options, a registry name,
/// a precision and a config, so that layers and JSON can name it (larq's quantizer classes).
///
///   QuantizerPtr q = make_quantizer({{"name", "dorefa"}, {"bits", 2}});
///   Var y = (*q)(x);                    // forward q(x), backward the pseudo-gradient
///   q->name();                          // "dorefa"
///   q->precision();                     // 2
///   quantizer_to_json(*q);              // {"name": "dorefa", "bits": 2}
///
/// Three methods need state beyond their options, and the base class has one hook for each
/// (defaults: none):
///  - training mode (stochastic binarization and firing sample only in training; evaluation
///    is deterministic): set_training(), set by QuantLinear/QuantConv2d on every forward;
///  - a random generator (stochastic quantizers): rng(), which the owning layer reseeds from
///    its init Rng and registers for checkpoints ("<layer>.input_quantizer.rng");
///  - trainable parameters (TTQ's W_p and W_n): parameters(), which the owning layer
///    registers under "<layer>.weight_quantizer.<name>" so the optimizer updates them.
/// That state is why QuantizerPtr points to a non-const Quantizer (STYLE.md sketches
/// shared_ptr<const Quantizer>): each layer owns its own instance, made by make_quantizer.
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ops.h"
#include "core/random.h"
#include "core/var.h"

namespace lowbit {

/// Where a quantized input is consumed, for quantizers that scale the layer's output
/// (XNOR-Net's K). Linear: kernel_h = kernel_w = 0. Conv: the kernel window and its args.
struct InputWindow {
  int64_t kernel_h = 0;
  int64_t kernel_w = 0;
  Conv2dArgs conv;
  bool is_conv() const { return kernel_h > 0; }
};

class Quantizer {
 public:
  virtual ~Quantizer() = default;

  /// Quantizes x (any shape; weight quantizers with per-filter scales read dimension 0 as
  /// the output filter). Output has x's shape.
  virtual Var operator()(const Var& x) const = 0;
  /// Registry key, snake_case ("ste_sign").
  virtual std::string_view name() const = 0;
  /// Bits per quantized value (larq's `precision`): 1 binary, 2 ternary, k for k-bit.
  virtual int precision() const = 0;
  /// Upper bound on the number of distinct output values per output filter (a scale per
  /// filter counts once): 2 for binary, 3 for ternary, 2^k for k-bit. Tests check it.
  virtual int64_t levels() const { return int64_t{1} << precision(); }
  /// Hyperparameters only, e.g. {"clip_value": 1.0}; make_quantizer({"name": name(),
  /// ...config()}) rebuilds an equal quantizer.
  virtual nlohmann::json config() const = 0;

  // ---- properties: what converters (packed/), tables and tests ask of a quantizer instead
  // of comparing name() strings
  /// True when q(x)[i] depends on x[i] alone in evaluation mode: no statistic of the tensor
  /// or of a filter (BWN's α, TWN's Δ, DoReFa weights' max |tanh w|). Such a quantizer,
  /// after per-channel monotone layers, folds into per-channel thresholds (packed/thresholds.h).
  virtual bool is_elementwise() const { return false; }
  /// The values q(x) takes in evaluation mode, ascending, when they are fixed ahead of the
  /// data: {−1, +1} for ste_sign, {−1, 0, +1} for tnn, the k-bit grid of dorefa or
  /// qnn_linear. Empty when they depend on the data or on trained parameters (bwn, twn, ttq,
  /// dorefa_weight).
  virtual std::vector<float> fixed_levels() const { return {}; }
  /// fixed_levels() == {−1, +1}: binary sign outputs.
  bool is_binary() const { return fixed_levels() == std::vector<float>{-1.f, 1.f}; }
  /// fixed_levels() == {−1, 0, +1}: ternary sign outputs.
  bool is_ternary() const { return fixed_levels() == std::vector<float>{-1.f, 0.f, 1.f}; }
  /// Which formula output_scale() computes, so that engines reimplementing it (the packed
  /// XNOR layer) can tell whether they can. None exactly when output_scale() returns no
  /// factor (the registry sweep checks it): override both or neither.
  enum class OutputScale {
    None,   ///< output_scale() returns no factor
    XnorK,  ///< XNOR-Net's K (see output_scale)
  };
  virtual OutputScale output_scale_kind() const { return OutputScale::None; }
  /// The name for tables and summaries: name() plus the options that make it a different
  /// method, e.g. "qnn_linear(grid=paper)". Default: name().
  virtual std::string label() const { return std::string(name()); }

  // ---- state (see the header comment)
  void set_training(bool on) { training_ = on; }
  bool is_training() const { return training_; }
  /// The generator of a stochastic quantizer, null for deterministic ones.
  virtual Rng* rng() { return nullptr; }
  /// Trainable parameters by name (no dots). The owner may replace the Vars with its own
  /// registered handles (same data), so implementations must read them through these
  /// pointers at every call.
  virtual std::vector<std::pair<std::string, Var*>> parameters() { return {}; }

  // ---- hooks for layers and the model summary
  /// Float scales stored beside the quantized weights of shape `weight_shape` (α per
  /// filter for BWN: weight_shape[0]; one per layer: 1), for size accounting.
  virtual int64_t num_scales(const Shape& weight_shape) const {
    (void)weight_shape;
    return 0;
  }
  /// An extra factor for the layer's output, computed from the layer's *unquantized* input
  /// x, or an undefined Var for none (the default). XNOR-Net's K (Rastegari et al. 2016,
  /// Fig. 2): K = A ∗ k, A = mean over channels of |x|, k a box filter over the kernel
  /// window; the layer multiplies its output (before bias) by K, broadcast over channels.
  virtual Var output_scale(const Var& x, const InputWindow& window) const {
    (void)x;
    (void)window;
    return Var();
  }

 protected:
  bool training_ = true;
};

using QuantizerPtr = std::shared_ptr<Quantizer>;

}  // namespace lowbit
