#include <algorithm>
#include <atomic>
#include <memory>

#include "core/check.h"
#include "core/kernels/conv_algo.h"
#include "core/kernels/conv_panels.h"
#include "core/kernels/gemm.h"
#include "core/kernels/im2col.h"
#include "core/parallel.h"
#include "core/ops.h"
#include "core/threads.h"

// Legend: N batch, C input channels, H×W input, OC output channels, KH×KW kernel,
// OH×OW output, CKK = C·KH·KW (rows of cols), P = OH·OW (output pixels of one image),
// G images per GEMM, L = G·P (columns of one GEMM).
//
// Layout of the work: the batch is cut into one contiguous chunk of images per thread; each
// thread runs im2col + single-threaded sgemm on its own scratch buffers (OpenBLAS's OpenMP
// build does not fork inside our parallel region). G images share one GEMM so that small
// feature maps (P = 64 on LeNet's second layer) still give OpenBLAS a wide matrix; the
// scratch stays in L2. With G = 1 the GEMM writes straight into the NCHW output. The backward
// recomputes cols instead of keeping N·CKK·P floats alive between forward and backward.
// With one chunk (a single image, or one thread) the loop runs outside any parallel region:
// OpenBLAS parallelises each GEMM itself and im2col/col2im are split over rows/channels.
//
// Input gradient, two algorithms (the same sum, in a different order):
// - col2im: gcols = wᵀ·g, a (CKK, L) matrix, then col2im adds its entries back into the
//   pixels. Any stride and padding. The GEMM has inner dimension OC only (32 on VGG-small's
//   second layer) and writes CKK·L floats, which OpenBLAS first zeroes (beta = 0), which
//   col2im then reads again: three passes over a matrix KH·KW times the size of the input.
// - correlation (stride 1, square kernel, padding <= K − 1): the input gradient of a stride-1
//   convolution is itself a stride-1 convolution, of the output gradient with the kernel
//   flipped and transposed (w̃[c, oc, kh, kw] = w[oc, c, K−1−kh, K−1−kw]) and padding K−1−p.
//   The same im2col + GEMM as the forward pass: inner dimension OC·K·K, and the GEMM writes
//   the (C, H·W) input gradient directly. Chosen when its MACs (∝ H·W) are not larger than
//   col2im's (∝ OH·OW), i.e. for "same" padding; a valid convolution (LeNet's p = 0, whose
//   correlation would multiply mostly padding zeros) keeps col2im.
//
// Small feature maps (one image's output narrower than kTargetCols): the forward product and
// the correlation input gradient run on core/kernels/conv_panels.h (im2col panels in the
// micro-kernel's layout, straight into NCHW) instead of grouped images + OpenBLAS + scatter.
//
// Weight gradient: gw (OC, CKK) = Σ g · colsᵀ over the chunk's images. It is computed as its
// transpose, gwᵀ (CKK, OC) = cols · gᵀ, and transposed once per chunk (OC·CKK floats): the
// same dot products over the L output pixels, with cols (CKK·L floats, the large operand) as
// the product's left operand, which OpenBLAS packs at less cost (its packing copies took a
// visibly smaller share of a VGG-small step in perf). Measured in one process, alternating
// (bench/conv_ab --compare weight_grad, 1 thread, CPU time): conv → batch norm → relu of
// VGG-small's 32×32 layer 1.16x faster, all VGG-small and LeNet layers together 1.07x.
// OpenBLAS sums the dot products in a different order for the two shapes: the gradients
// agree up to rounding, not bit for bit.

