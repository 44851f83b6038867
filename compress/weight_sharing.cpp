#include "compress/weight_sharing.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/parallel.h"

namespace lowbit {

// ---- options

CentroidInit centroid_init_from_string(std::string_view name) {
  if (name == "linear") return CentroidInit::kLinear;
  if (name == "density") return CentroidInit::kDensity;
  if (name == "random") return CentroidInit::kRandom;
  LB_FAIL("centroid init: unknown name \"", name, "\" (valid: \"linear\", \"density\", \"random\")");
}

std::string_view to_string(CentroidInit init) {
  switch (init) {
    case CentroidInit::kLinear: return "linear";
    case CentroidInit::kDensity: return "density";
    case CentroidInit::kRandom: return "random";
  }
  return "?";
}

namespace {
void validate(const WeightSharingOptions& o) {
  LB_CHECK(o.bits >= 1 && o.bits <= 16, "weight sharing: bits must be in [1, 16], got ", o.bits);
  LB_CHECK(o.max_iterations >= 0, "weight sharing: max_iterations must be >= 0, got ",
           o.max_iterations);
}
}  // namespace

void from_json(const nlohmann::json& j, WeightSharingOptions& o) {
  LB_CHECK(j.is_object(), "weight sharing options: expected an object like {\"bits\": 5}, got ",
           j.dump());
  o = WeightSharingOptions{};
  for (const auto& [key, value] : j.items()) {
    if (key == "bits") {
      LB_CHECK(value.is_number_integer(), "weight sharing options: \"bits\" must be an integer");
      o.bits = value.get<int>();
    } else if (key == "init") {
      LB_CHECK(value.is_string(), "weight sharing options: \"init\" must be a string");
      o.init = centroid_init_from_string(value.get<std::string>());
    } else if (key == "max_iterations") {
      LB_CHECK(value.is_number_integer(),
               "weight sharing options: \"max_iterations\" must be an integer");
      o.max_iterations = value.get<int>();
    } else if (key == "seed") {
      LB_CHECK(value.is_number_unsigned(),
               "weight sharing options: \"seed\" must be a non-negative integer");
      o.seed = value.get<uint64_t>();
    } else {
      LB_FAIL("weight sharing options: unknown key \"", key,
              "\" (valid: \"bits\", \"init\", \"max_iterations\", \"seed\")");
    }
  }
  validate(o);
}

void to_json(nlohmann::json& j, const WeightSharingOptions& o) {
  j = {{"bits", o.bits},
       {"init", std::string(to_string(o.init))},
       {"max_iterations", o.max_iterations},
       {"seed", o.seed}};
}

// ---- 1-D k-means

namespace {

std::vector<float> init_centroids(const std::vector<float>& x, int64_t k, CentroidInit init,
                                  Rng& rng) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> c(static_cast<size_t>(k));
  switch (init) {
    case CentroidInit::kLinear: {
      const double lo = x.front(), hi = x.back();
      for (int64_t j = 0; j < k; ++j)
        c[j] = static_cast<float>(k == 1 ? 0.5 * (lo + hi)
                                         : lo + (hi - lo) * static_cast<double>(j) /
                                                    static_cast<double>(k - 1));
      break;
    }
    case CentroidInit::kDensity: {
      for (int64_t j = 0; j < k; ++j) {
        const double pos = (static_cast<double>(j) + 0.5) / static_cast<double>(k) *
                           static_cast<double>(n - 1);
        const auto i0 = static_cast<int64_t>(pos);
        const int64_t i1 = std::min(i0 + 1, n - 1);
        c[j] = static_cast<float>(x[i0] + (pos - static_cast<double>(i0)) * (x[i1] - x[i0]));
      }
      break;
    }
    case CentroidInit::kRandom: {
      // Forgy: k distinct weights (Floyd's sampling, O(k)); with fewer weights than
      // clusters, all of them plus repeats.
      const int64_t take = std::min(k, n);
      std::unordered_set<int64_t> chosen;
      for (int64_t j = n - take; j < n; ++j) {
        const auto t = static_cast<int64_t>(rng.below(static_cast<uint64_t>(j + 1)));
        chosen.insert(chosen.count(t) ? j : t);
      }
      std::vector<int64_t> picks(chosen.begin(), chosen.end());
      std::sort(picks.begin(), picks.end());
      for (int64_t j = 0; j < k; ++j)
        c[j] = x[j < take ? picks[j] : static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)))];
      break;
    }
  }
  std::sort(c.begin(), c.end());
  return c;
}

double midpoint(float a, float b) { return 0.5 * (double{a} + double{b}); }

}  // namespace

