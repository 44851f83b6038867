#pragma once
/// Differentiable functions on Var. Each op's forward and backward live together in
/// core/ops/<family>.cpp. Binary elementwise ops broadcast like numpy.
///
///   Var h = relu(linear(x, w, b));               // x: (N, in), w: (out, in), b: (out)
///   Var loss = cross_entropy(h, labels);          // labels: (N) class indices as floats
///   loss.backward();
///
/// Shape errors throw lowbit::Error naming the op and the shapes.
#include <cstdint>
#include <vector>

#include "core/var.h"

namespace lowbit {

class Rng;

// ---- elementwise, binary (numpy broadcasting) — ops/elementwise.cpp
/// a + b.  d/da = g, d/db = g (summed over broadcast dims).
Var add(const Var& a, const Var& b);
/// a - b.  d/da = g, d/db = -g.
Var sub(const Var& a, const Var& b);
/// a * b.  d/da = g·b, d/db = g·a.
Var mul(const Var& a, const Var& b);
/// a / b.  d/da = g/b, d/db = -g·a/b².
Var div(const Var& a, const Var& b);
Var add(const Var& a, float s);
Var mul(const Var& a, float s);
Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);
Var operator/(const Var& a, const Var& b);
Var operator-(const Var& a);

// ---- elementwise, unary — ops/elementwise.cpp
/// -x.
Var neg(const Var& x);
/// eˣ.  d = g·eˣ.
Var exp(const Var& x);
/// ln x.  d = g/x.
Var log(const Var& x);
/// √x.  d = g/(2√x).
Var sqrt(const Var& x);
/// xᵖ.  d = g·p·xᵖ⁻¹.
Var pow(const Var& x, float p);
/// x².  d = 2gx.
Var square(const Var& x);
/// |x|.  d = g·sign(x) (0 at 0).
Var abs(const Var& x);
/// min(max(x, lo), hi).  d = g·1{lo ≤ x ≤ hi}.
Var clamp(const Var& x, float lo, float hi);

// ---- activations — ops/activation.cpp
/// max(x, 0).  d = g·1{x > 0}.
Var relu(const Var& x);
/// clamp(x, lo, hi) (hard tanh).  d = g·1{lo ≤ x ≤ hi}.
Var hardtanh(const Var& x, float lo = -1.f, float hi = 1.f);
/// tanh x.  d = g·(1 − y²).
Var tanh(const Var& x);
/// 1/(1+e⁻ˣ).  d = g·y(1 − y).
Var sigmoid(const Var& x);
/// Softmax along `axis`.  d = y ⊙ (g − Σ g⊙y).
Var softmax(const Var& x, int64_t axis = -1);
/// log softmax along `axis`.  d = g − softmax·Σg.
Var log_softmax(const Var& x, int64_t axis = -1);

// ---- reductions — ops/reduce.cpp
/// Sum of all elements -> shape {}.
Var sum(const Var& x);
/// Sum over `axis` (negative counts from the end).
Var sum(const Var& x, int64_t axis, bool keepdim = false);
/// Mean of all elements -> shape {}.
Var mean(const Var& x);
Var mean(const Var& x, int64_t axis, bool keepdim = false);
/// Max over `axis`; the gradient goes to the first maximal element.
Var max(const Var& x, int64_t axis, bool keepdim = false);

// ---- shape — ops/shape.cpp
/// View with a new shape (one -1 allowed).  d = reshape(g, x.shape).
Var reshape(const Var& x, const Shape& shape);
/// (N, d1, d2, ...) -> (N, d1·d2·...).
Var flatten(const Var& x);
/// Swap two dimensions (copies).
Var transpose(const Var& x, int64_t dim0, int64_t dim1);
/// Reorder dimensions: out.shape[i] = x.shape[perm[i]] (copies).
Var permute(const Var& x, const std::vector<int64_t>& perm);
/// Elements [begin, end) along `axis`.
Var slice(const Var& x, int64_t axis, int64_t begin, int64_t end);
/// Concatenation along `axis`.
Var concat(const std::vector<Var>& xs, int64_t axis);

// ---- linear algebra — ops/linalg.cpp (OpenBLAS sgemm, transposes via flags, no copies)
/// a: (M, K), b: (K, N) -> (M, N).  d/da = g·bᵀ, d/db = aᵀ·g.
Var matmul(const Var& a, const Var& b);
/// x: (N, in), w: (out, in), b: (out) or undefined -> x·wᵀ + b (PyTorch's layout).
Var linear(const Var& x, const Var& w, const Var& b = Var());

// ---- convolution and pooling — ops/conv.cpp, ops/pool.cpp (NCHW)
struct Conv2dArgs {
  int64_t stride = 1;
  int64_t padding = 0;
};
/// x: (N, C, H, W), w: (OC, C, KH, KW), b: (OC) or undefined -> (N, OC, OH, OW),
/// OH = (H + 2p − KH)/s + 1. im2col + sgemm; zero padding.
Var conv2d(const Var& x, const Var& w, const Var& b = Var(), Conv2dArgs args = {});
/// Max over k×k windows (stride 0 means stride = kernel); padded cells never win.
Var max_pool2d(const Var& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
/// Mean over k×k windows; padded cells count as zeros (PyTorch count_include_pad=true).
Var avg_pool2d(const Var& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);

// ---- normalisation and regularisation — ops/norm.cpp, ops/dropout.cpp
struct BatchNormArgs {
  bool training = true;
  float momentum = 0.1f;  // running = (1 − momentum)·running + momentum·batch (PyTorch)
  float eps = 1e-5f;
  /// Fused ReLU: output max(0, y) and backward through it, bit-identical to relu(batch_norm(…))
  /// without the ReLU's own passes over the activations (Sequential fuses batch norm + relu).
  bool relu = false;
};
/// Batch norm over (N, C) or (N, C, H, W), per channel C. Training: batch statistics
/// (biased variance for normalising, unbiased for the running update) and in-place update
/// of running_mean / running_var (plain Tensors, may be undefined to skip). Eval: running
/// statistics. gamma, beta: (C) or undefined.
Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean,
               Tensor running_var, BatchNormArgs args = {});
/// Inverted dropout: zero with probability p, scale survivors by 1/(1−p). Identity when
/// !training or p == 0. The mask is drawn from `rng`.
Var dropout(const Var& x, float p, bool training, Rng& rng);

// ---- losses — ops/loss.cpp (all return shape {})
/// Mean over the batch of −log softmax(logits)[target]. logits: (N, C); targets: (N) class
/// indices stored as floats. Fused: d/dlogits = (softmax − onehot)/N.
Var cross_entropy(const Var& logits, const Tensor& targets);
/// mean((a − b)²).
Var mse(const Var& a, const Var& b);
/// BNN's loss: mean over N·C of max(0, 1 − t·y)², t = +1 for the target class, −1 else.
/// y: (N, C); targets: (N) class indices.
Var squared_hinge(const Var& y, const Tensor& targets);

}  // namespace lowbit
