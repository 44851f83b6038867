#pragma once
// Public: per-channel loops over an (N, C, S) view of a tensor, S = H·W (1 for (N, C)
// input); channel c owns the N runs x[n, c, 0..S), M = N·S values per channel. Used by
// batch norm (core/ops/norm.cpp) and shift-based batch norm (layers/shift_batch_norm.cpp).
// Both walk memory in order: for (N, C) input the channels of a row are adjacent.
#include <cstdint>

#include "core/parallel.h"

namespace lowbit::kernels {

struct ChannelLayout {
  int64_t N, C, S;
};

/// out[c] = Σ over channel c of term(c, i), i the flat index. Double across runs, float
/// (vectorised) inside a run.
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
        for (int64_t c = c0; c < c1; ++c) {
          double acc = 0.0;
          for (int64_t n = 0; n < N; ++n) {
            const int64_t i0 = (n * C + c) * S;
            float part = 0.f;
#pragma omp simd reduction(+ : part)
            for (int64_t s = 0; s < S; ++s) part += term(c, i0 + s);
            acc += part;
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
        for (int64_t c = c0; c < c1; ++c) {
          double acc0 = 0.0, acc1 = 0.0;
          for (int64_t n = 0; n < N; ++n) {
            const int64_t i0 = (n * C + c) * S;
            float part0 = 0.f, part1 = 0.f;
#pragma omp simd reduction(+ : part0, part1)
            for (int64_t s = 0; s < S; ++s) {
              const auto [a, b] = term(c, i0 + s);
              part0 += a;
              part1 += b;
            }
            acc0 += part0;
            acc1 += part1;
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
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t c = r % C, i0 = r * S;
          for (int64_t s = 0; s < S; ++s) out[i0 + s] = f(c, i0 + s);
        }
      },
      S);
}

}  // namespace lowbit::kernels
