#include "packed/kernels/bitpack.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <string>

#include "core/check.h"
#include "core/parallel.h"

namespace lowbit::kernels {

namespace {

// Bits j < n of the result are (x[j] < 0) / (x[j] != 0) (ordered compares: NaN is not < 0,
// and NaN != 0). This file is compiled with the project's flags (-march=native by default),
// so the compare-to-mask instructions of the build target are used when it has them.
#if defined(__AVX512F__)
inline uint64_t negative_bits_64(const float* x) {
  const __m512 z = _mm512_setzero_ps();
  uint64_t w = 0;
  for (int q = 0; q < 4; ++q)
    w |= uint64_t{_mm512_cmp_ps_mask(_mm512_loadu_ps(x + 16 * q), z, _CMP_LT_OQ)} << (16 * q);
  return w;
}
inline uint64_t nonzero_bits_64(const float* x) {
  const __m512 z = _mm512_setzero_ps();
  uint64_t w = 0;
  for (int q = 0; q < 4; ++q)
    w |= uint64_t{_mm512_cmp_ps_mask(_mm512_loadu_ps(x + 16 * q), z, _CMP_NEQ_UQ)} << (16 * q);
  return w;
}
#elif defined(__AVX2__)
inline uint64_t negative_bits_64(const float* x) {
  const __m256 z = _mm256_setzero_ps();
  uint64_t w = 0;
  for (int q = 0; q < 8; ++q) {
    const __m256 c = _mm256_cmp_ps(_mm256_loadu_ps(x + 8 * q), z, _CMP_LT_OQ);
    w |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_ps(c))) << (8 * q);
  }
  return w;
}
inline uint64_t nonzero_bits_64(const float* x) {
  const __m256 z = _mm256_setzero_ps();
  uint64_t w = 0;
  for (int q = 0; q < 8; ++q) {
    const __m256 c = _mm256_cmp_ps(_mm256_loadu_ps(x + 8 * q), z, _CMP_NEQ_UQ);
    w |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_ps(c))) << (8 * q);
  }
  return w;
}
#else
inline uint64_t negative_bits_64(const float* x) {
  uint64_t w = 0;
  for (int j = 0; j < 64; ++j) w |= static_cast<uint64_t>(x[j] < 0.f) << j;
  return w;
}
inline uint64_t nonzero_bits_64(const float* x) {
  uint64_t w = 0;
  for (int j = 0; j < 64; ++j) w |= static_cast<uint64_t>(x[j] != 0.f) << j;
  return w;
}
#endif

inline uint64_t negative_bits(const float* x, int64_t n) {
  if (n == 64) return negative_bits_64(x);
  uint64_t w = 0;
  for (int64_t j = 0; j < n; ++j) w |= static_cast<uint64_t>(x[j] < 0.f) << j;
  return w;
}

inline uint64_t nonzero_bits(const float* x, int64_t n) {
  if (n == 64) return nonzero_bits_64(x);
  uint64_t w = 0;
  for (int64_t j = 0; j < n; ++j) w |= static_cast<uint64_t>(x[j] != 0.f) << j;
  return w;
}

PackedMatrix pack(const float* x, int64_t rows, int64_t K, int64_t ld, PackLayout layout,
                  bool ternary, const char* fn) {
  LB_CHECK(rows >= 0 && K >= 0 && ld >= K, fn,
           ": expected rows >= 0, K >= 0, ld >= K, got rows=", rows, " K=", K, " ld=", ld);
  LB_CHECK(x != nullptr || rows * K == 0, fn, ": null data for a non-empty matrix");
  PackedMatrix p = make_packed(rows, K, words_for(K), layout, ternary);
  const int64_t kw = p.kw;
  uint64_t* sign = p.sign.data();
  uint64_t* mask = ternary ? p.mask.data() : nullptr;
  parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* xr = x + r * ld;
          for (int64_t w = 0; w < kw; ++w) {
            const int64_t n = std::min<int64_t>(64, K - 64 * w);
            const int64_t at = p.word_index(r, w);
            sign[at] = negative_bits(xr + 64 * w, n);
            if (mask) mask[at] = nonzero_bits(xr + 64 * w, n);
          }
        }
      },
      K);
  if (ternary) count_nnz(p);
  return p;
}