namespace lowbit {

namespace kernels {
namespace {
std::atomic<ConvInputGrad> input_grad_algo{ConvInputGrad::Auto};
std::atomic<ConvWeightGrad> weight_grad_algo{ConvWeightGrad::Auto};
std::atomic<ConvProduct> product_algo{ConvProduct::Auto};
}
void set_conv_product(ConvProduct algo) { product_algo = algo; }
ConvProduct conv_product() { return product_algo; }
void set_conv_input_grad(ConvInputGrad algo) { input_grad_algo = algo; }
ConvInputGrad conv_input_grad() { return input_grad_algo; }
void set_conv_weight_grad(ConvWeightGrad algo) { weight_grad_algo = algo; }
ConvWeightGrad conv_weight_grad() { return weight_grad_algo; }
}  // namespace kernels

namespace {

using kernels::ConvGeom;
using kernels::Trans;

/// Images per GEMM: enough output columns (G·P ≈ kTargetCols) for OpenBLAS to reach its
/// large-matrix speed (single-thread sgemm on LeNet's layer 2, 64×L×800: 112 GFLOP/s at
/// L = 64, ~160 at L >= 256), while one cols buffer (C·KH·KW × G·P floats) stays under
/// kScratchFloats so that cols, the GEMM and col2im work in L2 (2 MB per core here).
constexpr int64_t kTargetCols = 256;
constexpr int64_t kScratchFloats = int64_t{1} << 18;

int64_t num_chunks(int64_t n) { return std::max<int64_t>(1, std::min<int64_t>(n, num_threads())); }

/// Images per GEMM for a chunk of `n` images.
int64_t images_per_gemm(const ConvGeom& g, int64_t n) {
  const int64_t P = std::max<int64_t>(1, g.col_cols());
  const int64_t want = (kTargetCols + P - 1) / P, fit = kScratchFloats / (g.col_rows() * P);
  return std::clamp<int64_t>(std::min(want, fit), 1, std::max<int64_t>(1, n));
}

/// Calls fn(t, n0, n1) for T contiguous chunks [n0, n1) of [0, n), one per thread.
template <class Fn>
void for_each_chunk(int64_t T, int64_t n, int64_t cost_per_image, Fn&& fn) {
  if (T == 1) {  // outside any parallel region, so OpenBLAS may use every thread
    fn(int64_t{0}, int64_t{0}, n);
    return;
  }
  kernels::parallel_for(
      T,
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) fn(t, t * n / T, (t + 1) * n / T);
      },
      std::max<int64_t>(1, cost_per_image * n / T));
}

std::unique_ptr<float[]> scratch(int64_t n) {
  return std::make_unique_for_overwrite<float[]>(static_cast<size_t>(n));
}

/// Whether the products w · cols of a convolution with T chunks go through the panel kernel.
/// Small feature maps only (one image's output narrower than kTargetCols, where OpenBLAS
/// would need several images per GEMM; see core/kernels/conv_panels.h for the measurements).
/// The kernel runs on one thread per image: with a single chunk, only when there is one
/// thread (otherwise OpenBLAS and the split im2col use them all).
bool uses_panels(const ConvGeom& g, int64_t OC, int64_t T) {
  return kernels::conv_product() == kernels::ConvProduct::Auto && g.col_cols() < kTargetCols &&
         kernels::conv_panels_apply(g, OC) && (T > 1 || num_threads() == 1);
}

/// im2col of image x into columns [j·P, (j+1)·P) of cols (row stride L). Split over rows
/// with OpenMP when `split` (the caller is not inside a parallel region).
void im2col_image(const float* x, const ConvGeom& g, float* cols, int64_t L, bool split) {
  if (!split) return kernels::im2col(x, g, cols, L);
  kernels::parallel_for(
      g.col_rows(), [&](int64_t r0, int64_t r1) { kernels::im2col(x, g, cols, L, r0, r1); },
      g.col_cols());
}

/// col2im into image x, split over channels when `split`.
void col2im_image(const float* cols, const ConvGeom& g, int64_t L, float* x, bool split) {
  if (!split) return kernels::col2im(cols, g, L, x);
  kernels::parallel_for(
      g.C, [&](int64_t c0, int64_t c1) { kernels::col2im(cols, g, L, x, c0, c1); },
      g.KH * g.KW * g.col_cols());
}


/// dst (rows, P) of image j = src (rows, L) columns [j·P, (j+1)·P) + bias[row] (0 without
/// bias), for the gs images of a GEMM whose output holds them side by side.
void scatter_images(const float* src, int64_t rows, int64_t P, int64_t gs, const float* bias,
                    float* dst) {
  const int64_t L = gs * P;
  for (int64_t j = 0; j < gs; ++j)
    for (int64_t r = 0; r < rows; ++r) {
      const float* s = src + r * L + j * P;
      float* d = dst + (j * rows + r) * P;
      const float b = bias ? bias[r] : 0.f;
      for (int64_t q = 0; q < P; ++q) d[q] = s[q] + b;
    }
}

