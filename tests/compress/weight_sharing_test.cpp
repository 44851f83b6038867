#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/core.h"
#include "compress/weight_sharing.h"

using namespace lowbit;

namespace {

// Textbook O(n·k) Lloyd, the reference for the sorted O(k log n) implementation.
std::vector<float> naive_lloyd(const std::vector<float>& x, std::vector<float> c, int iters) {
  for (int it = 0; it < iters; ++it) {
    std::vector<double> sum(c.size(), 0);
    std::vector<int64_t> cnt(c.size(), 0);
    for (float v : x) {
      size_t best = 0;
      for (size_t j = 1; j < c.size(); ++j)
        if (std::abs(double{v} - c[j]) < std::abs(double{v} - c[best])) best = j;
      sum[best] += v;
      ++cnt[best];
    }
    for (size_t j = 0; j < c.size(); ++j)
      if (cnt[j] > 0) c[j] = static_cast<float>(sum[j] / static_cast<double>(cnt[j]));
  }
  return c;
}

}  // namespace

TEST_CASE("k-means recovers well-separated clusters (linear and density init)") {
  Rng rng(7);
  const float centers[3] = {-1.f, 0.2f, 2.f};
  std::vector<float> w;
  std::vector<int> truth;
  for (int i = 0; i < 3000; ++i) {
    const int c = static_cast<int>(rng.below(3));
    w.push_back(centers[c] + 0.02f * rng.normal());
    truth.push_back(c);
  }
  const Tensor wt = Tensor::from_vector({3000}, w);
  for (CentroidInit init : {CentroidInit::kLinear, CentroidInit::kDensity}) {
    CAPTURE(to_string(init));
    // bits = 2: the zero cluster + 3 learned centroids.
    const SharedWeights sw = share_weights(wt, PruneMask(), {.bits = 2, .init = init});
    CHECK(sw.converged);
    REQUIRE(sw.codebook.numel() == 4);
    CHECK(sw.codebook.data()[0] == 0.f);
    std::vector<double> sum(3, 0);
    std::vector<int> cnt(3, 0);
    for (int i = 0; i < 3000; ++i) {
      REQUIRE(sw.indices[i] == truth[i] + 1);  // sorted centroids: cluster c has index c + 1
      sum[truth[i]] += w[i];
      ++cnt[truth[i]];
    }
    for (int c = 0; c < 3; ++c) {
      CHECK(sw.codebook.data()[c + 1] == doctest::Approx(sum[c] / cnt[c]).epsilon(1e-6));
      CHECK(sw.codebook.data()[c + 1] == doctest::Approx(centers[c]).epsilon(0.01));
    }
  }
}

TEST_CASE("k-means matches textbook Lloyd and ends at a fixed point") {
  Rng rng(8);
  std::vector<float> x(5000);
  for (auto& v : x) v = rng.normal() * (rng.uniform() < 0.1f ? 3.f : 0.5f);
  for (int k : {1, 2, 7, 15, 31}) {
    CAPTURE(k);
    Rng r(0);
    const KMeans1D km = kmeans_1d(x, k, CentroidInit::kLinear, 1000, r);
    CHECK(km.converged);
    CHECK(std::is_sorted(km.centroids.begin(), km.centroids.end()));
    // Same linear initialisation, same number of iterations.
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    std::vector<float> c0(k);
    for (int j = 0; j < k; ++j)
      c0[j] = static_cast<float>(k == 1 ? 0.5 * (double{*lo} + *hi)
                                        : *lo + (double{*hi} - *lo) * j / (k - 1));
    const std::vector<float> ref = naive_lloyd(x, c0, km.iterations);
    for (int j = 0; j < k; ++j) CHECK(km.centroids[j] == doctest::Approx(ref[j]).epsilon(1e-5));
    // Fixed point: each value's nearest centroid; each non-empty centroid its members' mean.
    std::vector<double> sum(k, 0);
    std::vector<int64_t> cnt(k, 0);
    for (float v : x) {
      const int64_t j = nearest_centroid(km.centroids, v);
      for (int q = 0; q < k; ++q)
        REQUIRE(std::abs(double{v} - km.centroids[j]) <= std::abs(double{v} - km.centroids[q]) + 1e-7);
      sum[j] += v;
      ++cnt[j];
    }
    for (int j = 0; j < k; ++j)
      if (cnt[j] > 0) CHECK(km.centroids[j] == doctest::Approx(sum[j] / cnt[j]).epsilon(1e-6));
  }
}

