#pragma once
// Public: per-channel loops over an (N, C, S) view of a tensor, S = H·W (1 for (N, C)
// input); channel c owns the N runs x[n, c, 0..S), M = N·S values per channel. Used by
// batch norm (core/ops/norm.cpp) and shift-based batch norm (layers/shift_batch_norm.cpp).
// Both walk memory in order: for (N, C) input the channels of a row are adjacent.
//
// The run loops call a local copy of the term/function, not the caller's object seen through
// the parallel region's captured reference: through the reference GCC 12 could not keep the
// lambda's captured pointers out of the vector loop and compiled `#pragma omp simd` into
// gathers (the index vector rebuilt every iteration) with the accumulator in memory; that
// was 60 % of batch norm's forward time on VGG-small (perf). With the copy, plain vector loads.
#include <array>
#include <cstddef>
#include <cstdint>

#include "core/parallel.h"

namespace lowbit::kernels {

struct ChannelLayout {
  int64_t N, C, S;
};

namespace detail {

/// The sums over s in [0, S) of the K members of f(s), in one fixed order: 16 lane sums
/// (lane k adds the s ≡ k mod 16), then the lanes added 0..15. The compiler vectorises the
/// lanes (one register per member) but cannot change the order, which `omp simd reduction`
/// leaves to it: two instantiations of one loop (batch norm's backward with and without the
/// fused ReLU mask) could add in different orders and differ in the last bit.
template <size_t K, class F>
std::array<float, K> run_sum(int64_t S, F f) {
  constexpr int64_t kLanes = 16;
  float lane[K][kLanes] = {};
  int64_t s = 0;
  for (; s + kLanes <= S; s += kLanes)
    for (int64_t k = 0; k < kLanes; ++k) {
      const std::array<float, K> v = f(s + k);
      for (size_t m = 0; m < K; ++m) lane[m][k] += v[m];
    }
  for (int64_t k = 0; s < S; ++s, ++k) {
    const std::array<float, K> v = f(s);
    for (size_t m = 0; m < K; ++m) lane[m][k] += v[m];
  }
  std::array<float, K> sum{};
  for (size_t m = 0; m < K; ++m)
    for (int64_t k = 0; k < kLanes; ++k) sum[m] += lane[m][k];
  return sum;
}

}  // namespace detail

/// out[c] = Σ over channel c of term(c, i), i the flat index. Double across runs, float
/// (vectorised, detail::run_sum's order) inside a run.
template <class Term>
void reduce_channels(const ChannelLayout& l, double* out, Term term) {
  const int64_t N = l.N, C = l.C, S = l.S;  // not a structured binding: clang 14 cannot capture one
  if (S == 1) {  // (N, C): rows are contiguous across channels
    kernels::parallel_for(
        C,
        [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) out[c] = 0.0;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t c = c0; c < c1; ++c) out[c] += term(c, n * C + c);
        },
        N);
    return;
  }
  kernels::parallel_for(
      C,
      [&](int64_t c0, int64_t c1) {
        const Term t = term;  // a local copy (see the top of the file)
        for (int64_t c = c0; c < c1; ++c) {
          double acc = 0.0;
          for (int64_t n = 0; n < N; ++n) {
            const int64_t i0 = (n * C + c) * S;
            acc += detail::run_sum<1>(S, [&](int64_t s) { return std::array<float, 1>{static_cast<float>(t(c, i0 + s))}; })[0];
          }
          out[c] = acc;
        }
      },
      N * S);
}

/// Two sums in one pass: term(c, i) returns a pair, out0[c] / out1[c] get the sums of its
/// first / second members, added in the same order as reduce_channels adds them (one read of
/// the data instead of two: batch norm's backward needs Σg and Σg·x̂ of the same g).
template <class Term>
void reduce_channels2(const ChannelLayout& l, double* out0, double* out1, Term term) {
  const int64_t N = l.N, C = l.C, S = l.S;  // not a structured binding: clang 14 cannot capture one
  if (S == 1) {
    kernels::parallel_for(
        C,
        [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) out0[c] = out1[c] = 0.0;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t c = c0; c < c1; ++c) {
              const auto [a, b] = term(c, n * C + c);
              out0[c] += a;
              out1[c] += b;
            }
        },
        2 * N);
    return;
  }
  kernels::parallel_for(
      C,
      [&](int64_t c0, int64_t c1) {
        const Term t = term;  // a local copy (see the top of the file)
        for (int64_t c = c0; c < c1; ++c) {
          double acc0 = 0.0, acc1 = 0.0;
          for (int64_t n = 0; n < N; ++n) {
            const int64_t i0 = (n * C + c) * S;
            const std::array<float, 2> part = detail::run_sum<2>(S, [&](int64_t s) {
              const auto [a, b] = t(c, i0 + s);
              return std::array<float, 2>{a, b};
            });
            acc0 += part[0];
            acc1 += part[1];
          }
          out0[c] = acc0;
          out1[c] = acc1;
        }
      },
      2 * N * S);
}

/// out[i] = f(c, i) for every element.
template <class F>
void map_channels(const ChannelLayout& l, float* out, F f) {
  const int64_t N = l.N, C = l.C, S = l.S;  // not a structured binding: clang 14 cannot capture one
  if (S == 1) {
    kernels::parallel_for(
        N,
        [&](int64_t n0, int64_t n1) {
          for (int64_t n = n0; n < n1; ++n)
            for (int64_t c = 0; c < C; ++c) out[n * C + c] = f(c, n * C + c);
        },
        C);
    return;
  }
  kernels::parallel_for(
      N * C,
      [&](int64_t r0, int64_t r1) {
        const F fl = f;  // a local copy (see the top of the file)
        float* const o = out;
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t c = r % C, i0 = r * S;
          for (int64_t s = 0; s < S; ++s) o[i0 + s] = fl(c, i0 + s);
        }
      },
      S);
}

}  // namespace lowbit::kernels
