#pragma once
/// The packed inference engine: a trained model as a list of ops in which binary and
/// ternary layers run on bit planes with the popcount kernels (core/kernels), batch norms
/// in front of a binarizing layer are folded into per-channel thresholds
/// (packed/thresholds.h), and everything else stays the float layer it was.
///
///   PackedModel m = PackedModel::load("mnist_bnn.lbp");   // or convert_model(), convert.h
///   Tensor logits = m.forward(images);                    // (N, C, H, W) -> (N, classes)
///
/// Ops (each op's input is the previous op's output):
///   module        a float layer rebuilt from its JSON spec and tensors (linear, conv2d,
///                 batch_norm*, pooling, flatten, activations, and quantized layers that
///                 cannot be packed, which then run exactly as in training's simulation)
///   threshold     y -> {−1, 0, +1} per channel (folded batch norm + input quantizer)
///   packed_linear / packed_conv2d
///                 binary/ternary weights as bit planes + scales; the input is either
///                 already quantized (binary or ternary: popcount GEMM), or float (binary
///                 weights on real inputs, e.g. a BNN's first layer or BWN: the weights are
///                 expanded once at load time and the float GEMM runs), or quantized by the
///                 layer itself when its quantizer also scales the output (XNOR-Net's K).
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "packed/packed_file.h"
#include "packed/thresholds.h"
#include "packed/kernels/u8_gemm.h"
#include "packed/kernels/binary_conv.h"
#include "packed/kernels/bitpack.h"
#include "core/serialize.h"
#include "core/tensor.h"
#include "layers/module.h"

namespace lowbit::packed {

/// How packed layers compute: with the popcount kernels, or (for benchmarks and checks)
/// with float GEMMs on the dequantized weights — the training-time float path on the same
/// graph, bit-identical to it.
enum class Compute { Packed, Float };

/// Binary or ternary weights as bit planes plus scales. rows = output units (Linear:
/// out_features; Conv: out_channels), k = entries per row in PyTorch order (conv: c, kh, kw).
/// Bit planes are row-major with words_for(k) 64-bit words per row, entry j at bit j % 64 of
/// word j / 64 (bitpack.h's encoding: sign bit 1 <-> negative, mask bit 1 <-> nonzero),
/// tail bits 0. Weight values:
///   One:    q = u                       u ∈ {−1, +1} (binary) or {−1, 0, +1} (ternary)
///   PerRow: q = pos[r]·u                (BWN/XNOR α, TWN α)
///   PosNeg: q = +pos[r] | 0 | −neg[r]   (TTQ's Wp, Wn)
struct PackedWeights {
  enum class Scale { One, PerRow, PosNeg };
  int64_t rows = 0, k = 0;
  bool ternary = false;
  std::vector<uint64_t> sign, mask;
  Scale scale = Scale::One;
  std::vector<float> pos, neg;

  int64_t words_per_row() const { return (k + 63) / 64; }
  /// (rows, k): u, the sign/zero pattern.
  Tensor unit() const;
  /// (rows, k): 1 where u == sign_value (+1 or −1), else 0 (the planes of PosNeg).
  Tensor indicator(float sign_value) const;
  /// (rows, k): the quantized weights q, exactly the values the quantizer produced.
  Tensor dequantize() const;
  /// Bytes of planes and scales.
  int64_t bytes() const;
  std::string describe() const;
  void save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const;
  static PackedWeights load(const PackedFile& f, const nlohmann::json& spec,
                            const std::string& prefix);
};

/// Decomposes quantized weights wq (rows, k) into planes and scales: each row must take
/// values in {−n, 0, +p} (n, p > 0). Rows of zeros from a binary quantizer (α = 0) stay
/// binary. nullopt (reason in *why) otherwise, e.g. for k-bit weights.
std::optional<PackedWeights> decompose_weights(const Tensor& wq, bool binary_quantizer,
                                               std::string* why);

class PackedOp {
 public:
  virtual ~PackedOp() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  /// "module", "threshold", "packed_linear", "packed_conv2d".
  virtual std::string_view kind() const = 0;
  /// One line for the export summary.
  virtual std::string describe() const = 0;
  /// Writes the op's spec (with "op": kind()) and blobs named "<prefix>.*".
  virtual void save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const = 0;
  virtual void set_compute(Compute) {}
  /// Bytes this op stores in blobs.
  virtual int64_t stored_bytes() const = 0;
  /// Which layers of the source model this op stands for ("3", "4-6").
  std::string source;
};
using PackedOpPtr = std::unique_ptr<PackedOp>;

/// A float layer: the module rebuilt from {"type": ..., ...} and its state tensors, in eval
/// mode. forward runs it without autograd.
class ModuleOp final : public PackedOp {
 public:
  ModuleOp(nlohmann::json spec, const NamedTensors& tensors, const std::string& source_name);
  Tensor forward(const Tensor& x) override;
  std::string_view kind() const override { return "module"; }
  std::string describe() const override;
  void save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const override;
  int64_t stored_bytes() const override;
  Module& module() { return *module_; }
  const nlohmann::json& spec() const { return spec_; }

 private:
  nlohmann::json spec_;
  ModulePtr module_;
};

/// Folded batch norm (and activations) + input quantizer: y -> {−1, 0, +1}.
class ThresholdOp final : public PackedOp {
 public:
  ThresholdOp(ChannelThresholds th, std::vector<std::string> folded)
      : th_(std::move(th)), folded_(std::move(folded)) {}
  Tensor forward(const Tensor& x) override { return th_.apply(x); }
  std::string_view kind() const override { return "threshold"; }
  std::string describe() const override;
  void save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const override;
  int64_t stored_bytes() const override { return th_.channels * 9; }
  const ChannelThresholds& thresholds() const { return th_; }

