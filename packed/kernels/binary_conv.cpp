// Binary conv2d: pack pixels channel-last, bit-packed im2col (word copies), packed GEMM.
// Legend as in binary_conv.h.
#include "packed/kernels/binary_conv.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <string>

#include "core/check.h"
#include "core/parallel.h"

namespace lowbit::kernels {

namespace {

// Valid-channel bits of pixel word j (all ones except in the last, partial word).
inline uint64_t channel_mask(int64_t C, int64_t j) {
  const int64_t left = C - 64 * j;
  return left >= 64 ? ~uint64_t{0} : (uint64_t{1} << left) - 1;
}

// Packs channels [64·j, min(C, 64·j + 64)) of pixels [pix0, pix1) of one image into word j of
// each pixel: out[pix·cw + j]. x points at the image's first channel plane (C planes of HW).
void pack_pixel_word(const float* x, int64_t C, int64_t HW, int64_t cw, int64_t j, int64_t pix0,
                     int64_t pix1, uint64_t* sign, uint64_t* mask) {
  const int64_t c0 = 64 * j, c1 = std::min(C, c0 + 64);
  int64_t pix = pix0;
#if defined(__AVX512F__) && defined(__AVX512VL__)
  // 64 pixels at a time: 8 zmm of pixel words (x2 with masks) stay in registers while the
  // channel planes stream through; a compare mask ORs the channel's bit into 8 words.
  constexpr int kTile = 8;
  const __m256 zero = _mm256_setzero_ps();
  for (; pix + 8 * kTile <= pix1; pix += 8 * kTile) {
    __m512i ws[kTile], wm[kTile];
    for (int t = 0; t < kTile; ++t) ws[t] = wm[t] = _mm512_setzero_si512();
    for (int64_t c = c0; c < c1; ++c) {
      const float* plane = x + c * HW + pix;
      const __m512i bit = _mm512_set1_epi64(static_cast<long long>(uint64_t{1} << (c - c0)));
      for (int t = 0; t < kTile; ++t) {
        const __m256 v = _mm256_loadu_ps(plane + 8 * t);
        ws[t] = _mm512_mask_or_epi64(ws[t], _mm256_cmp_ps_mask(v, zero, _CMP_LT_OQ), ws[t], bit);
        if (mask)
          wm[t] = _mm512_mask_or_epi64(wm[t], _mm256_cmp_ps_mask(v, zero, _CMP_NEQ_UQ), wm[t], bit);
      }
    }
    alignas(64) uint64_t tmp[8];
    for (int t = 0; t < kTile; ++t) {
      _mm512_store_si512(tmp, ws[t]);
      for (int l = 0; l < 8; ++l) sign[(pix + 8 * t + l) * cw + j] = tmp[l];
      if (mask) {
        _mm512_store_si512(tmp, wm[t]);
        for (int l = 0; l < 8; ++l) mask[(pix + 8 * t + l) * cw + j] = tmp[l];
      }
    }
  }
#endif
  for (; pix < pix1; ++pix) {
    uint64_t s = 0, m = 0;
    for (int64_t c = c0; c < c1; ++c) {
      const float v = x[c * HW + pix];
      s |= static_cast<uint64_t>(v < 0.f) << (c - c0);
      m |= static_cast<uint64_t>(v != 0.f) << (c - c0);
    }
    sign[pix * cw + j] = s;
    if (mask) mask[pix * cw + j] = m;
  }
}

}  // namespace

PackedImage pack_image(const Tensor& x, bool ternary) {
  LB_CHECK(x.defined() && x.dim() == 4, "pack_image: expected x of shape (N, C, H, W), got ",
           x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"));
  PackedImage p;
  p.n = x.size(0);
  p.c = x.size(1);
  p.h = x.size(2);
  p.w = x.size(3);
  p.cw = words_for(p.c);
  const int64_t HW = p.h * p.w, C = p.c, cw = p.cw;
  p.sign.assign(static_cast<size_t>(p.n * HW * cw), 0);
  if (ternary) p.mask.assign(p.sign.size(), 0);
  const float* xd = x.data();
  uint64_t* sign = p.sign.data();
  uint64_t* mask = ternary ? p.mask.data() : nullptr;
  // Over all pixels of all images, in runs that stay within one image.
  parallel_for(
      p.n * HW,
      [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1;) {
          const int64_t b = q / HW, pix0 = q % HW;
          const int64_t pix1 = std::min(HW, pix0 + (q1 - q));
          for (int64_t j = 0; j < cw; ++j)
            pack_pixel_word(xd + b * C * HW, C, HW, cw, j, pix0, pix1, sign + b * HW * cw,
                            mask ? mask + b * HW * cw : nullptr);
          q += pix1 - pix0;
        }
      },
      C);
  return p;
}

PackedConvWeights pack_conv_weights(const Tensor& w, bool ternary) {
  LB_CHECK(w.defined() && w.dim() == 4,
           "pack_conv_weights: expected weights of shape (OC, C, KH, KW), got ",
           w.defined() ? shape_str(w.shape()) : std::string("an undefined tensor"));
  PackedConvWeights pw;
  const int64_t OC = w.size(0), C = w.size(1), KH = w.size(2), KW = w.size(3);
  pw.in_channels = C;
  pw.kernel_h = KH;
  pw.kernel_w = KW;
  pw.cw = words_for(C);
  pw.w = make_packed(OC, C * KH * KW, KH * KW * pw.cw, PackLayout::Rows, ternary);
  const float* wd = w.data();
  for (int64_t oc = 0; oc < OC; ++oc)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t g = 0; g < KH * KW; ++g) {
        const float v = wd[(oc * C + c) * KH * KW + g];
        const int64_t at = pw.w.word_index(oc, g * pw.cw + c / 64);
        const uint64_t bit = uint64_t{1} << (c % 64);
        if (v < 0.f) pw.w.sign[at] |= bit;
        if (ternary && v != 0.f) pw.w.mask[at] |= bit;
      }
  count_nnz(pw.w);
  return pw;
}