TEST_CASE("random (Forgy) init is seeded and converges; density init uses quantiles") {
  Rng rng(9);
  const Tensor w = Tensor::normal({2000}, rng);
  const SharedWeights a = share_weights(w, PruneMask(), {.bits = 4, .init = CentroidInit::kRandom, .seed = 5});
  const SharedWeights b = share_weights(w, PruneMask(), {.bits = 4, .init = CentroidInit::kRandom, .seed = 5});
  CHECK(a.converged);
  CHECK(a.codebook.to_vector() == b.codebook.to_vector());
  CHECK(a.indices == b.indices);
  // Zero iterations expose the initial centroids.
  Rng r(0);
  std::vector<float> x = {4, 1, 3, 2, 5, 6, 8, 7};  // sorted 1..8
  const KMeans1D d = kmeans_1d(x, 2, CentroidInit::kDensity, 0, r);
  CHECK(d.centroids == std::vector<float>{2.75f, 6.25f});  // quantiles 1/4, 3/4 of 1..8
  const KMeans1D l = kmeans_1d(x, 3, CentroidInit::kLinear, 0, r);
  CHECK(l.centroids == std::vector<float>{1.f, 4.5f, 8.f});
  const KMeans1D f = kmeans_1d(x, 8, CentroidInit::kRandom, 0, r);
  CHECK(f.centroids == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});  // k = n: every value once
}

TEST_CASE("share_weights respects the mask; reconstruct uses the codebook, 0 where pruned") {
  Rng rng(10);
  const Tensor w = Tensor::normal({50, 40}, rng);
  const PruneMask mask = prune_to_density(w, 0.1);
  const SharedWeights sw = share_weights(w, mask, {.bits = 5});
  CHECK(sw.num_nonzero() == mask.count());
  CHECK(sw.mask().tensor().to_vector() == mask.tensor().to_vector());
  const Tensor rec = sw.reconstruct();
  CHECK(rec.shape() == w.shape());
  double err_shared = 0, err_max = 0;
  for (int64_t i = 0; i < w.numel(); ++i) {
    if (!mask.kept(i)) {
      REQUIRE(sw.indices[i] == 0);
      REQUIRE(rec.data()[i] == 0.f);
    } else {
      REQUIRE(sw.indices[i] >= 1);
      REQUIRE(rec.data()[i] == sw.codebook.data()[sw.indices[i]]);
      err_shared = std::max(err_shared, std::abs(double{rec.data()[i]} - w.data()[i]));
      err_max = std::max(err_max, std::abs(double{w.data()[i]}));
    }
  }
  CHECK(err_shared < 0.1 * err_max);  // 31 centroids over the survivors
  // A nonzero codebook[0] is still read as 0 (pruned weights stay zero).
  SharedWeights bad = sw;
  bad.codebook = sw.codebook.clone();
  bad.codebook.data()[0] = 3.f;
  CHECK(bad.reconstruct().to_vector() == rec.to_vector());
}

TEST_CASE("weight sharing edge cases: nothing survives, one survivor, constant layer") {
  const Tensor w = Tensor::from_vector({5}, {0.3f, -0.2f, 0.7f, 0.1f, 0.f});
  const SharedWeights none = share_weights(w, PruneMask(Tensor::zeros({5})), {.bits = 3});
  CHECK(none.num_nonzero() == 0);
  CHECK(none.reconstruct().to_vector() == std::vector<float>(5, 0.f));
  const SharedWeights one =
      share_weights(w, PruneMask(Tensor::from_vector({5}, {0, 0, 1, 0, 0})), {.bits = 3});
  CHECK(one.num_nonzero() == 1);
  CHECK(one.reconstruct().to_vector() == std::vector<float>{0, 0, 0.7f, 0, 0});
  const SharedWeights flat = share_weights(Tensor::full({4}, -0.25f), PruneMask(), {.bits = 1});
  CHECK(flat.reconstruct().to_vector() == std::vector<float>(4, -0.25f));
  const SharedWeights empty = share_weights(Tensor::zeros({0, 3}), PruneMask(), {.bits = 2});
  CHECK(empty.numel() == 0);
  CHECK(empty.reconstruct().shape() == Shape{0, 3});
  CHECK_THROWS_AS(share_weights(w, PruneMask(), {.bits = 0}), Error);
  CHECK_THROWS_AS(share_weights(w, PruneMask(), {.bits = 17}), Error);
  CHECK_THROWS_AS(share_weights(Tensor::from_vector({1}, {NAN}), PruneMask(), {.bits = 2}), Error);
}

