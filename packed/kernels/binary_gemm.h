#pragma once
// Private: popcount GEMMs on bit-packed ±1 and ternary matrices (issue #6).
//
//   C(M, N) = A(M, K) · Bᵀ   with A packed in PackLayout::Rows (M rows) and B packed in
//   PackLayout::Panels (N rows, i.e. B is already "transposed", like a Linear weight (out, in)).
//
// Per entry, with the bit encoding of bitpack.h:
//   binary  × binary : dot = K - 2·popcount(sA xor sB)
//   ternary × binary : dot = nnz(A_i) - 2·popcount(mA & (sA xor sB))     (and mirrored)
//   ternary × ternary: dot = popcount(mA & mB) - 2·popcount(mA & mB & (sA xor sB))
// All are exact integers; float output converts them exactly (|dot| <= K < 2^24 assumed).
//
// Dispatch: the kernels of active_isa() (cpu_features.h): scalar POPCNT, AVX2 (pshufb nibble
// popcount) or AVX-512 VPOPCNTDQ, each register-tiled (the A word is broadcast and xor-ed
// with 8 panel columns at once) with B blocked to stay in L2, and rows (or, for short A,
// column blocks) spread over the threads of kernels::parallel_for.
//
//   PackedMatrix a = pack_binary(x, PackLayout::Rows);      // (M, K)
//   PackedMatrix b = pack_ternary(w, PackLayout::Panels);   // (N, K), TWN weights
//   Tensor y = ternary_gemm(a, b, {.col_scale = alpha});     // y = α_j · Σ_k x_ik·t_jk
#include <cstdint>

#include "packed/kernels/bitpack.h"
#include "core/tensor.h"

namespace lowbit::kernels {

/// Output transform of the float GEMMs, evaluated in this order, each term only when its
/// pointer is non-null:
///   C[i][j] = float(dot_ij) · row_scale[i] · col_scale[j] + row_bias[i] + col_bias[j]
/// row_* have M entries, col_* have N entries.
struct GemmEpilogue {
  const float* row_scale = nullptr;
  const float* col_scale = nullptr;
  const float* row_bias = nullptr;
  const float* col_bias = nullptr;
};

/// ±1 × ±1: C[i][j] = K - 2·popcount(A_i xor B_j), then the epilogue.
/// a: Rows layout (M, K) binary; b: Panels layout (N, K) binary, same K and kw.
/// c: row-major, leading dimension ldc >= N. Throws lowbit::Error on mismatched operands.
void binary_gemm(const PackedMatrix& a, const PackedMatrix& b, float* c, int64_t ldc,
                 const GemmEpilogue& ep = {});
/// Integer form (no epilogue).
void binary_gemm(const PackedMatrix& a, const PackedMatrix& b, int32_t* c, int64_t ldc);
/// Returns the (M, N) float result.
Tensor binary_gemm(const PackedMatrix& a, const PackedMatrix& b, const GemmEpilogue& ep = {});

/// Same contract for operands of which at least one is ternary (ternary weights × binary
/// activations, ternary × ternary, masked activations × binary weights). Throws if both are
/// binary (use binary_gemm) — a guard against packing the wrong way.
void ternary_gemm(const PackedMatrix& a, const PackedMatrix& b, float* c, int64_t ldc,
                  const GemmEpilogue& ep = {});
void ternary_gemm(const PackedMatrix& a, const PackedMatrix& b, int32_t* c, int64_t ldc);
Tensor ternary_gemm(const PackedMatrix& a, const PackedMatrix& b, const GemmEpilogue& ep = {});

/// Any mix of binary and ternary operands (what binary_gemm / ternary_gemm call).
void packed_gemm(const PackedMatrix& a, const PackedMatrix& b, float* c, int64_t ldc,
                 const GemmEpilogue& ep = {});
void packed_gemm(const PackedMatrix& a, const PackedMatrix& b, int32_t* c, int64_t ldc);

}  // namespace lowbit::kernels