 private:
  ChannelThresholds th_;
  std::vector<std::string> folded_;  // layer types, for the summary
};

/// What a packed layer receives.
enum class InputMode {
  Float,    ///< real values: float GEMM on the expanded weights
  Binary,   ///< values in {−1, +1} (from a threshold op, or self-quantized)
  Ternary,  ///< values in {−1, 0, +1}
};

struct PackedLayerOptions {
  bool conv = false;
  int64_t in_features = 0;  ///< linear: K; conv: input channels
  int64_t out_features = 0;
  int64_t kernel_size = 0, stride = 1, padding = 0;  ///< conv only
  InputMode input = InputMode::Float;
  /// Set when the layer quantizes its own (float) input, because the quantizer scales the
  /// output by K computed from that input (XNOR-Net); input is then Binary or Ternary.
  std::optional<ChannelThresholds> self_quantize;
  bool k_scaling = false;
  /// Float input on a grid of 256 levels, lut[v] for v = 0..255 (the data transforms of
  /// 8-bit pixels; input_lut_from_transforms): a linear layer fed by the model input then
  /// computes Σ_k x_k·u_jk ≈ a·Σ_k v_k·u_jk + b·Σ_k u_jk (a, b: the grid's affine fit) with
  /// an exact integer GEMM on the levels v (packed/kernels/u8_gemm.h: AVX-512 VNNI, or the
  /// popcount kernel on v's 8 bit planes as in BNN's first layer, Courbariaux et al. 2016,
  /// sec. 2.4) instead of a float GEMM. Equal to the float GEMM up to rounding; a batch with
  /// any value off the grid takes the float GEMM. Empty: none.
  std::vector<float> input_lut;
};

/// A binary/ternary linear or conv layer (see the header comment).
class PackedLayerOp final : public PackedOp {
 public:
  PackedLayerOp(PackedLayerOptions options, PackedWeights weights, Tensor bias);
  Tensor forward(const Tensor& x) override;
  std::string_view kind() const override { return options_.conv ? "packed_conv2d" : "packed_linear"; }
  std::string describe() const override;
  void save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const override;
  void set_compute(Compute c) override { compute_ = c; }
  int64_t stored_bytes() const override;
  const PackedLayerOptions& options() const { return options_; }
  const PackedWeights& weights() const { return weights_; }
  static std::unique_ptr<PackedLayerOp> load(const PackedFile& f, const nlohmann::json& spec,
                                             const std::string& prefix);
  /// forward(th.apply(y)) for a linear layer with binary/ternary input, packing the
  /// thresholded bits directly (PackedModel::forward fuses a threshold op with its layer).
  /// False when that does not apply (conv, float input, self-quantizing, Compute::Float).
  bool can_fuse_threshold(const ChannelThresholds& th) const;
  Tensor forward_thresholded(const Tensor& y, const ChannelThresholds& th) const;

 private:
  Tensor forward_float(const Tensor& xq, const Tensor& k_scale) const;
  Tensor forward_packed(const Tensor& xq, const Tensor& k_scale) const;
  Tensor linear_gemm(const kernels::PackedMatrix& a, const Tensor& k_scale) const;
  // Float input on the input_lut grid (undefined result: some value is off the grid).
  Tensor forward_levels(const Tensor& x) const;
  // Adds y ⊙ K (broadcast over channels) and bias in the simulation's order.
  void finish(Tensor& y, const Tensor& k_scale, bool bias_done) const;

  PackedLayerOptions options_;
  PackedWeights weights_;
  Tensor bias_;  // undefined: none
  Compute compute_ = Compute::Packed;
  // Built at construction:
  Tensor w_float_;  // dequantized, (out, in) or (OC, C, KH, KW)
  Tensor alpha_;    // PerRow scales (out)
  Tensor neg_scale_;  // PosNeg: −neg (out)
  std::vector<int32_t> unit_row_sums_;  // Σ_k u_jk, for the 8-bit input
  U8Weights u8_;
  kernels::PackedMatrix w_rows_, w_pos_, w_neg_;  // linear: B operands (Panels)
  kernels::PackedConvWeights c_rows_, c_pos_, c_neg_;  // conv
};

class PackedModel {
 public:
  PackedModel() = default;
  PackedModel(PackedModel&&) = default;
  PackedModel& operator=(PackedModel&&) = default;

  /// x: the model's input batch -> its output (logits). A threshold op followed by a packed
  /// linear layer runs fused (PackedLayerOp::forward_thresholded). With Compute::Packed,
  /// several threads and a batch of at least 2 rows per thread, the batch is split across
  /// the threads (data parallel); otherwise the kernels parallelise inside each op.
  Tensor forward(const Tensor& x);
  void set_compute(Compute c);
  /// Sum of the ops' blob bytes (planes, scales, float layers).
  int64_t stored_bytes() const;
  /// One line per op.
  std::string summary() const;

  PackedFile to_file() const;
  static PackedModel from_file(const PackedFile& f);
  void save(const std::string& path) const;
  static PackedModel load(const std::string& path);

  std::vector<PackedOpPtr> ops;
  /// name, source {run_dir, config}, memory; written to the file as is.
  nlohmann::json meta = nlohmann::json::object();

 private:
  Tensor forward_serial(const Tensor& x);
  Compute compute_ = Compute::Packed;
};

}  // namespace lowbit::packed
