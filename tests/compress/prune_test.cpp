#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/core.h"
#include "compress/prune.h"

using namespace lowbit;

namespace {
double population_std(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m += x;
  m /= static_cast<double>(v.size());
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}
}  // namespace

TEST_CASE("prune_by_std keeps exactly |w| >= quality * std") {
  Rng rng(1);
  const Tensor w = Tensor::normal({40, 30}, rng, 0.1f, 0.5f);
  const std::vector<float> v = w.to_vector();
  for (double q : {0.0, 0.5, 1.0, 2.5}) {
    const PruneMask m = prune_by_std(w, q);
    const double t = q * population_std(v);
    int64_t expected = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      const bool keep = std::abs(double{v[i]}) >= t;
      expected += keep;
      REQUIRE(m.kept(static_cast<int64_t>(i)) == keep);
    }
    CHECK(m.count() == expected);
    CHECK(m.density() == doctest::Approx(double(expected) / 1200.0));
  }
  CHECK(prune_by_std(w, 0.0).count() == 1200);
  CHECK_THROWS_AS(prune_by_std(w, -1.0), Error);
}

TEST_CASE("prune_to_density keeps the largest magnitudes, ties by index") {
  const Tensor w = Tensor::from_vector({2, 4}, {0.1f, -3.f, 2.f, -2.f, 0.f, 5.f, -0.5f, 2.f});
  const PruneMask m = prune_to_density(w, 0.5);  // 4 of 8: 5, -3, then two of the three |2|s
  CHECK(m.count() == 4);
  CHECK(m.tensor().to_vector() == std::vector<float>{0, 1, 1, 1, 0, 1, 0, 0});
  CHECK(prune_to_density(w, 0.0).count() == 0);
  CHECK(prune_to_density(w, 1.0).count() == 8);
  CHECK_THROWS_WITH_AS(prune_to_density(w, 1.5), doctest::Contains("density"), Error);

  Rng rng(2);
  const Tensor big = Tensor::normal({300, 100}, rng);
  const PruneMask mb = prune_to_density(big, 0.08);
  CHECK(mb.count() == 2400);
  float min_kept = 1e9f, max_dropped = 0;
  for (int64_t i = 0; i < big.numel(); ++i) {
    const float a = std::abs(big.data()[i]);
    if (mb.kept(i)) min_kept = std::min(min_kept, a);
    else max_dropped = std::max(max_dropped, a);
  }
  CHECK(min_kept >= max_dropped);
}

TEST_CASE("iterative pruning: a previous mask restricts the survivors") {
  Rng rng(3);
  const Tensor w = Tensor::normal({1000}, rng);
  const PruneMask first = prune_to_density(w, 0.5);
  const PruneMask second = prune_to_density(w, 0.2, &first);
  CHECK(second.count() == 200);
  const PruneMask by_std = prune_by_std(w, 1.0, &first);
  for (int64_t i = 0; i < 1000; ++i) {
    if (!first.kept(i)) {
      REQUIRE(!second.kept(i));
      REQUIRE(!by_std.kept(i));
    }
  }
  CHECK(first.intersect(by_std).count() == by_std.count());
  CHECK_THROWS_AS(prune_to_density(Tensor::zeros({3}), 0.5, &first), Error);
}

TEST_CASE("PruneMask rejects non-0/1 masks; PruneSpec JSON") {
  CHECK_THROWS_WITH_AS(PruneMask(Tensor::from_vector({2}, {1.f, 0.5f})),
                       doctest::Contains("0 or 1"), Error);
  PruneSpec s = nlohmann::json{{"quality", 1.5}}.get<PruneSpec>();
  CHECK(s.quality.value() == 1.5);
  CHECK(!s.density);
  nlohmann::json back = s;
  CHECK(back == nlohmann::json{{"quality", 1.5}});
  s = nlohmann::json{{"density", 0.08}}.get<PruneSpec>();
  CHECK(prune(Tensor::ones({100}), s).count() == 8);
  CHECK_THROWS_WITH_AS(nlohmann::json({{"qualty", 1.0}}).get<PruneSpec>(),
                       doctest::Contains("unknown key \"qualty\""), Error);
  CHECK_THROWS_AS(nlohmann::json({{"quality", 1.0}, {"density", 0.1}}).get<PruneSpec>(), Error);
  CHECK_THROWS_AS(nlohmann::json({{"density", 2.0}}).get<PruneSpec>(), Error);
}

