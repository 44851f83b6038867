#pragma once
// Private: which algorithm conv2d (core/ops/conv.cpp) uses for the input gradient, settable
// so that tests can check the faster path against the plain one on the same shapes and
// bench/conv_ab.cpp can time them against each other in one process. The default (Auto) is
// what training uses; nothing outside tests and benchmarks sets it.
namespace lowbit::kernels {

enum class ConvInputGrad {
  Auto,    ///< correlation where it applies and is cheaper, otherwise col2im
  Col2im,  ///< always wᵀ·g + col2im (any stride and padding)
};

void set_conv_input_grad(ConvInputGrad algo);
ConvInputGrad conv_input_grad();

}  // namespace lowbit::kernels
