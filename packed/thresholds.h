#pragma once
/// Per-channel thresholds: how the packed engine turns a float activation into the {−1, 0,
/// +1} input of the next binary or ternary layer, with any batch norm (and other monotone
/// per-channel layers) in between folded in.
///
/// The training-time simulation computes, per element of channel c,
///   q = Q(f_k(… f_1(y)))            f_i: batch_norm1d/2d, shift_batch_norm, hardtanh, relu,
///                                  tanh in eval mode; Q: the next layer's input quantizer,
/// a composition of monotone functions of y in float arithmetic (float rounding is monotone;
/// a batch norm with γ < 0 reverses the order, with γ = 0 it is constant). So q is a step
/// function of y with at most two steps, found *exactly* by bisection over the ordered float
/// values, evaluating the real layers and quantizer (no re-derived formula, so the result
/// matches the simulation bit for bit, including its rounding, for every float y):
///   dir = +1 (nondecreasing): q = −1 + [y ≥ t0] + [y ≥ t1]
///   dir = −1 (nonincreasing): q = −1 + [y ≤ t0] + [y ≤ t1]
///   dir =  0 (constant, e.g. γ = 0): q = t0
/// Binary quantizers give t0 = t1 (q ∈ {−1, +1}), i.e. sign(BN(y)) = sign(y − τ), flipped
/// when γ < 0. A threshold may be ±inf (a level never or always reached). The search domain
/// is |y| ≤ kThresholdDomain; beyond it the rule extends the last step.
///
///   ChannelThresholds th = fold_thresholds({bn.get()}, *quantizer, 2048, false, &why).value();
///   Tensor q = th.apply(y);   // y: (N, 2048) -> values in {−1, +1}
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "packed/packed_file.h"
#include "packed/kernels/bitpack.h"
#include "core/tensor.h"
#include "layers/module.h"
#include "quant/quantizer.h"

namespace lowbit::packed {

/// Bisection domain |y| <= 1e30: wide enough for any activation, small enough that the
/// folded layers cannot overflow on it.
inline constexpr float kThresholdDomain = 1e30f;

struct ChannelThresholds {
  /// Channels along dimension 1; 1 means one rule for every element (no per-channel layer).
  int64_t channels = 1;
  /// Some output is 0 (ternary activations); else outputs are ±1.
  bool ternary = false;
  std::vector<int8_t> dir;
  std::vector<float> t0, t1;

  /// x: (N, C, ...) with C == channels (or channels == 1) -> same shape, values in {−1, 0, +1}.
  Tensor apply(const Tensor& x) const;
  /// apply() fused with kernels::pack_binary / pack_ternary (Rows layout) for a 2-D input
  /// y (N, C): the bit planes of q without the float tensor in between. Ternary planes when
  /// `ternary`.
  kernels::PackedMatrix pack_rows(const Tensor& y) const;
  /// q of one value of channel c (tests, validation).
  float value(int64_t c, float y) const;

  /// Stores dir/t0/t1 as blobs "<prefix>.dir", "<prefix>.t0", "<prefix>.t1" and the rest in
  /// `spec`; load() reads them back, checking sizes against `spec`.
  void save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const;
  static ChannelThresholds load(const PackedFile& f, const nlohmann::json& spec,
                                const std::string& prefix);
};

/// Input quantizers fold_thresholds may be given: elementwise in eval mode with values in
/// {−1, 0, +1} (Quantizer::is_elementwise, fixed_levels), e.g. ste_sign, xnor_sign, tnn.
bool is_threshold_quantizer(const Quantizer& q);

/// Thresholds equivalent to q = quantizer(chain(y)) per channel. `chain` holds modules in
/// eval mode whose inference_traits() role is Monotone (layers/module.h), applied in order
/// to a probe of shape (1, channels) or, when four_d, (1, channels, 1, 1). Returns nullopt (with the reason in *why) when the result is not a
/// monotone step function onto {−1, 0, +1} (e.g. a k-bit quantizer) — the caller then keeps
/// the layers in float.
std::optional<ChannelThresholds> fold_thresholds(const std::vector<Module*>& chain,
                                                 Quantizer& quantizer, int64_t channels,
                                                 bool four_d, std::string* why);

}  // namespace lowbit::packed
