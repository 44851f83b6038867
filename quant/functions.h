#pragma once
/// Quantizer functions: differentiable ops whose backward is a *pseudo*-gradient (larq's
/// `@tf.custom_gradient` quantizers). Each keeps the input's shape. Conventions: g = dL/dq
/// is the upstream gradient, 1{·} an indicator, "STE" the straight-through estimator
/// (dL/dx := g), sign(0) = +1 unless stated otherwise. Bodies in quant/quantizers/<method>.cpp.
///
///   Var xb = ste_sign(x);                 // BNN activation: ±1, gradient g·1{|x| ≤ 1}
///   Var wt = twn(w);                      // TWN ternary weights α·{−1, 0, +1}
///   Var y  = linear(xb, wt, b);
///
/// Formulas and provenance: docs/quantizers.md and ../shared/reference/papers.md.
#include <cstdint>
#include <limits>

#include "core/var.h"
#include "quant/quantizer.h"

namespace lowbit {

class Rng;

/// No clipping in a straight-through estimator: pass the gradient everywhere.
inline constexpr float kNoClip = std::numeric_limits<float>::infinity();

// ---- BNN / BinaryConnect (Courbariaux et al., arXiv:1511.00363, arXiv:1602.02830) — bnn.cpp
/// Deterministic binarization.
/// forward: q = +1 if x ≥ 0, −1 if x < 0 (BNN paper: sign(0) = +1).
/// backward: dL/dx = g·1{|x| ≤ clip_value}; clip_value = 1 is BNN's saturated STE for
/// activations (the derivative of hardtanh), kNoClip the plain STE of BNN/BinaryConnect
/// weights.
Var ste_sign(const Var& x, float clip_value = 1.f);
/// Stochastic binarization (BinaryConnect eq. 2, BNN eq. 2).
/// forward: q = +1 with probability σ(x) = clip((x + 1)/2, 0, 1), else −1; drawn as
/// q = +1 iff u < σ(x), u ~ U[0, 1) from `rng` (one draw per element, in order).
/// backward: dL/dx = g·1{|x| ≤ clip_value}.
Var stochastic_sign(const Var& x, Rng& rng, float clip_value = 1.f);

// ---- XNOR-Net and BWN (Rastegari et al., arXiv:1603.05279) — xnor.cpp
/// Binary weights with a scale: q = α·sign(W), sign(0) = +1, α = mean|W| = ‖W‖₁/n per
/// output filter (dimension 0, n = values per filter) or over the whole tensor when
/// !per_filter. backward (xnor_grad, the paper's rule): dL/dW = g·(1/n + α·1{|W| ≤ 1});
/// !xnor_grad: plain STE dL/dW = g.
Var bwn(const Var& w, bool per_filter = true, bool xnor_grad = true);
/// XNOR-Net's input scale K for a binary layer (paper Fig. 2, "efficient" form).
/// conv: x (N, C, H, W) -> K (N, 1, OH, OW), K = A ∗ k with A = Σ_c |x[:, c]|/C and k the
/// KH×KW box filter with entries 1/(KH·KW), zero padding and stride of the layer's conv.
/// linear: x (N, F) -> K (N, 1) = mean over features of |x|.
/// Composed of abs, mean and conv2d, so the gradient flows into x through K.
Var xnor_input_scale(const Var& x, const InputWindow& window);

// ---- QNN (Hubara et al., arXiv:1609.07061) — qnn.cpp
/// The two k-bit uniform grids of qnn_linear on [lo, hi].
enum class QnnGrid {
  /// The QNN paper's LinearQuant(x) = Clip(round(x/s)·s, minV, maxV) with the step
  /// s = (hi − lo)/2^bits, minV = lo, maxV = hi − s: 2^bits multiples of s, i.e. b-bit two's
  /// complement scaled by s = 2^(1−b) on [−1, 1] (2 bits: {−1, −½, 0, ½}). lo must be a
  /// multiple of s; bits >= 2 (1-bit QNN is BNN's sign: ste_sign / binary_connect).
  Paper,
  /// 2^bits levels evenly from lo to hi, both included, Δ = (hi − lo)/(2^bits − 1)
  /// (2 bits on [−1, 1]: {−1, −⅓, ⅓, 1}, no zero).
  MinMax,
};
/// k-bit uniform ("linear") quantization (rounding half to even, as PyTorch and
/// tf.round do, via std::nearbyint in the default rounding mode):
/// forward: Paper q = s·clamp(round(x/s), lo/s, lo/s + 2^bits − 1);
///          MinMax q = lo + Δ·round((clamp(x, lo, hi) − lo)/Δ).
/// backward: STE with cancellation outside the clip range, dL/dx = g·1{lo ≤ x ≤ top},
/// top = hi − s (Paper) or hi (MinMax).
Var qnn_linear(const Var& x, int bits, float lo = -1.f, float hi = 1.f,
               QnnGrid grid = QnnGrid::Paper);
/// The values qnn_linear(x, bits, lo, hi, grid) takes, ascending, bit-identical to its outputs.
std::vector<float> qnn_linear_levels(int bits, float lo, float hi, QnnGrid grid);
/// k-bit logarithmic quantization (LogQuant = Clip(AP2(x), −max, max)): one sign bit and
/// 2^(bits−1) − 1 exponents e ∈ [e_max − 2^(bits−1) + 2, e_max], 2^e_max = AP2(max_value):
/// forward: q = sign(x)·2^e, e = round(log2|x|) clamped above at e_max, and q = 0 when e is
/// below the smallest exponent (or x = 0). Values: 0 and ±2^e (2^bits − 1 of them).
/// backward: dL/dx = g·1{|x| ≤ AP2(max_value)}.
Var qnn_log(const Var& x, int bits, float max_value = 1.f);
/// AP2(x) = sign(x)·2^round(log2|x|) (core/ap2.h) with the plain STE dL/dx = g.
Var ap2(const Var& x);

// ---- DoReFa-Net (Zhou et al., arXiv:1606.06160) — dorefa.cpp
/// quantize_k(r) = round((2^k − 1)·r)/(2^k − 1) for r in [0, 1], ties to even (tf.round in
/// the reference code; std::nearbyint here).
/// Activations: forward q = quantize_k(clamp(x, 0, 1)); backward dL/dx = g·1{0 ≤ x ≤ 1}.
Var dorefa_activation(const Var& x, int bits);
/// Weights. bits = 1: q = sign(w)·E|w| (mean over the whole tensor, held constant), backward
/// dL/dw = g. bits > 1: q = 2·quantize_k(tanh(w)/(2M) + ½) − 1, M = max|tanh(w)| over the
/// tensor; backward is STE through quantize_k and the exact derivative of tanh(w)/M
/// (including M's dependence on its argmax element, as TensorFlow's autograd computes it in
/// the reference code): dL/dw_i = g_i(1 − t_i²)/M, plus −sign(t_j)(1 − t_j²)Σ_i g_i t_i/M²
/// at the first j with |t_j| = M, t = tanh(w).
Var dorefa_weight(const Var& w, int bits);

// ---- TWN (Li, Zhang, Liu, arXiv:1605.04711) — twn.cpp
/// Ternary weights: Δ = delta_factor·E|W| (0.7 in the 2016 paper and code, 0.75 in v3),
/// T = +1 if W > Δ, 0 if |W| ≤ Δ, −1 if W < −Δ, α = mean of |W| over {|W| > Δ} (0 when
/// empty); q = α·T. Δ and α per layer, or per output filter (dimension 0) when per_filter
/// (v3). backward: plain STE dL/dW = g (α held constant).
Var twn(const Var& w, float delta_factor = 0.7f, bool per_filter = false);

// ---- TTQ (Zhu, Han, Mao, Dally, arXiv:1612.01064) — ttq.cpp
/// Trained ternary quantization. w: latent weights; wp, wn: positive scales, shape (1).
/// forward: Δ = threshold·max|w|; q = +wp if w > Δ, 0 if |w| ≤ Δ, −wn if w < −Δ.
/// backward (paper eq. 7-8; I_p = {w > Δ}, I_n = {w < −Δ}):
///   dL/dwp = Σ_{I_p} g,  dL/dwn = −Σ_{I_n} g (q = −wn there; the paper prints the sum
///   without the sign and the reference code gets it from autograd),
///   dL/dw = wp·g on I_p, g on |w| ≤ Δ, wn·g on I_n (latent-weight gradient scaling).
Var ttq(const Var& w, const Var& wp, const Var& wn, float threshold = 0.05f);

// ---- TNN (Alemdar et al., arXiv:1609.00222) — tnn.cpp
/// Deterministic ternarization: q = sign(x)·1{|x| > threshold} ∈ {−1, 0, +1} (threshold
/// ½ is round(clamp(x, −1, 1)), TNN's evaluation rule). backward g·1{|x| ≤ clip_value}.
Var ternary_threshold(const Var& x, float threshold = 0.5f, float clip_value = 1.f);
/// TNN stochastic firing: c = clamp(x, −1, 1), q = ⌊c + u⌋ ∈ {−1, 0, +1}, u ~ U[0, 1) from
/// `rng`, so P(q = sign c) = |c|. backward g·1{|x| ≤ clip_value}.
Var stochastic_ternary(const Var& x, Rng& rng, float clip_value = 1.f);

// ---- FTPROP (Friesen & Domingos, arXiv:1710.11573) — ftprop.cpp
enum class FtpropGrad {
  /// FTP-SH: per-layer soft hinge loss L(z, t) = tanh(−zt) + 1 with targets t = sign(−g)
  /// (0 where g = 0). With the loss weighted by |g| (grad_scale, the reference default)
  /// dL/dz = g·(1 − tanh²z); without, sign(g)·(1 − tanh²z).
  SoftHinge,
  /// Saturated STE: dL/dz = g·1{|z| ≤ 1}.
  SaturatedSte,
};
/// Hard-threshold unit of FTPROP: forward q = +1 if z > 0, −1 if z ≤ 0 (sign(0) = −1, as in
/// the reference code's sign11); backward per `grad`.
Var ftprop_sign(const Var& z, FtpropGrad grad = FtpropGrad::SoftHinge, bool grad_scale = true);

// ---- SwishSign (Darabi et al., BNN+, arXiv:1812.11800) — swish_sign.cpp
/// The worked "add your own quantizer" example of docs/quantizers.md.
/// forward: q = +1 if x ≥ 0, −1 if x < 0.
/// backward: dL/dx = g·β(2 − βx·tanh(βx/2))/(1 + cosh(βx)), the derivative of
/// 2σ(βx)(1 + βx(1 − σ(βx))) − 1 (the swish-sign surrogate); β·g at x = 0.
Var swish_sign(const Var& x, float beta = 5.f);

}  // namespace lowbit
