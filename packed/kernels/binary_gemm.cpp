// Driver of the packed GEMMs: operand checks, mode, ISA dispatch, cache blocking and threads.
// The register-tiled inner kernels live in binary_gemm_{scalar,avx2,avx512}.cpp.
//
// Legend: M, N, K as in binary_gemm.h; kw = words per row; P = ceil(N / 8) panels of B.
#include "packed/kernels/binary_gemm.h"

#include <algorithm>

#include "core/check.h"
#include "packed/kernels/binary_gemm_kernels.h"
#include "packed/cpu_features.h"
#include "core/parallel.h"
#include "core/threads.h"

namespace lowbit::kernels {

namespace detail {

void store_dots(const GemmArgs& g, int64_t i, int64_t j, int64_t n, const int64_t* pop,
                const int64_t* cnt) {
  for (int64_t c = 0; c < n; ++c) {
    int64_t base = 0;
    switch (g.mode) {
      case GemmMode::Binary:
        base = g.K;
        break;
      case GemmMode::MaskA:
        base = g.a_nnz[i];
        break;
      case GemmMode::MaskB:
        base = g.b_nnz[j + c];
        break;
      case GemmMode::Ternary:
        base = cnt[c];
        break;
    }
    const int64_t dot = base - 2 * pop[c];
    if (g.c_i32) {
      g.c_i32[i * g.ldc + j + c] = static_cast<int32_t>(dot);
      continue;
    }
    float v = static_cast<float>(dot);
    if (g.row_scale) v *= g.row_scale[i];
    if (g.col_scale) v *= g.col_scale[j + c];
    if (g.row_bias) v += g.row_bias[i];
    if (g.col_bias) v += g.col_bias[j + c];
    g.c_f32[i * g.ldc + j + c] = v;
  }
}

}  // namespace detail

namespace {

using detail::GemmArgs;
using detail::GemmMode;

const detail::KernelInfo& kernel_for(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return detail::kScalarKernel;
    case Isa::Avx2:
      return detail::kAvx2Kernel;
    case Isa::Avx512:
      return detail::kAvx512Kernel;
  }
  return detail::kScalarKernel;
}

// B is streamed once per row tile, so a block of B panels should stay in L2 (>= 1 MB per
// core on current x86 server parts; half of it leaves room for A and C).
constexpr int64_t kL2BlockBytes = 512 * 1024;

GemmArgs make_args(const PackedMatrix& a, const PackedMatrix& b, int64_t ldc, const char* fn) {
  LB_CHECK(a.layout == PackLayout::Rows, fn,
           ": A must be packed with PackLayout::Rows (it is Panels); use relayout()");
  LB_CHECK(b.layout == PackLayout::Panels, fn,
           ": B must be packed with PackLayout::Panels (it is Rows); use relayout()");
  LB_CHECK(a.k == b.k && a.kw == b.kw, fn, ": inner dimensions differ: A is (", a.rows, ", K=", a.k,
           ", ", a.kw, " words), B is (", b.rows, ", K=", b.k, ", ", b.kw, " words)");
  LB_CHECK(ldc >= b.rows, fn, ": ldc=", ldc, " is smaller than N=", b.rows);
  GemmArgs g;
  g.mode = a.ternary() ? (b.ternary() ? GemmMode::Ternary : GemmMode::MaskA)
                       : (b.ternary() ? GemmMode::MaskB : GemmMode::Binary);
  g.M = a.rows;
  g.N = b.rows;
  g.K = a.k;
  g.kw = a.kw;
  g.a_sign = a.sign.data();
  g.a_mask = a.ternary() ? a.mask.data() : nullptr;
  g.a_nnz = a.ternary() ? a.nnz.data() : nullptr;
  g.b_sign = b.sign.data();
  g.b_mask = b.ternary() ? b.mask.data() : nullptr;
  g.b_nnz = b.ternary() ? b.nnz.data() : nullptr;
  g.ldc = ldc;
  return g;
}

void run(const GemmArgs& g) {
  if (g.M == 0 || g.N == 0) return;
  const detail::KernelInfo& kern = kernel_for(active_isa());
  const int64_t rt = kern.tile_rows[static_cast<int>(g.mode)];
  const int64_t P = (g.N + kPanel - 1) / kPanel;
  const int64_t planes = (g.b_mask ? 2 : 1);
  const int64_t panel_bytes = std::max<int64_t>(1, g.kw) * kPanel * 8 * planes;
  const int64_t row_tiles = (g.M + rt - 1) / rt;
  const int64_t T = num_threads();
  // Panels per block: what fits the L2 budget, but split further when there are too few row
  // tiles to keep every thread busy (batch-1 inference: M = 1).
  // Multiples of 4 panels (the widest register tile) so that blocks end on full tiles.
  int64_t nc = std::max<int64_t>(4, kL2BlockBytes / panel_bytes / 4 * 4);
  if (row_tiles < T) nc = std::min(nc, ((P * row_tiles + T - 1) / T + 3) / 4 * 4);
  nc = std::min(nc, P);
  const int64_t col_blocks = (P + nc - 1) / nc;
  const int64_t tasks = col_blocks * row_tiles;
  // Cost of a task in 512-bit xor+popcount+add steps.
  const int64_t cost = rt * nc * std::max<int64_t>(1, g.kw);
  parallel_for(
      tasks,
      [&](int64_t t0, int64_t t1) {
        // Tasks are (column block, row tile), row tiles fastest: a thread's range is a run of
        // consecutive rows per column block, one kernel call per block.
        int64_t t = t0;
        while (t < t1) {
          const int64_t cb = t / row_tiles, it = t % row_tiles;
          const int64_t it_end = std::min(row_tiles, it + (t1 - t));
          const int64_t p0 = cb * nc, p1 = std::min(P, p0 + nc);
          kern.block(g, it * rt, std::min(g.M, it_end * rt), p0, p1);
          t += it_end - it;
        }
      },
      cost);
}

void gemm_f32(const PackedMatrix& a, const PackedMatrix& b, float* c, int64_t ldc,
              const GemmEpilogue& ep, const char* fn) {
  GemmArgs g = make_args(a, b, ldc, fn);
  LB_CHECK(c != nullptr || g.M * g.N == 0, fn, ": null output pointer");
  g.c_f32 = c;
  g.row_scale = ep.row_scale;
  g.col_scale = ep.col_scale;
  g.row_bias = ep.row_bias;
  g.col_bias = ep.col_bias;
  run(g);
}

void gemm_i32(const PackedMatrix& a, const PackedMatrix& b, int32_t* c, int64_t ldc,
              const char* fn) {
  GemmArgs g = make_args(a, b, ldc, fn);
  LB_CHECK(c != nullptr || g.M * g.N == 0, fn, ": null output pointer");
  g.c_i32 = c;
  run(g);
}

void require_binary(const PackedMatrix& a, const PackedMatrix& b, const char* fn) {
  LB_CHECK(!a.ternary() && !b.ternary(), fn, ": expected two binary (±1) operands, got ",
           a.ternary() ? "a ternary A" : "a binary A", " and ",
           b.ternary() ? "a ternary B" : "a binary B", "; use ternary_gemm");
}

void require_ternary(const PackedMatrix& a, const PackedMatrix& b, const char* fn) {
  LB_CHECK(a.ternary() || b.ternary(), fn,
           ": both operands are binary (±1); use binary_gemm, or pack with pack_ternary");
}

}  // namespace