KMeans1D kmeans_1d(std::span<const float> values, int64_t k, CentroidInit init, int max_iterations,
                   Rng& rng) {
  LB_CHECK(k >= 1, "kmeans_1d: k must be >= 1, got ", k);
  LB_CHECK(max_iterations >= 0, "kmeans_1d: max_iterations must be >= 0, got ", max_iterations);
  KMeans1D r;
  if (values.empty()) {
    r.centroids.assign(static_cast<size_t>(k), 0.f);
    r.converged = true;
    return r;
  }
  std::vector<float> x(values.begin(), values.end());
  for (size_t i = 0; i < x.size(); ++i)
    LB_CHECK(std::isfinite(x[i]), "kmeans_1d: value ", i, " is ", x[i], " (not finite)");
  std::sort(x.begin(), x.end());
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<double> prefix(static_cast<size_t>(n) + 1, 0.0);
  for (int64_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + x[i];

  std::vector<float>& c = r.centroids;
  c = init_centroids(x, k, init, rng);
  // Cluster j holds the sorted values [b[j], b[j+1]): those in (mid(c[j-1], c[j]), mid(c[j], c[j+1])].
  std::vector<int64_t> b(static_cast<size_t>(k) + 1), prev;
  for (;;) {
    b[0] = 0;
    b[k] = n;
    for (int64_t j = 1; j < k; ++j) {
      const double m = midpoint(c[j - 1], c[j]);
      const auto it = std::upper_bound(x.begin() + b[j - 1], x.end(), m,
                                       [](double mm, float v) { return mm < double{v}; });
      b[j] = it - x.begin();
    }
    if (b == prev) {
      r.converged = true;
      break;
    }
    if (r.iterations == max_iterations) break;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t cnt = b[j + 1] - b[j];
      if (cnt > 0)
        c[j] = static_cast<float>((prefix[b[j + 1]] - prefix[b[j]]) / static_cast<double>(cnt));
    }
    // Means of consecutive partitions are already ordered; the sort only guards against
    // rounding so that the midpoints stay monotone.
    std::sort(c.begin(), c.end());
    prev = b;
    ++r.iterations;
  }
  return r;
}

int64_t nearest_centroid(std::span<const float> centroids, float x) {
  LB_CHECK(!centroids.empty(), "nearest_centroid: no centroids");
  int64_t lo = 0, hi = static_cast<int64_t>(centroids.size()) - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (double{x} <= midpoint(centroids[mid], centroids[mid + 1]))
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// ---- SharedWeights

int64_t SharedWeights::num_nonzero() const {
  return static_cast<int64_t>(indices.size()) -
         static_cast<int64_t>(std::count(indices.begin(), indices.end(), uint16_t{0}));
}

void SharedWeights::validate() const {
  LB_CHECK(bits >= 1 && bits <= 16, "SharedWeights: bits must be in [1, 16], got ", bits);
  LB_CHECK(codebook.defined() && codebook.numel() == codebook_size(), "SharedWeights: codebook of ",
           codebook.defined() ? codebook.numel() : 0, " entries, expected 2^", bits, " = ",
           codebook_size());
  LB_CHECK(shape_numel(shape) == numel(), "SharedWeights: ", numel(),
           " indices for a weight of shape ", shape);
  const uint16_t top = indices.empty() ? 0 : *std::max_element(indices.begin(), indices.end());
  LB_CHECK(top < codebook_size(), "SharedWeights: index ", top, " outside the codebook of ",
           codebook_size(), " entries");
}

void SharedWeights::reconstruct_into(const Tensor& out) const {
  LB_CHECK(out.defined() && out.shape() == shape, "SharedWeights::reconstruct_into: output shape ",
           out.defined() ? out.shape() : Shape{}, ", expected ", shape);
  LB_CHECK(codebook.defined() && codebook.numel() == codebook_size(),
           "SharedWeights::reconstruct_into: codebook has ",
           codebook.defined() ? codebook.numel() : 0, " entries, expected ", codebook_size());
  // A full 2^16 table: the lookup needs no bounds check (indices are validated where they
  // are produced); entries past the codebook and the zero cluster read 0.
  std::vector<float> table(size_t{1} << 16, 0.f);
  std::copy(codebook.data() + 1, codebook.data() + codebook_size(), table.begin() + 1);
  const uint16_t* idx = indices.data();
  float* w = out.data();
  kernels::parallel_for(numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) w[i] = table[idx[i]];
  });
}

Tensor SharedWeights::reconstruct() const {
  Tensor out = Tensor::empty(shape);
  reconstruct_into(out);
  return out;
}

