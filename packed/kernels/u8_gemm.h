#pragma once
// Private to apps/packed: the integer GEMM behind a binary/ternary layer fed by 8-bit input
// levels (PackedLayerOptions::input_lut):
//
//   C[i][j] = Σ_k v[i][k] · u[j][k]     v: (M, K) levels 0..255, u: (N, K) in {−1, 0, +1}
//
// exact in int32 (|C| <= 255·K). Two implementations, chosen per call:
//   - AVX-512 VNNI (vpdpbusd: 64 u8·s8 products per instruction), register-tiled 4 rows ×
//     64 columns, skipping groups of 4 inputs that are 0 in all rows of a tile (exact: a 0
//     level contributes nothing; MNIST digits are mostly background), when this file was compiled for a CPU with AVX512_VNNI and the packed
//     kernels' active ISA (packed/cpu_features.h) is avx512;
//   - otherwise the 8 bit planes of v as the masked operand of the popcount GEMM
//     (kernels::packed_gemm): Σ_k v·u = Σ_n 2^n Σ_k bit_n(v)·u.
//
//   U8Weights w = pack_u8_weights(unit);           // unit: (N, K) floats in {−1, 0, +1}
//   u8_gemm(levels.data(), M, w, c.data());        // c: (M, N) int32
#include <cstdint>
#include <vector>

#include "packed/kernels/bitpack.h"
#include "core/tensor.h"

namespace lowbit::packed {

/// The weights in both forms (built once at load time).
struct U8Weights {
  int64_t n = 0, k = 0;
  /// VNNI layout: columns in blocks of 16, K in groups of 4 bytes: byte t of column j, group g
  /// at [((j / 16)·kg + g)·64 + (j % 16)·4 + t], kg = ceil(K / 4); padding 0. Empty when the
  /// VNNI kernel is not compiled in.
  std::vector<int8_t, kernels::AlignedAllocator<int8_t>> vnni;
  int64_t kg = 0, n_pad = 0;
  /// The popcount GEMM's B operand (Panels layout).
  kernels::PackedMatrix planes_b;
};

U8Weights pack_u8_weights(const Tensor& unit);

/// True when u8_gemm uses the VNNI kernel under the current ISA.
bool u8_gemm_uses_vnni(const U8Weights& w);

/// c (M, N) row-major = v · uᵀ; v: M rows of K bytes (row stride K).
void u8_gemm(const uint8_t* v, int64_t M, const U8Weights& w, int32_t* c);

}  // namespace lowbit::packed