void im2col_packed(const PackedImage& x, int64_t b, int64_t KH, int64_t KW, int64_t stride,
                   int64_t padding, PackedMatrix& m) {
  LB_CHECK(b >= 0 && b < x.n, "im2col_packed: image ", b, " out of range [0, ", x.n, ")");
  LB_CHECK(stride >= 1 && padding >= 0 && KH >= 1 && KW >= 1,
           "im2col_packed: expected stride >= 1, padding >= 0, kernel >= 1, got stride=", stride,
           " padding=", padding, " kernel=", KH, "x", KW);
  LB_CHECK(x.h + 2 * padding >= KH && x.w + 2 * padding >= KW, "im2col_packed: kernel ", KH, "x",
           KW, " larger than the padded input ", x.h + 2 * padding, "x", x.w + 2 * padding);
  const int64_t OH = (x.h + 2 * padding - KH) / stride + 1;
  const int64_t OW = (x.w + 2 * padding - KW) / stride + 1;
  const int64_t C = x.c, cw = x.cw, H = x.h, W = x.w;
  const bool masked = padding > 0 || x.ternary();
  const int64_t kw_total = KH * KW * cw, Q = OH * OW, P = (Q + kPanel - 1) / kPanel;
  // Reuse m's storage (one buffer for all images of a batch); every word is written below.
  m.rows = Q;
  m.k = C * KH * KW;
  m.kw = kw_total;
  m.layout = PackLayout::Panels;
  m.sign.resize(static_cast<size_t>(P * kPanel * kw_total));
  m.mask.resize(masked ? m.sign.size() : 0);
  m.nnz.assign(masked ? static_cast<size_t>(P * kPanel) : 0, 0);
  const uint64_t* src_sign = x.sign.data() + b * H * W * cw;
  const uint64_t* src_mask = x.ternary() ? x.mask.data() + b * H * W * cw : nullptr;
  // Panel by panel: for each tap and pixel word the 8 lanes (output positions) form one
  // contiguous 64-byte group, written in the order the GEMM reads them. Out-of-image taps
  // and lanes past Q get 0 in both planes (mask off).
  parallel_for(
      P,
      [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          int64_t src[kPanel], nnz[kPanel] = {};
          uint64_t* dst_sign = m.sign.data() + p * kw_total * kPanel;
          uint64_t* dst_mask = masked ? m.mask.data() + p * kw_total * kPanel : nullptr;
          for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw) {
              for (int64_t l = 0; l < kPanel; ++l) {
                const int64_t q = p * kPanel + l, oh = q / OW, ow = q % OW;
                const int64_t ih = oh * stride - padding + kh, iw = ow * stride - padding + kw;
                const bool valid = q < Q && ih >= 0 && ih < H && iw >= 0 && iw < W;
                src[l] = valid ? (ih * W + iw) * cw : -1;
              }
              const int64_t g = (kh * KW + kw) * cw;
              for (int64_t j = 0; j < cw; ++j) {
                uint64_t* ds = dst_sign + (g + j) * kPanel;
                for (int64_t l = 0; l < kPanel; ++l) ds[l] = src[l] < 0 ? 0 : src_sign[src[l] + j];
                if (!masked) continue;
                uint64_t* dm = dst_mask + (g + j) * kPanel;
                const uint64_t cm = channel_mask(C, j);
                for (int64_t l = 0; l < kPanel; ++l) {
                  dm[l] = src[l] < 0 ? 0 : (src_mask ? src_mask[src[l] + j] : cm);
                  nnz[l] += std::popcount(dm[l]);
                }
              }
            }
          if (masked)
            for (int64_t l = 0; l < kPanel; ++l)
              m.nnz[p * kPanel + l] = static_cast<int32_t>(nnz[l]);
        }
      },
      kPanel * KH * KW * cw);
}

