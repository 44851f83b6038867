#pragma once
// Shared helpers of the bit-packed kernel tests: random ±1 / ternary data, the naive
// references, and a loop over every ISA this CPU supports.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "packed/cpu_features.h"
#include "core/random.h"
#include "core/tensor.h"

namespace lowbit::test {

/// Restores the dispatch ISA when a test ends (tests switch it per path).
struct IsaGuard {
  kernels::Isa saved = kernels::active_isa();
  ~IsaGuard() { kernels::set_isa(saved); }
};

/// Calls fn() once per ISA with that ISA active; reports the ISAs the CPU lacks.
template <class Fn>
void for_each_isa(Fn&& fn) {
  IsaGuard guard;
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512}) {
    if (!kernels::isa_supported(isa)) {
      MESSAGE("skipped ISA ", kernels::isa_name(isa), ": this CPU lacks it");
      continue;
    }
    kernels::set_isa(isa);
    INFO("isa = ", kernels::isa_name(isa));
    fn(isa);
  }
}

/// Floats whose signs are random, uniform in [-1, 1) with some exact zeros and -0.0 (which
/// must pack as +1 in binary matrices).
inline Tensor random_signs(const Shape& shape, Rng& rng) {
  Tensor t = Tensor::uniform(shape, rng, -1.f, 1.f);
  float* d = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint64_t u = rng.below(16);
    if (u == 0) d[i] = 0.f;
    if (u == 1) d[i] = -0.f;
  }
  return t;
}

/// Values in {-α, 0, +β} with random α, β > 0 (ternary weights keep their scale).
inline Tensor random_ternary(const Shape& shape, Rng& rng) {
  Tensor t = Tensor::empty(shape);
  float* d = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint64_t u = rng.below(3);
    d[i] = u == 0 ? 0.f : (u == 1 ? -rng.uniform(0.1f, 2.f) : rng.uniform(0.1f, 2.f));
  }
  return t;
}

/// The training binarizer: -1 for x < 0, +1 otherwise.
inline float sign_pm1(float x) { return x < 0.f ? -1.f : 1.f; }
inline float sign_ternary(float x) { return x < 0.f ? -1.f : (x > 0.f ? 1.f : 0.f); }

/// Naive reference: C[i][j] = Σ_k qa(a[i][k]) · qb(b[j][k]) with q = sign_pm1 or sign_ternary.
inline std::vector<int64_t> naive_dots(const Tensor& a, bool a_ternary, const Tensor& b,
                                       bool b_ternary) {
  const int64_t M = a.size(0), N = b.size(0), K = a.size(1);
  std::vector<int32_t> qa(static_cast<size_t>(M * K)), qb(static_cast<size_t>(N * K));
  for (int64_t i = 0; i < M * K; ++i)
    qa[i] = static_cast<int32_t>(a_ternary ? sign_ternary(a.data()[i]) : sign_pm1(a.data()[i]));
  for (int64_t i = 0; i < N * K; ++i)
    qb[i] = static_cast<int32_t>(b_ternary ? sign_ternary(b.data()[i]) : sign_pm1(b.data()[i]));
  std::vector<int64_t> c(static_cast<size_t>(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      int32_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += qa[i * K + k] * qb[j * K + k];
      c[i * N + j] = s;
    }
  return c;
}

}  // namespace lowbit::test
