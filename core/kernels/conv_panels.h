#pragma once
// Private: the product w · cols of a convolution (one image) without OpenBLAS, for layers
// whose output rows tile 32-pixel panels (OW = 32, 16 or 8 with OH a multiple of 32 / OW) and
// whose output channels come in multiples of 8: VGG-small's convolutions.
//
// Why: OpenBLAS copies cols into its packed layout before multiplying, a second pass over a
// matrix KH·KW times the size of the input (its packing was the largest cost after the
// multiply itself when evaluating VGG-small, perf). Here im2col writes cols panel by panel,
// (C·KH·KW, 32) for 32 output pixels, already the layout the micro-kernel reads (contiguous,
// in L1/L2), and the micro-kernel multiplies it with the weights packed once per call.
//
// Result: y (OC, OH·OW) = w (OC, C·KH·KW) · cols, each output summed over k in order in one
// fused multiply-add chain (deterministic; a different rounding order from OpenBLAS).
#include <cstdint>
#include <memory>

#include "core/kernels/im2col.h"

namespace lowbit::kernels {

/// True when this build has the kernel (AVX-512) and the layer's shape fits it.
bool conv_panels_apply(const ConvGeom& g, int64_t OC);

/// Weights w (OC, K) in the kernel's order: blocks of 8 output channels, (K, 8) each.
std::unique_ptr<float[]> conv_panels_pack_weights(const float* w, int64_t OC, int64_t K);

/// Floats of the scratch one conv_panels_image call needs.
int64_t conv_panels_scratch(const ConvGeom& g);

/// y (OC, OH·OW) = w · im2col(x) for one image x (C, H, W), w packed as above.
void conv_panels_image(const float* x, const ConvGeom& g, const float* packed_w, int64_t OC,
                       float* scratch, float* y);

}  // namespace lowbit::kernels
