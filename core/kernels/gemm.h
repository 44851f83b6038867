#pragma once
// Private: float GEMM on raw row-major buffers through OpenBLAS (cblas_sgemm).
//   C(M,N) = alpha · op(A) · op(B) + beta · C,  op(X) = X or Xᵀ.
// A is (M,K) or, with trans_a, stored (K,M); B is (K,N) or, with trans_b, stored (N,K).
// Leading dimensions are those of the stored, contiguous matrices.
#include <cstdint>

#include "core/tensor.h"

namespace lowbit::kernels {

enum class Trans { No, Yes };

void sgemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, const float* B, float beta, float* C);

/// Tensor form for 2-D tensors: returns op(a)·op(b).
Tensor gemm(const Tensor& a, const Tensor& b, Trans trans_a = Trans::No, Trans trans_b = Trans::No);

}  // namespace lowbit::kernels