/// The geometry of the input gradient as a correlation (see the top of the file): the output
/// gradient (OC, OH, OW) is its input, padded by K − 1 − p, and its output is (H, W). Empty
/// (C = 0) when the col2im algorithm is the one to use.
ConvGeom correlation_geometry(const ConvGeom& g, int64_t OC) {
  if (kernels::conv_input_grad() == kernels::ConvInputGrad::Col2im) return {};
  if (g.stride != 1 || g.KH != g.KW || g.pad > g.KH - 1) return {};
  if (g.H * g.W > g.OH * g.OW) return {};  // more MACs than col2im: mostly padding zeros
  const ConvGeom t = ConvGeom::make(OC, g.OH, g.OW, g.KH, g.KW, 1, g.KH - 1 - g.pad);
  LB_CHECK(t.OH == g.H && t.OW == g.W, "conv2d: correlation geometry ", t.OH, "x", t.OW,
           " does not give back the input ", g.H, "x", g.W);
  return t;
}

/// w̃ (C, OC·KH·KW): w̃[c, oc, kh, kw] = w[oc, c, KH−1−kh, KW−1−kw].
std::unique_ptr<float[]> flipped_transposed(const float* w, int64_t OC, int64_t C, int64_t KH,
                                            int64_t KW) {
  auto wt = scratch(C * OC * KH * KW);
  const int64_t KK = KH * KW;
  for (int64_t oc = 0; oc < OC; ++oc)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k = 0; k < KK; ++k) wt[(c * OC + oc) * KK + (KK - 1 - k)] = w[(oc * C + c) * KK + k];
  return wt;
}

}  // namespace