void packed_gemm(const PackedMatrix& a, const PackedMatrix& b, float* c, int64_t ldc,
                 const GemmEpilogue& ep) {
  gemm_f32(a, b, c, ldc, ep, "packed_gemm");
}

void packed_gemm(const PackedMatrix& a, const PackedMatrix& b, int32_t* c, int64_t ldc) {
  gemm_i32(a, b, c, ldc, "packed_gemm");
}

void binary_gemm(const PackedMatrix& a, const PackedMatrix& b, float* c, int64_t ldc,
                 const GemmEpilogue& ep) {
  require_binary(a, b, "binary_gemm");
  gemm_f32(a, b, c, ldc, ep, "binary_gemm");
}

void binary_gemm(const PackedMatrix& a, const PackedMatrix& b, int32_t* c, int64_t ldc) {
  require_binary(a, b, "binary_gemm");
  gemm_i32(a, b, c, ldc, "binary_gemm");
}

Tensor binary_gemm(const PackedMatrix& a, const PackedMatrix& b, const GemmEpilogue& ep) {
  require_binary(a, b, "binary_gemm");
  Tensor c = Tensor::empty({a.rows, b.rows});
  gemm_f32(a, b, c.data(), b.rows, ep, "binary_gemm");
  return c;
}

void ternary_gemm(const PackedMatrix& a, const PackedMatrix& b, float* c, int64_t ldc,
                  const GemmEpilogue& ep) {
  require_ternary(a, b, "ternary_gemm");
  gemm_f32(a, b, c, ldc, ep, "ternary_gemm");
}

void ternary_gemm(const PackedMatrix& a, const PackedMatrix& b, int32_t* c, int64_t ldc) {
  require_ternary(a, b, "ternary_gemm");
  gemm_i32(a, b, c, ldc, "ternary_gemm");
}

Tensor ternary_gemm(const PackedMatrix& a, const PackedMatrix& b, const GemmEpilogue& ep) {
  require_ternary(a, b, "ternary_gemm");
  Tensor c = Tensor::empty({a.rows, b.rows});
  gemm_f32(a, b, c.data(), b.rows, ep, "ternary_gemm");
  return c;
}

}  // namespace lowbit::kernels