PackedMatrix im2col_packed(const PackedImage& x, int64_t b, int64_t KH, int64_t KW, int64_t stride,
                           int64_t padding) {
  PackedMatrix m;
  im2col_packed(x, b, KH, KW, stride, padding, m);
  return m;
}

Tensor binary_conv2d(const PackedImage& x, const PackedConvWeights& w,
                     const BinaryConv2dOptions& opt) {
  LB_CHECK(x.c == w.in_channels, "binary_conv2d: input has ", x.c, " channels, weights expect ",
           w.in_channels);
  LB_CHECK(opt.stride >= 1 && opt.padding >= 0, "binary_conv2d: expected stride >= 1 and ",
           "padding >= 0, got stride=", opt.stride, " padding=", opt.padding);
  LB_CHECK(x.h + 2 * opt.padding >= w.kernel_h && x.w + 2 * opt.padding >= w.kernel_w,
           "binary_conv2d: kernel ", w.kernel_h, "x", w.kernel_w, " larger than the padded input ",
           x.h + 2 * opt.padding, "x", x.w + 2 * opt.padding);
  const int64_t OC = w.out_channels();
  const int64_t OH = (x.h + 2 * opt.padding - w.kernel_h) / opt.stride + 1;
  const int64_t OW = (x.w + 2 * opt.padding - w.kernel_w) / opt.stride + 1;
  Tensor out = Tensor::empty({x.n, OC, OH, OW});
  const GemmEpilogue ep{.row_scale = opt.channel_scale, .row_bias = opt.channel_bias};
  // One GEMM per image: (OC, K) · (K, Q) lands directly in the NCHW output.
  PackedMatrix cols;
  for (int64_t b = 0; b < x.n; ++b) {
    im2col_packed(x, b, w.kernel_h, w.kernel_w, opt.stride, opt.padding, cols);
    packed_gemm(w.w, cols, out.data() + b * OC * OH * OW, OH * OW, ep);
  }
  return out;
}

Tensor binary_conv2d(const Tensor& x, const PackedConvWeights& w, const BinaryConv2dOptions& opt,
                     bool ternary_input) {
  return binary_conv2d(pack_image(x, ternary_input), w, opt);
}

}  // namespace lowbit::kernels