void check_2d(const Tensor& x, const char* fn) {
  LB_CHECK(x.defined() && x.dim() == 2, fn, ": expected a 2-D (rows, K) tensor, got ",
           x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"),
           "; reshape first, e.g. x.reshape({x.size(0), -1})");
}

}  // namespace

PackedMatrix make_packed(int64_t rows, int64_t K, int64_t kw, PackLayout layout, bool ternary) {
  LB_CHECK(rows >= 0 && K >= 0 && kw >= words_for(K), "make_packed: expected rows >= 0, K >= 0, ",
           "kw >= ceil(K/64), got rows=", rows, " K=", K, " kw=", kw);
  PackedMatrix p;
  p.rows = rows;
  p.k = K;
  p.kw = kw;
  p.layout = layout;
  const auto words = static_cast<size_t>(p.padded_rows() * kw);
  p.sign.assign(words, 0);
  if (ternary) {
    p.mask.assign(words, 0);
    p.nnz.assign(static_cast<size_t>(p.padded_rows()), 0);
  }
  return p;
}

void count_nnz(PackedMatrix& p) {
  if (!p.ternary()) return;
  p.nnz.assign(static_cast<size_t>(p.padded_rows()), 0);
  for (int64_t r = 0; r < p.rows; ++r) {
    int64_t n = 0;
    for (int64_t w = 0; w < p.kw; ++w) n += std::popcount(p.mask[p.word_index(r, w)]);
    p.nnz[r] = static_cast<int32_t>(n);
  }
}

PackedMatrix pack_binary(const float* x, int64_t rows, int64_t K, int64_t ld, PackLayout layout) {
  return pack(x, rows, K, ld, layout, false, "pack_binary");
}

PackedMatrix pack_ternary(const float* x, int64_t rows, int64_t K, int64_t ld, PackLayout layout) {
  return pack(x, rows, K, ld, layout, true, "pack_ternary");
}

PackedMatrix pack_binary(const Tensor& x, PackLayout layout) {
  check_2d(x, "pack_binary");
  return pack_binary(x.data(), x.size(0), x.size(1), x.size(1), layout);
}

PackedMatrix pack_ternary(const Tensor& x, PackLayout layout) {
  check_2d(x, "pack_ternary");
  return pack_ternary(x.data(), x.size(0), x.size(1), x.size(1), layout);
}

Tensor unpack(const PackedMatrix& p) {
  LB_CHECK(
      p.kw == words_for(p.k), "unpack: entries are not contiguous (K=", p.k, " in kw=", p.kw,
      " words, e.g. a conv im2col matrix); only matrices from pack_binary/pack_ternary unpack");
  Tensor out = Tensor::empty({p.rows, p.k});
  float* o = out.data();
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t k = 0; k < p.k; ++k) {
      const int64_t at = p.word_index(r, k / 64);
      const uint64_t bit = uint64_t{1} << (k % 64);
      const bool neg = p.sign[at] & bit, nz = !p.ternary() || (p.mask[at] & bit);
      o[r * p.k + k] = nz ? (neg ? -1.f : 1.f) : 0.f;
    }
  return out;
}

PackedMatrix relayout(const PackedMatrix& p, PackLayout layout) {
  PackedMatrix q = make_packed(p.rows, p.k, p.kw, layout, p.ternary());
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t w = 0; w < p.kw; ++w) {
      q.sign[q.word_index(r, w)] = p.sign[p.word_index(r, w)];
      if (p.ternary()) q.mask[q.word_index(r, w)] = p.mask[p.word_index(r, w)];
    }
  if (p.ternary()) std::copy(p.nnz.begin(), p.nnz.begin() + p.rows, q.nnz.begin());
  return q;
}

}  // namespace lowbit::kernels
