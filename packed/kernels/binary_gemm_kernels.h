#pragma once
// Private to the packed GEMM (binary_gemm.cpp and the per-ISA kernel files): the argument
// block and the per-ISA block kernels.
//
// The ISA files (binary_gemm_{scalar,avx2,avx512}.cpp) are compiled with their own -march
// (core/CMakeLists.txt) so that every path exists whatever the project's -march. They include
// only this header, <cstdint> and <immintrin.h>, and keep their helpers in anonymous
// namespaces: an inline function shared with other files could be emitted with the ISA's
// instructions and picked by the linker for every caller, which would break the dispatch.
#include <cstdint>

namespace lowbit::kernels::detail {

/// Which operands carry a mask plane (see binary_gemm.h for the formulas).
enum class GemmMode : int { Binary = 0, MaskA = 1, MaskB = 2, Ternary = 3 };

/// Everything a block kernel needs. A is Rows-packed (row i at a_sign + i·kw), B is
/// Panels-packed (panel p at b_sign + p·kw·8). Exactly one of c_f32 / c_i32 is set.
struct GemmArgs {
  GemmMode mode = GemmMode::Binary;
  int64_t M = 0, N = 0, K = 0, kw = 0;
  const uint64_t* a_sign = nullptr;
  const uint64_t* a_mask = nullptr;
  const int32_t* a_nnz = nullptr;
  const uint64_t* b_sign = nullptr;
  const uint64_t* b_mask = nullptr;
  const int32_t* b_nnz = nullptr;  // padded to a multiple of 8 entries
  float* c_f32 = nullptr;
  int32_t* c_i32 = nullptr;
  int64_t ldc = 0;
  const float* row_scale = nullptr;
  const float* col_scale = nullptr;
  const float* row_bias = nullptr;
  const float* col_bias = nullptr;
};

/// Computes C for rows [i0, i1) and panels [p0, p1) (columns 8·p0 .. min(N, 8·p1)).
using BlockKernel = void (*)(const GemmArgs& g, int64_t i0, int64_t i1, int64_t p0, int64_t p1);

struct KernelInfo {
  BlockKernel block;
  /// Rows of the register tile per mode (the driver splits rows across threads in these units).
  int tile_rows[4];
};

extern const KernelInfo kScalarKernel;
extern const KernelInfo kAvx2Kernel;
extern const KernelInfo kAvx512Kernel;

/// Shared epilogue for kernels without a vector one (scalar, AVX2): row i, columns
/// [j, j + n), pop[c] = Σ popcount(masked xor), cnt[c] = Σ popcount(mA & mB) (Ternary only).
/// Compiled once in binary_gemm.cpp with the project's flags.
void store_dots(const GemmArgs& g, int64_t i, int64_t j, int64_t n, const int64_t* pop,
                const int64_t* cnt);

}  // namespace lowbit::kernels::detail
