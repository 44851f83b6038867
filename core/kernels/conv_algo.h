#pragma once
// Private: which algorithms conv2d (core/ops/conv.cpp) and its im2col (core/kernels/im2col.cpp)
// use, settable so that tests can check the faster path against the plain one on the same
// shapes and bench/conv_ab.cpp can time them against each other in one process. The defaults
// (Auto) are what training uses; nothing outside tests and benchmarks sets them.
namespace lowbit::kernels {

/// The input gradient.
enum class ConvInputGrad {
  Auto,    ///< correlation where it applies and is cheaper, otherwise col2im
  Col2im,  ///< always wᵀ·g + col2im (any stride and padding)
};

void set_conv_input_grad(ConvInputGrad algo);
ConvInputGrad conv_input_grad();

/// The products w · cols of the forward pass and of the correlation input gradient.
enum class ConvProduct {
  Auto,  ///< core/kernels/conv_panels.h where it applies, otherwise OpenBLAS
  Blas,  ///< always im2col + OpenBLAS sgemm
};

void set_conv_product(ConvProduct algo);
ConvProduct conv_product();

/// The weight gradient, the same dot products over the batch's output pixels either way.
enum class ConvWeightGrad {
  Auto,    ///< gwᵀ (CKK, OC) = cols · gᵀ, transposed into gw at the end of each chunk
  Direct,  ///< gw (OC, CKK) = g · colsᵀ
};

void set_conv_weight_grad(ConvWeightGrad algo);
ConvWeightGrad conv_weight_grad();

/// How im2col fills a row of cols. Both give the same matrix (pure data movement).
enum class Im2colRows {
  Auto,      ///< one contiguous copy per row where the output is as wide as the input (stride
             ///< 1, "same" padding) and wider than 16, otherwise segment by segment
  Segments,  ///< always segment by segment (one output row of OW values at a time)
};

void set_im2col_rows(Im2colRows algo);
Im2colRows im2col_rows();

}  // namespace lowbit::kernels
