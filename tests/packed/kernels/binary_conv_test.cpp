#include "packed/kernels/binary_conv.h"

#include <doctest/doctest.h>

#include <vector>

#include "core/check.h"
#include "tests/packed/kernels/kernel_test_util.h"

using namespace lowbit;
using namespace lowbit::kernels;

namespace {

// Float conv2d with zero padding (the training-time semantics) of quantized x and w:
// out[b, oc, oh, ow] = Σ w[oc, c, kh, kw] · x[b, c, oh·s - p + kh, ow·s - p + kw], x = 0 outside.
Tensor naive_conv(const Tensor& xq, const Tensor& wq, int64_t stride, int64_t pad) {
  const int64_t N = xq.size(0), C = xq.size(1), H = xq.size(2), W = xq.size(3);
  const int64_t OC = wq.size(0), KH = wq.size(2), KW = wq.size(3);
  const int64_t OH = (H + 2 * pad - KH) / stride + 1, OW = (W + 2 * pad - KW) / stride + 1;
  Tensor out = Tensor::zeros({N, OC, OH, OW});
  const float *x = xq.data(), *w = wq.data();
  float* o = out.data();
  for (int64_t b = 0; b < N; ++b)
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          float s = 0.f;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                const float xv = (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                     ? 0.f
                                     : x[((b * C + c) * H + ih) * W + iw];
                s += w[((oc * C + c) * KH + kh) * KW + kw] * xv;
              }
          o[((b * OC + oc) * OH + oh) * OW + ow] = s;
        }
  return out;
}

Tensor quantize(const Tensor& t, bool ternary) {
  Tensor q = t.clone();
  for (int64_t i = 0; i < q.numel(); ++i)
    q.data()[i] = ternary ? test::sign_ternary(q.data()[i]) : test::sign_pm1(q.data()[i]);
  return q;
}

struct ConvCase {
  int64_t N, C, H, W, OC, KH, KW;
};

}  // namespace

TEST_CASE("binary conv2d: equals the float conv of the ±1 tensors with zero padding, exactly") {
  const ConvCase cases[] = {
      {2, 1, 5, 7, 3, 3, 3},    {1, 3, 8, 8, 9, 3, 3}, {2, 64, 6, 5, 5, 3, 3},
      {1, 70, 7, 6, 17, 3, 2},  {1, 5, 6, 6, 4, 1, 1}, {1, 130, 4, 4, 8, 2, 2},
      {2, 70, 12, 11, 6, 3, 3},  // >= 64 pixels: the vector pixel packer's tiles and tail
  };
  test::for_each_isa([&](Isa) {
    Rng rng(21);
    for (const ConvCase& cc : cases)
      for (int64_t stride : {1, 2})
        for (int64_t pad : {0, 1, 2})
          for (int tern = 0; tern < 4; ++tern) {
            const bool tw = tern & 1, tx = tern & 2;
            if (cc.H + 2 * pad < cc.KH || cc.W + 2 * pad < cc.KW) continue;
            INFO("N=", cc.N, " C=", cc.C, " H=", cc.H, " W=", cc.W, " OC=", cc.OC, " k=", cc.KH,
                 "x", cc.KW, " stride=", stride, " pad=", pad, " ternary w/x=", tw, "/", tx);
            const Tensor x = tx ? test::random_ternary({cc.N, cc.C, cc.H, cc.W}, rng)
                                : test::random_signs({cc.N, cc.C, cc.H, cc.W}, rng);
            const Tensor w = tw ? test::random_ternary({cc.OC, cc.C, cc.KH, cc.KW}, rng)
                                : test::random_signs({cc.OC, cc.C, cc.KH, cc.KW}, rng);
            const Tensor want = naive_conv(quantize(x, tx), quantize(w, tw), stride, pad);
            const Tensor got =
                binary_conv2d(x, pack_conv_weights(w, tw), {.stride = stride, .padding = pad}, tx);
            REQUIRE(got.shape() == want.shape());
            CHECK(allclose(got, want, 0.f, 0.f));
          }
  });
}

TEST_CASE("binary conv2d: padded taps count 0, not +1 or -1") {
  // All-(+1) input and weights, 3x3, padding 1: a corner output sees 4 valid taps per channel,
  // an edge 6, the centre 9. A +1 (or -1) padding would give 9 (or -9 + ...) everywhere.
  const Tensor x = Tensor::ones({1, 2, 3, 3});
  const Tensor w = Tensor::ones({1, 2, 3, 3});
  const Tensor y = binary_conv2d(x, pack_conv_weights(w), {.stride = 1, .padding = 1});
  CHECK(y.to_vector() == std::vector<float>{8, 12, 8, 12, 18, 12, 8, 12, 8});
}

TEST_CASE("binary conv2d: per-channel scale and bias, pre-packed image") {
  Rng rng(22);
  const Tensor x = test::random_signs({2, 10, 6, 6}, rng);
  const Tensor w = test::random_signs({4, 10, 3, 3}, rng);
  const std::vector<float> scale{0.5f, 2.f, -1.f, 0.25f}, bias{1.f, 0.f, -3.f, 0.5f};
  const Tensor plain = binary_conv2d(pack_image(x), pack_conv_weights(w), {.padding = 1});
  const Tensor scaled =
      binary_conv2d(x, pack_conv_weights(w),
                    {.padding = 1, .channel_scale = scale.data(), .channel_bias = bias.data()});
  const int64_t Q = 36;
  int64_t bad = 0;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t oc = 0; oc < 4; ++oc)
      for (int64_t q = 0; q < Q; ++q) {
        const int64_t at = (b * 4 + oc) * Q + q;
        bad += scaled.data()[at] != plain.data()[at] * scale[oc] + bias[oc];
      }
  CHECK(bad == 0);
}

TEST_CASE("binary conv2d: bad shapes throw with the function name") {
  const PackedConvWeights w = pack_conv_weights(Tensor::ones({2, 3, 3, 3}));
  CHECK_THROWS_WITH_AS(binary_conv2d(Tensor::ones({1, 4, 5, 5}), w), doctest::Contains("channels"),
                       Error);
  CHECK_THROWS_WITH_AS(binary_conv2d(Tensor::ones({1, 3, 2, 2}), w),
                       doctest::Contains("larger than the padded input"), Error);
  CHECK_THROWS_WITH_AS(binary_conv2d(Tensor::ones({1, 3, 5, 5}), w, {.stride = 0}),
                       doctest::Contains("stride"), Error);
  CHECK_THROWS_WITH_AS(pack_image(Tensor::ones({3, 5, 5})), doctest::Contains("pack_image"), Error);
  CHECK_THROWS_WITH_AS(pack_conv_weights(Tensor::ones({3, 5})),
                       doctest::Contains("pack_conv_weights"), Error);
}