TEST_CASE("apply_to_grad masks in place, or copies when the gradient is shared") {
  Var w(Tensor::ones({4}), true);
  const PruneMask m(Tensor::from_vector({4}, {1, 0, 1, 0}));
  m.apply_to_grad(w);  // no gradient yet: no-op
  CHECK(!w.grad().defined());
  w.set_grad(Tensor::from_vector({4}, {1, 2, 3, 4}));
  m.apply_to_grad(w);
  CHECK(w.grad().to_vector() == std::vector<float>{1, 0, 3, 0});

  const Tensor held = Tensor::from_vector({4}, {5, 6, 7, 8});
  w.set_grad(held);  // someone else holds this buffer: it must not change
  m.apply_to_grad(w);
  CHECK(held.to_vector() == std::vector<float>{5, 6, 7, 8});
  CHECK(w.grad().to_vector() == std::vector<float>{5, 0, 7, 0});
  m.apply_to_weight(w);
  CHECK(w.data().to_vector() == std::vector<float>{1, 0, 1, 0});
}

TEST_CASE("pruned weights stay exactly zero through SGD and Adam steps with masked gradients") {
  Rng rng(4);
  const int64_t n = 256;
  Var w(Tensor::normal({n}, rng), true);
  // Adam state from dense training before pruning (the hard case: m, v are non-zero).
  std::vector<float> m1(n, 0.f), m2(n, 0.f);
  const float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  int t = 0;
  auto adam_step = [&] {
    ++t;
    float* p = w.data().data();
    const float* g = w.grad().data();
    for (int64_t i = 0; i < n; ++i) {
      m1[i] = b1 * m1[i] + (1 - b1) * g[i];
      m2[i] = b2 * m2[i] + (1 - b2) * g[i] * g[i];
      const float mh = m1[i] / (1 - std::pow(b1, float(t)));
      const float vh = m2[i] / (1 - std::pow(b2, float(t)));
      p[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
  };
  for (int s = 0; s < 5; ++s) {
    w.set_grad(Tensor::normal({n}, rng));
    adam_step();
  }
  const PruneMask mask = prune_to_density(w.data(), 0.25);
  mask.apply_to_weight(w);

  // Masked gradients alone do not protect against Adam's stale moments ...
  const Tensor saved = w.data().clone();
  w.set_grad(Tensor::normal({n}, rng));
  mask.apply_to_grad(w);
  adam_step();
  int moved = 0;
  for (int64_t i = 0; i < n; ++i) moved += !mask.kept(i) && w.data().data()[i] != 0.f;
  CHECK(moved > 0);
  Tensor(w.data()).copy_(saved);

  // ... the weight mask after each step does.
  for (int s = 0; s < 20; ++s) {
    w.set_grad(Tensor::normal({n}, rng));
    mask.apply_to_grad(w);
    for (int64_t i = 0; i < n; ++i)
      if (!mask.kept(i)) REQUIRE(w.grad().data()[i] == 0.f);
    adam_step();
    mask.apply_to_weight(w);
  }
  int zero = 0, kept_changed = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!mask.kept(i)) zero += w.data().data()[i] == 0.f;
    else kept_changed += w.data().data()[i] != saved.data()[i];
  }
  CHECK(zero == n - mask.count());
  CHECK(kept_changed == mask.count());  // the survivors did train

  // Plain SGD: the masked gradient is enough.
  for (int s = 0; s < 20; ++s) {
    w.set_grad(Tensor::normal({n}, rng));
    mask.apply_to_grad(w);
    Tensor(w.data()).add_(w.grad(), -0.1f);
  }
  for (int64_t i = 0; i < n; ++i)
    if (!mask.kept(i)) REQUIRE(w.data().data()[i] == 0.f);
}
