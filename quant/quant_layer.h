#pragma once
/// What QuantLinear and QuantConv2d share: the QuantizedLayer interface (read by the model
/// summary), the options besides the layer's shape (QuantLayerOptions), the module part
/// (LatentQuantLayer: latent weights, quantizers, clipping) and the helper that gives a
/// quantizer's state a place in the module tree.
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "layers/module.h"
#include "quant/quantizer.h"

namespace lowbit {

class JsonArgs;

/// A layer with an input quantizer and a weight quantizer (either may be null: full
/// precision). Used by quant/summary.h to report bits and split MACs by precision.
class QuantizedLayer {
 public:
  virtual ~QuantizedLayer() = default;
  virtual const Quantizer* input_quantizer() const = 0;
  virtual const Quantizer* weight_quantizer() const = 0;
};

/// Registers the state of `q` in `owner` under child module `name` ("input_quantizer",
/// "weight_quantizer"): its parameters (TTQ: "<layer>.weight_quantizer.wp") and its
/// generator, reseeded from `rng` ("<layer>.input_quantizer.rng"). No child is added for
/// a stateless quantizer, so parameter names of plain quantized layers stay "weight",
/// "bias". The quantizer's parameter Vars are replaced by the owner's registered handles.
void attach_quantizer_state(Module& owner, const std::string& name, const QuantizerPtr& q,
                            Rng& rng);

/// Options of every quantized layer besides its shape; QuantLinearOptions and
/// QuantConv2dOptions derive from it. JSON keys: "bias", "weight_init", "input_quantizer",
/// "weight_quantizer", "clip_latent", "glorot_lr_scale". A base struct keeps
/// `layer.options().input_quantizer` readable; designated initializers can then name only the
/// shape, so set these fields by assignment:
///
///   QuantLinearOptions o{.in_features = 784, .out_features = 256};
///   o.weight_quantizer = make_quantizer("binary_connect");
struct QuantLayerOptions {
  bool bias = true;
  /// "kaiming_uniform" (PyTorch's Linear/Conv2d default), "glorot_uniform" (bias 0) or
  /// "uniform" (W ~ U(−1, 1), bias 0: BinaryNet's binary layers, H = 1).
  std::string weight_init = "kaiming_uniform";
  /// Null: full precision.
  QuantizerPtr input_quantizer;
  QuantizerPtr weight_quantizer;
  /// > 0: after every optimizer step the latent weights are clipped to [−clip_latent,
  /// clip_latent] (BinaryNet, XNOR-Net, TNN: 1). 0: no clipping (JSON null).
  float clip_latent = 0.f;
  /// Multiply the weight's learning rate by BinaryNet's Glorot factor
  /// 1/√(1.5/(fan_in + fan_out)) (layers/init.h glorot_lr_scale).
  bool glorot_lr_scale = false;

  /// Reads the keys above, in the order listed, from the layer's JsonArgs (which allows
  /// "type" and calls finish()); quantizers via make_quantizer with the path
  /// "<path>.input_quantizer".
  void read_json(JsonArgs& a);
  /// Adds the keys above to `j` (null for no quantizer and for clip_latent 0).
  void write_json(nlohmann::json& j) const;
};

/// The module part of QuantLinear and QuantConv2d: float32 latent "weight" and "bias" that
/// the optimizer updates, quantized on every forward (larq's QuantizedVariable), the
/// quantizers' state, clipping after each step, and a one-line summary.
class LatentQuantLayer : public Module, public QuantizedLayer {
 public:
  /// One line, like a leaf layer (the quantizer-state children are not layers).
  void pretty_print(std::ostream& os) const override;
  /// Clips the latent weights when clip_latent > 0.
  void after_step() override;

  const Var& weight() const { return weight_; }
  /// Undefined when the options say bias = false.
  const Var& bias() const { return bias_; }
  const Quantizer* input_quantizer() const override {
    return quant_options().input_quantizer.get();
  }
  const Quantizer* weight_quantizer() const override {
    return quant_options().weight_quantizer.get();
  }

 protected:
  /// The subclass's options, seen as their shared part.
  virtual const QuantLayerOptions& quant_options() const = 0;
  /// Call from the subclass constructor, after its shape checks: checks clip_latent
  /// (messages start with `layer`), initialises and registers "weight" (w_shape) and "bias"
  /// (w_shape[0]) per weight_init, with the Glorot lr scale of (fan_in, fan_out) when
  /// glorot_lr_scale, then attaches the quantizers' state.
  void init_weights(std::string_view layer, const Shape& w_shape, int64_t fan_in,
                    int64_t fan_out, Rng& rng);

  /// The operands of a forward pass: iq(x), wq(W), and the input quantizer's output scale
  /// over `window` (XNOR-Net's K; undefined when there is none). Unquantized operands pass
  /// through. Quantizers are switched to the module's train/eval mode first.
  struct QuantizedOperands {
    Var input, weight, input_scale;
  };
  QuantizedOperands quantize_operands(const Var& x, const InputWindow& window) const;

 private:
  Var weight_, bias_;
};

}  // namespace lowbit
