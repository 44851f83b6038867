#pragma once
/// What QuantLinear and QuantConv2d share: the QuantizedLayer interface (read by the model
/// summary) and the helper that gives a quantizer's state a place in the module tree.
#include <string>

#include "layers/module.h"
#include "quant/quantizer.h"

namespace lowbit {

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

}  // namespace lowbit
