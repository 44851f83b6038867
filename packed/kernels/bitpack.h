#pragma once
// Private: bit packing of ±1 and ternary matrices for the popcount GEMMs (issue #6).
//
// Legend: rows = M (GEMM A operand) or N (B operand); K = entries per row; kw = 64-bit words
// per row.
//
// Encoding. Entry k of a row is bit k % 64 of word k / 64 of that row.
//   sign plane: bit 1 <-> -1, bit 0 <-> +1. A float v packs to the sign bit (v < 0), so
//     v >= 0 (and -0.0, and NaN) is +1: the training binarizer's convention, q(x) = +1 for
//     x >= 0 (quant/functions.h, ste_sign).
//   mask plane (ternary matrices only): bit 1 <-> nonzero. v == 0 packs to mask 0 and sign 0,
//     so the sign plane is always a subset of the mask plane.
// Dot products. For ±1 entries a·b = 1 - 2·(sa xor sb), so for two rows
//     Σ a·b = K - 2·popcount(A xor B),
//   and with masks (either side may be binary, i.e. all ones)
//     Σ a·b = popcount(mA & mB) - 2·popcount(mA & mB & (sA xor sB)).
// Padding. Bits that are not entries (the tail of the last word, words up to kw, rows past
//   `rows` in the panel layout, channel padding inside a conv im2col row) are 0 in every
//   plane of both operands: they xor to 0 and have mask 0, so they never change a dot product
//   as long as the binary formula uses the real K (PackedMatrix::k), not 64·kw.
//
// Layouts.
//   Rows   (GEMM A operand): word w of row r at [r·kw + w].
//   Panels (GEMM B operand): rows in groups of kPanel = 8, word w of row r at
//          [((r / 8)·kw + w)·8 + r % 8]. One 512-bit load holds word w of 8 rows, which the
//          kernels xor with a broadcast word of A: 8 output columns per vector, so the K loop
//          needs no horizontal reduction at its end.
//
//   PackedMatrix a = pack_binary(x, PackLayout::Rows);     // x: (M, K) activations
//   PackedMatrix b = pack_binary(w, PackLayout::Panels);   // w: (N, K) weights, like Linear
//   Tensor y = binary_gemm(a, b);                          // (M, N) = x · wᵀ for ±1 x, w
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "core/tensor.h"

namespace lowbit::kernels {

/// Rows per panel of the Panels layout (one 512-bit vector of 64-bit words).
inline constexpr int64_t kPanel = 8;

enum class PackLayout { Rows, Panels };

/// 64-byte aligned allocator (whole cache lines; aligned 512-bit loads of panels).
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, size_t) { ::operator delete (p, std::align_val_t{64}); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
};
using WordVector = std::vector<uint64_t, AlignedAllocator<uint64_t>>;

/// A bit-packed ±1 (binary) or {-1, 0, +1} (ternary) matrix; see the encoding above.
struct PackedMatrix {
  int64_t rows = 0;
  /// Real entries per row: the K of Σ a·b = K - 2·popcount(A xor B).
  int64_t k = 0;
  /// Words per row (>= ceil(k / 64); larger when rows hold internal padding, as in conv).
  int64_t kw = 0;
  PackLayout layout = PackLayout::Rows;
  WordVector sign;
  /// Empty for a binary matrix.
  WordVector mask;
  /// Ternary only: mask bits per row, padded_rows() entries (padding rows count 0).
  std::vector<int32_t> nnz;

  bool ternary() const { return !mask.empty(); }
  /// rows, rounded up to a multiple of kPanel for the Panels layout.
  int64_t padded_rows() const {
    return layout == PackLayout::Panels ? (rows + kPanel - 1) / kPanel * kPanel : rows;
  }
  /// Position of word w of row r in sign / mask.
  int64_t word_index(int64_t r, int64_t w) const {
    return layout == PackLayout::Rows ? r * kw + w : ((r / kPanel) * kw + w) * kPanel + r % kPanel;
  }
  /// Storage in bytes (planes + nnz), for memory reports.
  int64_t bytes() const {
    return static_cast<int64_t>((sign.size() + mask.size()) * sizeof(uint64_t) +
                                nnz.size() * sizeof(int32_t));
  }
};

/// Words per row for K contiguous entries: ceil(K / 64).
inline int64_t words_for(int64_t K) { return (K + 63) / 64; }

/// A zero matrix (every entry +1 if binary, 0 if ternary) for packers that write words
/// directly (im2col). Call count_nnz() after filling a ternary mask.
PackedMatrix make_packed(int64_t rows, int64_t K, int64_t kw, PackLayout layout, bool ternary);
/// Recomputes nnz from the mask plane (ternary matrices).
void count_nnz(PackedMatrix& p);

/// Packs the signs of a row-major (rows, K) float matrix with leading dimension ld >= K:
/// entry = -1 if x < 0 else +1.
PackedMatrix pack_binary(const float* x, int64_t rows, int64_t K, int64_t ld, PackLayout layout);
/// Packs a ternary matrix: entry = -1 if x < 0, +1 if x > 0, 0 if x == 0 (so α·{-1,0,1}
/// ternarized weights pack directly, whatever α > 0).
PackedMatrix pack_ternary(const float* x, int64_t rows, int64_t K, int64_t ld, PackLayout layout);
/// Tensor forms: x is 2-D (rows, K).
PackedMatrix pack_binary(const Tensor& x, PackLayout layout);
PackedMatrix pack_ternary(const Tensor& x, PackLayout layout);

/// (rows, K) float tensor of the entries in {-1, +1} or {-1, 0, +1}. Needs contiguous
/// entries (kw == words_for(k)); throws otherwise.
Tensor unpack(const PackedMatrix& p);
/// The same matrix in another layout.
PackedMatrix relayout(const PackedMatrix& p, PackLayout layout);

}  // namespace lowbit::kernels
