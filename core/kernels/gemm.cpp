#include "core/kernels/gemm.h"

#include <cblas.h>

#include "core/check.h"
#include "core/threads.h"

namespace lowbit::kernels {

void sgemm(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, const float* B, float beta, float* C) {
  if (M == 0 || N == 0) return;
  (void)num_threads();  // applies LOWBIT_NUM_THREADS to OpenBLAS before its first call
  const bool ta = trans_a == Trans::Yes, tb = trans_b == Trans::Yes;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
              static_cast<int>(ta ? M : K), B, static_cast<int>(tb ? K : N), beta, C,
              static_cast<int>(N));
}

Tensor gemm(const Tensor& a, const Tensor& b, Trans trans_a, Trans trans_b) {
  LB_CHECK(a.dim() == 2 && b.dim() == 2, "gemm: expected 2-D operands, got ", a.shape(), " and ",
           b.shape());
  const int64_t M = trans_a == Trans::Yes ? a.size(1) : a.size(0);
  const int64_t Ka = trans_a == Trans::Yes ? a.size(0) : a.size(1);
  const int64_t Kb = trans_b == Trans::Yes ? b.size(1) : b.size(0);
  const int64_t N = trans_b == Trans::Yes ? b.size(0) : b.size(1);
  LB_CHECK(Ka == Kb, "gemm: inner dimensions differ: ", a.shape(), (trans_a == Trans::Yes ? "ᵀ" : ""),
           " · ", b.shape(), (trans_b == Trans::Yes ? "ᵀ" : ""));
  Tensor c = Tensor::empty({M, N});
  if (Ka == 0) return c.fill_(0.f);
  sgemm(trans_a, trans_b, M, N, Ka, 1.f, a.data(), b.data(), 0.f, c.data());
  return c;
}

}  // namespace lowbit::kernels