TEST_CASE("centroid gradient: gradients grouped by cluster index and summed") {
  const Tensor g = Tensor::from_vector({2, 3}, {5, 1, 2, 3, 4, 7});
  const std::vector<uint16_t> idx = {0, 1, 2, 1, 3, 0};
  CHECK(centroid_gradients(g, idx, 4).to_vector() == std::vector<float>{0, 4, 2, 4});
  CHECK_THROWS_AS(centroid_gradients(g, idx, 3), Error);  // index 3 outside a 3-entry codebook
  CHECK_THROWS_AS(centroid_gradients(Tensor::zeros({5}), idx, 4), Error);

  // Many chunks: compare with a plain double sum.
  Rng rng(11);
  const int64_t n = 300000, K = 32;
  const Tensor gg = Tensor::normal({n}, rng);
  std::vector<uint16_t> ii(n);
  for (auto& v : ii) v = static_cast<uint16_t>(rng.below(K));
  std::vector<double> ref(K, 0);
  for (int64_t i = 0; i < n; ++i) ref[ii[i]] += gg.data()[i];
  const Tensor cg = centroid_gradients(gg, ii, K);
  CHECK(cg.data()[0] == 0.f);
  for (int64_t k = 1; k < K; ++k) CHECK(cg.data()[k] == doctest::Approx(ref[k]).epsilon(1e-6));
}

TEST_CASE("centroid fine-tuning step through an aliased codebook Var") {
  Rng rng(12);
  const Tensor w0 = Tensor::normal({20, 10}, rng);
  SharedWeights sw = share_weights(w0, prune_to_density(w0, 0.5), {.bits = 3});
  Var weight(sw.reconstruct(), true);
  Var codebook(sw.codebook, true);  // same storage as sw.codebook
  const Tensor grad = Tensor::normal({20, 10}, rng);
  weight.set_grad(grad);
  codebook.set_grad(sw.centroid_gradients(weight.grad()));
  const Tensor before = sw.codebook.clone();
  Tensor(codebook.data()).add_(codebook.grad(), -0.01f);  // SGD on the centroids
  sw.reconstruct_into(weight.data());
  for (int64_t i = 0; i < 200; ++i) {
    const uint16_t k = sw.indices[i];
    // Weights follow their centroid exactly; pruned ones stay 0.
    REQUIRE(weight.data().data()[i] == (k == 0 ? 0.f : sw.codebook.data()[k]));
  }
  for (int64_t k = 1; k < 8; ++k)
    CHECK(sw.codebook.data()[k] ==
          doctest::Approx(before.data()[k] - 0.01f * codebook.grad().data()[k]));
  CHECK(sw.codebook.data()[0] == 0.f);
}

TEST_CASE("weight sharing options from JSON") {
  auto o = nlohmann::json{{"bits", 8}, {"init", "density"}}.get<WeightSharingOptions>();
  CHECK(o.bits == 8);
  CHECK(o.init == CentroidInit::kDensity);
  CHECK(o.max_iterations == 10000);
  nlohmann::json j = o;
  CHECK(j.get<WeightSharingOptions>().init == CentroidInit::kDensity);
  CHECK_THROWS_WITH_AS(nlohmann::json({{"init", "kmeans++"}}).get<WeightSharingOptions>(),
                       doctest::Contains("\"linear\", \"density\", \"random\""), Error);
  CHECK_THROWS_WITH_AS(nlohmann::json({{"bitz", 4}}).get<WeightSharingOptions>(),
                       doctest::Contains("unknown key \"bitz\""), Error);
  CHECK_THROWS_AS(nlohmann::json({{"bits", 0}}).get<WeightSharingOptions>(), Error);
}
