#pragma once
// Private: binary / ternary conv2d through a bit-packed im2col and the packed GEMM (issue #6).
//
// Legend: N batch, C input channels, H, W input size, OC output channels, KH, KW kernel,
// OH = (H + 2·padding - KH) / stride + 1 (OW likewise), Q = OH·OW output positions,
// cw = ceil(C / 64) words per pixel.
//
// Bit order. Pixels are packed channel-last: pixel (n, h, w) holds cw words, channel c at bit
// c % 64 of word c / 64 (bits from C up to 64·cw are padding, 0 in every plane). A conv row
// of K = C·KH·KW entries is the KH·KW pixel groups in (kh, kw) order, each cw words, so the
// im2col is a copy of whole words, and the weights are packed in the same order.
//
// Padding semantics (the exact training-time meaning). The float conv of the training
// simulation pads with 0, and a 0 tap is neither +1 nor -1: it contributes nothing. Here a
// padded tap gets mask bit 0 in the im2col operand (so the GEMM runs in a masked mode with
// nnz = C · valid taps for ±1 input), which makes the packed result equal, exactly, to the
// float conv2d of the ±1 tensors with zero padding — not to a conv whose padding is +1 or -1.
// Without padding and with ±1 input no mask is needed and the plain binary GEMM runs.
//
//   PackedConvWeights pw = pack_conv_weights(w, /*ternary=*/false);   // w: (OC, C, KH, KW)
//   Tensor y = binary_conv2d(x, pw, {.stride = 1, .padding = 1});      // x: (N, C, H, W)
#include <cstdint>

#include "packed/kernels/binary_gemm.h"
#include "packed/kernels/bitpack.h"
#include "core/tensor.h"

namespace lowbit::kernels {

/// Channel-last bit-packed activations; see the bit order above.
struct PackedImage {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t cw = 0;
  /// Word j of pixel (b, y, x) at [((b·h + y)·w + x)·cw + j].
  WordVector sign;
  /// Empty for ±1 activations; bit 1 <-> nonzero for ternary ones.
  WordVector mask;
  bool ternary() const { return !mask.empty(); }
};

/// Packs x (N, C, H, W): sign bit = (x < 0); with ternary, mask bit = (x != 0).
PackedImage pack_image(const Tensor& x, bool ternary = false);

/// Conv weights packed as the GEMM A operand (Rows layout, OC rows, kw = KH·KW·cw words).
struct PackedConvWeights {
  PackedMatrix w;
  int64_t in_channels = 0, kernel_h = 0, kernel_w = 0, cw = 0;
  int64_t out_channels() const { return w.rows; }
};

/// Packs w (OC, C, KH, KW) by sign (binary) or as {-1, 0, +1} (ternary: sign and x != 0).
PackedConvWeights pack_conv_weights(const Tensor& w, bool ternary = false);

struct BinaryConv2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  /// Optional per-output-channel transform (OC entries): out = dot · scale[oc] + bias[oc].
  const float* channel_scale = nullptr;
  const float* channel_bias = nullptr;
};

/// Bit-packed im2col of image b: the GEMM B operand (Panels layout) with Q rows (one per
/// output position) of K = C·KH·KW entries; masked when padding > 0 or x is ternary.
PackedMatrix im2col_packed(const PackedImage& x, int64_t b, int64_t kernel_h, int64_t kernel_w,
                           int64_t stride, int64_t padding);
/// Same, into `out`, reusing its storage (one buffer for every image of a batch).
void im2col_packed(const PackedImage& x, int64_t b, int64_t kernel_h, int64_t kernel_w,
                   int64_t stride, int64_t padding, PackedMatrix& out);

/// out[b, oc, oh, ow] = Σ_{c,kh,kw} w[oc, c, kh, kw] · x[b, c, oh·s - p + kh, ow·s - p + kw]
/// with out-of-image x = 0, for ±1 or ternary x and w, then the channel transform.
/// Returns (N, OC, OH, OW). Throws lowbit::Error on mismatched shapes or bad options.
Tensor binary_conv2d(const PackedImage& x, const PackedConvWeights& w,
                     const BinaryConv2dOptions& opt = {});
/// Packs x (N, C, H, W) first (ternary_input: {-1, 0, +1} activations).
Tensor binary_conv2d(const Tensor& x, const PackedConvWeights& w,
                     const BinaryConv2dOptions& opt = {}, bool ternary_input = false);

}  // namespace lowbit::kernels