Var conv2d(const Var& x, const Var& w, const Var& b, Conv2dArgs args) {
  LB_CHECK(x.defined() && x.dim() == 4, "conv2d: expected input (N, C, H, W), got shape ",
           x.defined() ? x.shape() : Shape{});
  LB_CHECK(w.defined() && w.dim() == 4 && w.size(1) == x.size(1) && w.size(0) > 0 &&
               w.size(2) > 0 && w.size(3) > 0,
           "conv2d: weight ", w.defined() ? w.shape() : Shape{}, " does not fit input ", x.shape(),
           "; expected weight (OC, C, KH, KW) with C = ", x.size(1));
  LB_CHECK(!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0)), "conv2d: bias ", b.shape(),
           " does not match weight ", w.shape(), "; expected bias (", w.size(0), ")");
  LB_CHECK(args.stride >= 1 && args.padding >= 0,
           "conv2d: expected stride >= 1 and padding >= 0, got stride ", args.stride, " padding ",
           args.padding);
  const int64_t N = x.size(0), OC = w.size(0);
  const ConvGeom g = ConvGeom::make(x.size(1), x.size(2), x.size(3), w.size(2), w.size(3),
                                    args.stride, args.padding);
  LB_CHECK(
      x.size(1) > 0 && x.size(2) + 2 * args.padding >= g.KH && x.size(3) + 2 * args.padding >= g.KW,
      "conv2d: kernel ", g.KH, "x", g.KW, " (weight ", w.shape(), ") is larger than the input ",
      x.shape(), " padded by ", args.padding);
  const int64_t CKK = g.col_rows(), P = g.col_cols();

  Tensor y = Tensor::empty({N, OC, g.OH, g.OW});
  {
    const float* xp = x.data().data();
    const float* wp = w.data().data();
    const float* bp = b.defined() ? b.data().data() : nullptr;
    float* yp = y.data();
    const int64_t T = num_chunks(N), img = g.image_size();
    const bool panels = uses_panels(g, OC, T);
    const auto packed_w = panels ? kernels::conv_panels_pack_weights(wp, OC, CKK) : nullptr;
    for_each_chunk(T, N, OC * CKK * P, [&](int64_t, int64_t n0, int64_t n1) {
      if (panels) {
        Tensor buf = Tensor::empty({kernels::conv_panels_scratch(g)});  // 64-byte aligned
        for (int64_t n = n0; n < n1; ++n) {
          float* yn = yp + n * OC * P;
          kernels::conv_panels_image(xp + n * img, g, packed_w.get(), OC, buf.data(), yn);
          if (bp)
            for (int64_t oc = 0; oc < OC; ++oc)
              for (int64_t q = 0; q < P; ++q) yn[oc * P + q] += bp[oc];
        }
        return;
      }
      const int64_t G = images_per_gemm(g, n1 - n0);
      auto cols = G == 1 && g.is_identity() ? nullptr : scratch(CKK * G * P);
      auto ybuf = G > 1 ? scratch(OC * G * P) : nullptr;
      for (int64_t nb = n0; nb < n1; nb += G) {
        const int64_t gs = std::min(G, n1 - nb), L = gs * P;
        if (cols)
          for (int64_t j = 0; j < gs; ++j)
            im2col_image(xp + (nb + j) * img, g, cols.get() + j * P, L, T == 1);
        const float* B = cols ? cols.get() : xp + nb * img;
        if (G == 1) {  // straight into y_n (OC, P), bias as the GEMM's initial C
          float* yn = yp + nb * OC * P;
          if (bp)
            for (int64_t oc = 0; oc < OC; ++oc) std::fill(yn + oc * P, yn + (oc + 1) * P, bp[oc]);
          kernels::sgemm(Trans::No, Trans::No, OC, P, CKK, 1.f, wp, B, bp ? 1.f : 0.f, yn);
          continue;
        }
        // ybuf (OC, L) holds the gs images side by side: scatter into NCHW, adding the bias.
        kernels::sgemm(Trans::No, Trans::No, OC, L, CKK, 1.f, wp, B, 0.f, ybuf.get());
        scatter_images(ybuf.get(), OC, P, gs, bp, yp + nb * OC * P);
      }
    });
  }

  const Tensor xd = x.data(), wd = w.data();
  const bool has_bias = b.defined();
  std::vector<Var> inputs{x, w};
  if (has_bias) inputs.push_back(b);
  return make_result(
      y, inputs, "conv2d", [xd, wd, g, has_bias, N, OC, CKK, P](const Tensor& gy, GradInputs& in) {
        const bool need_w = in.needs(1), need_b = has_bias && in.needs(2);
        const ConvGeom gt = in.needs(0) ? correlation_geometry(g, OC) : ConvGeom{};
        const bool correlate = gt.C > 0;                 // input gradient as a correlation
        const bool need_x = in.needs(0) && !correlate;  // input gradient through col2im
        const int64_t T = num_chunks(N);
        Tensor gx = in.needs(0) ? Tensor::empty(xd.shape()) : Tensor();
        // Per-chunk partial sums of the weight and bias gradients, reduced below.
        Tensor gw_parts = need_w ? Tensor::empty({T, OC, CKK}) : Tensor();
        Tensor gb_parts = need_b ? Tensor::zeros({T, OC}) : Tensor();
        if (need_w && N == 0) gw_parts.fill_(0.f);
        const float* xp = xd.data();
        const float* wp = wd.data();
        const float* gp = gy.data();
        const int64_t img = g.image_size();
        const auto wt = correlate ? flipped_transposed(wp, OC, g.C, g.KH, g.KW) : nullptr;
        const bool corr_panels = correlate && uses_panels(gt, g.C, T);
        const auto packed_wt =
            corr_panels ? kernels::conv_panels_pack_weights(wt.get(), g.C, gt.col_rows()) : nullptr;
        for_each_chunk(T, N, 2 * OC * CKK * P, [&](int64_t t, int64_t n0, int64_t n1) {
          if (need_w || need_x || need_b) {
            const int64_t G = images_per_gemm(g, n1 - n0);
            const bool plain = G == 1 && g.is_identity();  // cols would be x itself
            auto cols = need_w && !plain ? scratch(CKK * G * P) : nullptr;
            auto gcols = need_x && !plain ? scratch(CKK * G * P) : nullptr;
            auto gbuf = G > 1 ? scratch(OC * G * P) : nullptr;
            float* gw = need_w ? gw_parts.data() + t * OC * CKK : nullptr;
            // Weight gradient transposed (see the top of the file): gwt (CKK, OC).
            const bool transposed =
                need_w && kernels::conv_weight_grad() == kernels::ConvWeightGrad::Auto;
            auto gwt = transposed ? scratch(CKK * OC) : nullptr;
            for (int64_t nb = n0; nb < n1; nb += G) {
              const int64_t gs = std::min(G, n1 - nb), L = gs * P;
              // gsrc: (OC, L), the output gradients of the gs images side by side.
              const float* gsrc = gp + nb * OC * P;
              if (gbuf) {
                for (int64_t j = 0; j < gs; ++j)
                  for (int64_t oc = 0; oc < OC; ++oc)
                    std::copy_n(gp + ((nb + j) * OC + oc) * P, P, gbuf.get() + oc * L + j * P);
                gsrc = gbuf.get();
              }
              if (need_w) {  // grad_weight += g · colsᵀ: (OC, L)·(L, CKK), or its transpose
                if (cols)
                  for (int64_t j = 0; j < gs; ++j)
                    im2col_image(xp + (nb + j) * img, g, cols.get() + j * P, L, T == 1);
                const float* B = cols ? cols.get() : xp + nb * img;
                const float beta = nb == n0 ? 0.f : 1.f;
                if (transposed)
                  kernels::sgemm(Trans::No, Trans::Yes, CKK, OC, L, 1.f, B, gsrc, beta, gwt.get());
                else
                  kernels::sgemm(Trans::No, Trans::Yes, OC, CKK, L, 1.f, gsrc, B, beta, gw);
              }
              if (need_x) {  // grad_input = col2im(wᵀ · g): (CKK, OC)·(OC, L)
                float* gxn = gx.data() + nb * img;
                kernels::sgemm(Trans::Yes, Trans::No, CKK, L, OC, 1.f, wp, gsrc, 0.f,
                               gcols ? gcols.get() : gxn);
                if (gcols)
                  for (int64_t j = 0; j < gs; ++j)
                    col2im_image(gcols.get() + j * P, g, L, gxn + j * img, T == 1);
              }
              if (need_b) {
                float* gb = gb_parts.data() + t * OC;
                for (int64_t oc = 0; oc < OC; ++oc) {
                  const float* row = gsrc + oc * L;
                  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
                  for (int64_t q = 0; q < L; ++q) acc += row[q];
                  gb[oc] += acc;
                }
              }
            }
            if (transposed && n1 > n0)  // (an empty chunk keeps gw_parts' zeros, N = 0)
              for (int64_t oc = 0; oc < OC; ++oc)
                for (int64_t k = 0; k < CKK; ++k) gw[oc * CKK + k] = gwt[k * OC + oc];
          }
          if (corr_panels) {  // grad_input = w̃ · im2col(g) by the panel kernel, image by image
            Tensor buf = Tensor::empty({kernels::conv_panels_scratch(gt)});  // 64-byte aligned
            for (int64_t n = n0; n < n1; ++n)
              kernels::conv_panels_image(gp + n * OC * P, gt, packed_wt.get(), g.C, buf.data(),
                                         gx.data() + n * img);
          } else if (correlate) {  // grad_input = w̃ · im2col(g): (C, OC·KH·KW)·(OC·KH·KW, L)
            const int64_t Gx = images_per_gemm(gt, n1 - n0), Px = gt.col_cols(), Kx = gt.col_rows();
            auto tcols = Gx == 1 && gt.is_identity() ? nullptr : scratch(Kx * Gx * Px);
            auto xbuf = Gx > 1 ? scratch(g.C * Gx * Px) : nullptr;
            for (int64_t nb = n0; nb < n1; nb += Gx) {
              const int64_t gs = std::min(Gx, n1 - nb), L = gs * Px;
              const float* gyn = gp + nb * OC * P;
              if (tcols)
                for (int64_t j = 0; j < gs; ++j)
                  im2col_image(gyn + j * OC * P, gt, tcols.get() + j * Px, L, T == 1);
              const float* B = tcols ? tcols.get() : gyn;
              float* gxn = gx.data() + nb * img;
              kernels::sgemm(Trans::No, Trans::No, g.C, L, Kx, 1.f, wt.get(), B, 0.f,
                             xbuf ? xbuf.get() : gxn);
              if (xbuf) scatter_images(xbuf.get(), g.C, Px, gs, nullptr, gxn);
            }
          }
        });
        if (in.needs(0)) in.add(0, gx);
        if (need_w) {
          Tensor gw = gw_parts.rows(0, 1);
          for (int64_t t = 1; t < T; ++t) gw.add_(gw_parts.rows(t, t + 1));
          in.add(1, gw.reshape(wd.shape()));
        }
        if (need_b) {
          Tensor gb = gb_parts.rows(0, 1);
          for (int64_t t = 1; t < T; ++t) gb.add_(gb_parts.rows(t, t + 1));
          in.add(2, gb.reshape({OC}));
        }
      });
}

}  // namespace lowbit
