// Legend: M rows of levels, N output units, K inputs; kg = ceil(K/4) groups of 4 bytes.
#include "packed/kernels/u8_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/check.h"
#include "packed/kernels/binary_gemm.h"
#include "packed/cpu_features.h"
#include "core/parallel.h"

namespace lowbit::packed {

namespace {

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
constexpr bool kHaveVnni = true;

// Rows [i0, i0 + R) × column blocks [b0, b0 + 4) of 16 columns; v rows padded to 4·kg bytes.
// Only the groups listed in `groups` (those where some row of the tile is nonzero: zero
// levels contribute nothing, and MNIST-like inputs are mostly 0).
template <int R>
void vnni_tile(const uint8_t* v, int64_t ldv, const int8_t* b, int64_t kg, const int32_t* groups,
               int64_t n_groups, int64_t i0, int64_t b0, int32_t* c, int64_t ldc, int64_t n) {
  __m512i acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) acc[r][q] = _mm512_setzero_si512();
  const int8_t* bp[4];
  for (int q = 0; q < 4; ++q) bp[q] = b + (b0 + q) * kg * 64;
  for (int64_t gi = 0; gi < n_groups; ++gi) {
    const int64_t g = groups[gi];
    __m512i w[4];
    for (int q = 0; q < 4; ++q) w[q] = _mm512_load_si512(bp[q] + g * 64);
    for (int r = 0; r < R; ++r) {
      int32_t a4;
      std::memcpy(&a4, v + (i0 + r) * ldv + 4 * g, 4);
      const __m512i a = _mm512_set1_epi32(a4);
      for (int q = 0; q < 4; ++q) acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], a, w[q]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) {
      const int64_t j = (b0 + q) * 16;
      if (j >= n) break;
      int32_t* out = c + (i0 + r) * ldc + j;
      if (j + 16 <= n) {
        _mm512_storeu_si512(out, acc[r][q]);
      } else {
        _mm512_mask_storeu_epi32(out, static_cast<__mmask16>((1u << (n - j)) - 1), acc[r][q]);
      }
    }
}

void vnni_gemm(const uint8_t* v, int64_t M, const U8Weights& w, int32_t* c) {
  const int64_t kg = w.kg, K = w.k, N = w.n;
  // Rows padded to whole groups of 4 bytes (padding 0).
  const int64_t ldv = 4 * kg;
  std::unique_ptr<uint8_t[]> padded;
  const uint8_t* vp = v;
  if (ldv != K) {
    padded = std::make_unique<uint8_t[]>(static_cast<size_t>(M * ldv));
    for (int64_t i = 0; i < M; ++i) std::memcpy(padded.get() + i * ldv, v + i * K, static_cast<size_t>(K));
    vp = padded.get();
  }
  // 4 rows × 4 blocks of 16 columns: 16 accumulators (6 rows measured slower here).
  constexpr int R = 4;
  const int64_t groups = w.n_pad / 64;  // 4 blocks of 16 columns
  const int64_t row_tiles = (M + R - 1) / R;
  // Per row tile, the K groups with a nonzero level (built once, used for every column).
  std::vector<int32_t> nz(static_cast<size_t>(row_tiles * kg));
  std::vector<int64_t> n_nz(static_cast<size_t>(row_tiles), 0);
  for (int64_t it = 0; it < row_tiles; ++it) {
    const int64_t i0 = it * R, i1 = std::min(M, i0 + R);
    int32_t* list = nz.data() + it * kg;
    for (int64_t g = 0; g < kg; ++g) {
      uint32_t any = 0;
      for (int64_t i = i0; i < i1; ++i) {
        uint32_t a4;
        std::memcpy(&a4, vp + i * ldv + 4 * g, 4);
        any |= a4;
      }
      if (any) list[n_nz[static_cast<size_t>(it)]++] = static_cast<int32_t>(g);
    }
  }
  kernels::parallel_for(
      groups * row_tiles,
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t gq = t / row_tiles, it = t % row_tiles;
          const int64_t i0 = it * R, rows = std::min<int64_t>(R, M - i0);
          const int8_t* b = w.vnni.data();
          const int32_t* list = nz.data() + it * kg;
          const int64_t n_list = n_nz[static_cast<size_t>(it)];
          switch (rows) {
            case 4: vnni_tile<4>(vp, ldv, b, kg, list, n_list, i0, 4 * gq, c, N, N); break;
            case 3: vnni_tile<3>(vp, ldv, b, kg, list, n_list, i0, 4 * gq, c, N, N); break;
            case 2: vnni_tile<2>(vp, ldv, b, kg, list, n_list, i0, 4 * gq, c, N, N); break;
            default: vnni_tile<1>(vp, ldv, b, kg, list, n_list, i0, 4 * gq, c, N, N); break;
          }
        }
      },
      R * 64 * kg);
}
#else
constexpr bool kHaveVnni = false;
void vnni_gemm(const uint8_t*, int64_t, const U8Weights&, int32_t*) {}
#endif

