#pragma once
// Private: the product w · cols of a convolution (one image) without OpenBLAS, for stride-1
// layers whose output rows tile 32-pixel panels (OW = 32, 16 or 8 with OH a multiple of
// 32 / OW) and whose output channels come in multiples of 8. conv2d (core/ops/conv.cpp) uses
// it for small feature maps only (an image narrower than one good OpenBLAS GEMM: VGG-small's
// 8×8 layers, LeNet-5's second layer), where OpenBLAS needs several images per GEMM, a
// scatter of its output back into NCHW and its packing copy of cols.
//
// Here a panel of cols, (C·KH·KW, 32) for 32 output pixels, is written in the layout the
// micro-kernel reads (contiguous, 64-byte aligned, in L1/L2), and an 8 × 32 micro-kernel
// multiplies it with the weights (packed once per call) straight into NCHW. Measured in one
// process, alternating (bench/conv_ab --compare product, 1 and 2 threads, CPU time), a
// conv → batch norm → relu training block: VGG-small's 8×8 layers 1.14–1.19x, LeNet-5's
// second layer 1.07–1.09x faster than im2col + OpenBLAS (the forward pass alone, as in
// evaluation: 1.26–1.32x); VGG-small's 16×16 and 32×32 layers were 0.93–0.98x with the
// kernel, which is why those stay on OpenBLAS.
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

/// Floats of the scratch one conv_panels_image call needs (64-byte aligned, or every load
/// of the panel splits a cache line: that made the kernel slower than OpenBLAS).
int64_t conv_panels_scratch(const ConvGeom& g);

/// y (OC, OH·OW) = w · im2col(x) for one image x (C, H, W), w packed as above.
void conv_panels_image(const float* x, const ConvGeom& g, const float* packed_w, int64_t OC,
                       float* scratch, float* y);

}  // namespace lowbit::kernels