Tensor SharedWeights::centroid_gradients(const Tensor& grad_weight) const {
  LB_CHECK(grad_weight.defined() && grad_weight.shape() == shape,
           "SharedWeights::centroid_gradients: gradient shape ",
           grad_weight.defined() ? grad_weight.shape() : Shape{}, ", expected ", shape);
  return lowbit::centroid_gradients(grad_weight, indices, codebook_size());
}

PruneMask SharedWeights::mask() const {
  Tensor m = Tensor::empty(shape);
  float* p = m.data();
  for (int64_t i = 0; i < numel(); ++i) p[i] = indices[i] != 0;
  return PruneMask(m);
}

SharedWeights share_weights(const Tensor& w, const PruneMask& mask, const WeightSharingOptions& o) {
  validate(o);
  LB_CHECK(w.defined(), "share_weights: the weight tensor is undefined");
  LB_CHECK(!mask.defined() || mask.shape() == w.shape(), "share_weights: mask shape ",
           mask.shape(), " does not match the weight shape ", w.shape());
  const int64_t n = w.numel();
  const float* x = w.data();
  const float* m = mask.defined() ? mask.tensor().data() : nullptr;
  std::vector<float> survivors;
  survivors.reserve(static_cast<size_t>(m ? mask.count() : n));
  for (int64_t i = 0; i < n; ++i) {
    if (m && m[i] == 0.f) continue;
    LB_CHECK(std::isfinite(x[i]), "share_weights: weight ", i, " is ", x[i], " (not finite)");
    survivors.push_back(x[i]);
  }
  const int64_t K = int64_t{1} << o.bits;
  Rng rng(o.seed);
  const KMeans1D km = kmeans_1d(survivors, K - 1, o.init, o.max_iterations, rng);

  SharedWeights sw;
  sw.shape = w.shape();
  sw.bits = o.bits;
  sw.iterations = km.iterations;
  sw.converged = km.converged;
  sw.codebook = Tensor::zeros({K});
  std::copy(km.centroids.begin(), km.centroids.end(), sw.codebook.data() + 1);
  std::vector<double> mids(static_cast<size_t>(K - 2));
  for (int64_t j = 0; j + 1 < K - 1; ++j) mids[j] = midpoint(km.centroids[j], km.centroids[j + 1]);
  sw.indices.assign(static_cast<size_t>(n), 0);
  uint16_t* idx = sw.indices.data();
  kernels::parallel_for(
      n,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          if (m && m[i] == 0.f) continue;
          // cluster j holds (mids[j-1], mids[j]]: the first mid >= x.
          const auto j = std::lower_bound(mids.begin(), mids.end(), double{x[i]}) - mids.begin();
          idx[i] = static_cast<uint16_t>(j + 1);
        }
      },
      /*cost_per_item=*/8);
  return sw;
}

Tensor centroid_gradients(const Tensor& grad_weight, std::span<const uint16_t> indices, int64_t K) {
  LB_CHECK(K >= 1 && K <= 65536, "centroid_gradients: codebook size must be in [1, 65536], got ", K);
  LB_CHECK(grad_weight.defined() && grad_weight.numel() == static_cast<int64_t>(indices.size()),
           "centroid_gradients: gradient of ", grad_weight.defined() ? grad_weight.numel() : 0,
           " elements for ", indices.size(), " indices");
  const int64_t n = static_cast<int64_t>(indices.size());
  if (n > 0) {
    const uint16_t top = *std::max_element(indices.begin(), indices.end());
    LB_CHECK(top < K, "centroid_gradients: index ", top, " outside the codebook of ", K,
             " entries");
  }
  // Fixed chunks (independent of the thread count) with one double histogram each, summed
  // in chunk order: deterministic, and the float gradients lose nothing to cancellation.
  const int64_t chunk = std::max<int64_t>(int64_t{1} << 16, 8 * K);
  const int64_t nchunks = (n + chunk - 1) / chunk;
  std::vector<double> partial(static_cast<size_t>(nchunks * K), 0.0);
  const float* g = grad_weight.data();
  const uint16_t* idx = indices.data();
  kernels::parallel_for(
      nchunks,
      [&](int64_t cb, int64_t ce) {
        for (int64_t c = cb; c < ce; ++c) {
          double* h = partial.data() + c * K;
          const int64_t e = std::min(n, (c + 1) * chunk);
          for (int64_t i = c * chunk; i < e; ++i) h[idx[i]] += g[i];
        }
      },
      /*cost_per_item=*/chunk);
  Tensor out = Tensor::zeros({K});
  float* o = out.data();
  for (int64_t k = 1; k < K; ++k) {
    double s = 0;
    for (int64_t c = 0; c < nchunks; ++c) s += partial[c * K + k];
    o[k] = static_cast<float>(s);
  }
  return out;
}

}  // namespace lowbit