// The bit planes of v as one masked operand: plane n of row i is row n·M + i.
void planes_gemm(const uint8_t* v, int64_t M, const U8Weights& w, int32_t* c) {
  const int64_t K = w.k, N = w.n, kw = kernels::words_for(K);
  kernels::PackedMatrix a = kernels::make_packed(8 * M, K, kw, kernels::PackLayout::Rows, true);
  kernels::parallel_for(
      M,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t wd = 0; wd < kw; ++wd) {
            uint64_t plane[8] = {};
            const int64_t k1 = std::min(K, 64 * wd + 64);
            for (int64_t k = 64 * wd; k < k1; ++k) {
              const uint32_t level = v[i * K + k];
              for (int n = 0; n < 8; ++n)
                plane[n] |= static_cast<uint64_t>((level >> n) & 1u) << (k - 64 * wd);
            }
            for (int n = 0; n < 8; ++n) a.mask[static_cast<size_t>((n * M + i) * kw + wd)] = plane[n];
          }
      },
      K);
  kernels::count_nnz(a);
  const auto d = std::make_unique_for_overwrite<int32_t[]>(static_cast<size_t>(8 * M * N));
  kernels::packed_gemm(a, w.planes_b, d.get(), N);
  kernels::parallel_for(
      M,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          int32_t* out = c + i * N;
          std::fill(out, out + N, 0);
          for (int n = 0; n < 8; ++n) {
            const int32_t* dn = d.get() + (n * M + i) * N;
            for (int64_t j = 0; j < N; ++j) out[j] += dn[j] * (1 << n);
          }
        }
      },
      8 * N);
}

}  // namespace

U8Weights pack_u8_weights(const Tensor& unit) {
  LB_CHECK(unit.defined() && unit.dim() == 2, "pack_u8_weights: expected (N, K) weights");
  U8Weights w;
  w.n = unit.size(0);
  w.k = unit.size(1);
  w.planes_b = unit.size(1) > 0 ? kernels::pack_ternary(unit, kernels::PackLayout::Panels)
                                : kernels::PackedMatrix{};
  if (kHaveVnni) {
    w.kg = (w.k + 3) / 4;
    w.n_pad = (w.n + 63) / 64 * 64;
    w.vnni.assign(static_cast<size_t>(w.n_pad * w.kg * 4), 0);
    const float* u = unit.data();
    for (int64_t j = 0; j < w.n; ++j)
      for (int64_t k = 0; k < w.k; ++k)
        w.vnni[static_cast<size_t>(((j / 16) * w.kg + k / 4) * 64 + (j % 16) * 4 + k % 4)] =
            static_cast<int8_t>(u[j * w.k + k]);
  }
  return w;
}

bool u8_gemm_uses_vnni(const U8Weights& w) {
  return !w.vnni.empty() && kernels::active_isa() == kernels::Isa::Avx512;
}

void u8_gemm(const uint8_t* v, int64_t M, const U8Weights& w, int32_t* c) {
  if (M == 0 || w.n == 0) return;
  if (u8_gemm_uses_vnni(w))
    vnni_gemm(v, M, w, c);
  else
    planes_gemm(v, M, w, c);
}

}  // namespace lowbit::packed
