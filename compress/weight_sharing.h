#pragma once
/// Trained quantization by weight sharing (Deep Compression §3).
///
/// Per layer, the surviving (unpruned) weights are clustered by 1-D k-means; every weight is
/// replaced by its cluster's centroid and stored as a cluster index. The codebook has
/// k = 2^bits entries, and **entry 0 is the zero cluster**: the value of pruned weights and
/// of the filler entries of the sparse index (relative_index.h), fixed at 0 and never
/// trained, as in the authors' decode.py (`codebook[code]` with code 0 where nothing is
/// stored). The survivors are clustered into the 2^bits − 1 learned centroids at indices
/// 1 … 2^bits − 1, sorted ascending.
///
/// Centroid initialisation (§3.1, Fig. 4): linear (default; evenly spaced on [min w, max w],
/// keeps the rare large weights that matter), density (quantiles (j + ½)/m of the empirical
/// CDF) or random (Forgy: m distinct weights drawn with a seeded Rng).
///
/// Fine-tuning (§3.2): the forward pass uses W = codebook[I]; the centroid gradient is
///   dL/dC_k = Σ_i dL/dW_i · 1{I_i = k}     (k >= 1; the zero cluster gets 0)
/// so a training step is
///
///   SharedWeights sw = share_weights(w.data(), mask, {.bits = 5});
///   Var codebook(sw.codebook, /*requires_grad=*/true);   // aliases sw.codebook
///   sw.reconstruct_into(w.data());
///   ... loss.backward();
///   codebook.set_grad(sw.centroid_gradients(w.grad()));
///   opt.step();                       // an optimizer over {codebook}
///   sw.reconstruct_into(w.data());    // weights follow the centroids; pruned stay 0
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/random.h"
#include "core/tensor.h"
#include "compress/prune.h"

namespace lowbit {

enum class CentroidInit { kLinear, kDensity, kRandom };

/// "linear" | "density" | "random"; anything else throws listing the choices.
CentroidInit centroid_init_from_string(std::string_view name);
std::string_view to_string(CentroidInit init);

struct WeightSharingOptions {
  /// Codebook of 2^bits entries (the zero cluster + 2^bits − 1 centroids). [1, 16].
  int bits = 5;
  CentroidInit init = CentroidInit::kLinear;
  /// Lloyd iterations at most; the loop stops earlier when no assignment changes. One
  /// iteration costs O(k log n), so running to convergence is cheap (thousands of
  /// iterations for 8 bits on a 400K-survivor layer, whose WCSS drops ~20% past 300).
  int max_iterations = 10000;
  /// Seed of the random (Forgy) initialisation.
  uint64_t seed = 0;
};
/// JSON: {"bits": 5, "init": "linear", "max_iterations": 10000, "seed": 0}; every key optional,
/// unknown keys throw.
void from_json(const nlohmann::json& j, WeightSharingOptions& o);
void to_json(nlohmann::json& j, const WeightSharingOptions& o);

/// Result of 1-D k-means: centroids sorted ascending.
struct KMeans1D {
  std::vector<float> centroids;
  int iterations = 0;
  /// True when the last iteration changed no assignment (a Lloyd fixed point).
  bool converged = false;
};

/// Lloyd's k-means on n scalars, k clusters (k >= 1). Assignment: x joins the nearest
/// centroid, ties to the lower one (the boundary between sorted centroids a < b is their
/// midpoint, computed in double; x <= mid joins a). Update: each centroid becomes the mean
/// of its members; an empty cluster keeps its centroid. Works on a sorted copy with prefix
/// sums, so one iteration costs O(k log n). n = 0 gives k zero centroids.
KMeans1D kmeans_1d(std::span<const float> values, int64_t k, CentroidInit init, int max_iterations,
                   Rng& rng);

/// Index (0-based) of the cluster of x for sorted `centroids`, by the rule of kmeans_1d.
int64_t nearest_centroid(std::span<const float> centroids, float x);

/// One layer after weight sharing.
struct SharedWeights {
  Shape shape;
  int bits = 0;
  /// (2^bits,): codebook[0] is the zero cluster (always read as 0), then the centroids.
  Tensor codebook;
  /// One per weight (flattened, row-major): 0 = pruned, else a codebook entry in [1, 2^bits).
  std::vector<uint16_t> indices;
  int iterations = 0;
  bool converged = false;

  int64_t numel() const { return static_cast<int64_t>(indices.size()); }
  int64_t codebook_size() const { return int64_t{1} << bits; }
  /// Weights with a non-zero index.
  int64_t num_nonzero() const;
  /// W_i = codebook[I_i] (0 where I_i = 0), shape `shape`.
  Tensor reconstruct() const;
  /// The same into an existing tensor of shape `shape` (e.g. the layer's weight).
  void reconstruct_into(const Tensor& out) const;
  /// (2^bits,) centroid gradients from dL/dW (shape `shape`); see centroid_gradients.
  Tensor centroid_gradients(const Tensor& grad_weight) const;
  /// The mask I_i != 0.
  PruneMask mask() const;
  /// Throws unless sizes agree, bits is in [1, 16] and every index is < 2^bits.
  void validate() const;
};

/// Clusters the weights of `w` kept by `mask` (all of them when `mask` is undefined).
SharedWeights share_weights(const Tensor& w, const PruneMask& mask, const WeightSharingOptions& o);

/// dL/dC_k = Σ_i grad_weight_i · 1{indices_i = k} for k in [1, K); entry 0 is 0 (the zero
/// cluster is not trained). grad_weight: indices.size() elements; returns (K,). Sums in
/// double over fixed-size chunks, so the result does not depend on the thread count.
Tensor centroid_gradients(const Tensor& grad_weight, std::span<const uint16_t> indices, int64_t K);

}  // namespace lowbit
