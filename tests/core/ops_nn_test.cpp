// nn ops: linalg, conv, pooling, batch norm, dropout, losses. Gradients through the shared
// finite-difference checker; conv and pooling forwards also against naive direct loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "core/core.h"
#include "core/kernels/conv_algo.h"
#include "core/kernels/im2col.h"
#include "tests/support/gradcheck.h"

using namespace lowbit;
using lowbit::testing::check_grad;
using lowbit::testing::GradCheckOptions;

namespace {

Tensor rand(const Shape& shape, Rng& rng, float lo = -1.f, float hi = 1.f) {
  return Tensor::uniform(shape, rng, lo, hi);
}

/// Distinct values 0.1 apart in random order: max pooling has no ties and finite
/// differences (±2·eps = ±0.02) never change which cell wins.
Tensor spaced(const Shape& shape, Rng& rng) {
  const int64_t n = shape_numel(shape);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = 0.1f * static_cast<float>(i) - 0.05f * static_cast<float>(n);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(v[static_cast<size_t>(i)],
              v[static_cast<size_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
  return Tensor::from_vector(shape, v);
}

/// The message of the lowbit::Error thrown by fn ("" when nothing is thrown).
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ---- naive references (direct loops, no im2col, no BLAS)

Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t s, int64_t p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OC = w.size(0), KH = w.size(2), KW = w.size(3);
  const int64_t OH = (H + 2 * p - KH) / s + 1, OW = (W + 2 * p - KW) / s + 1;
  Tensor y = Tensor::zeros({N, OC, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b.defined() ? b.at({oc}) : 0.0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * s - p + kh, iw = ow * s - p + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += double(x.at({n, c, ih, iw})) * w.at({oc, c, kh, kw});
              }
          y.at({n, oc, oh, ow}) = static_cast<float>(acc);
        }
  return y;
}

/// Max (or, with average, sum/k²) over the real cells of each window.
Tensor naive_pool(const Tensor& x, int64_t k, int64_t s, int64_t p, bool average) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
  Tensor y = Tensor::zeros({N, C, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = average ? 0.0 : -std::numeric_limits<double>::infinity();
          for (int64_t i = 0; i < k; ++i)
            for (int64_t j = 0; j < k; ++j) {
              const int64_t ih = oh * s - p + i, iw = ow * s - p + j;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const double v = x.at({n, c, ih, iw});
              acc = average ? acc + v : std::max(acc, v);
            }
          y.at({n, c, oh, ow}) = static_cast<float>(average ? acc / double(k * k) : acc);
        }
  return y;
}

}  // namespace

// ---- linear algebra

TEST_CASE("matmul: values and gradients") {
  Rng rng(1);
  const Tensor a = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = Tensor::from_vector({3, 2}, {7, 8, 9, 10, 11, 12});
  CHECK(matmul(Var(a), Var(b)).data().to_vector() == std::vector<float>{58, 64, 139, 154});
  auto fn = [](const std::vector<Var>& v) { return matmul(v[0], v[1]); };
  SUBCASE("square") { CHECK(check_grad(fn, {rand({4, 4}, rng), rand({4, 4}, rng)}) > 0); }
  SUBCASE("rectangular") { CHECK(check_grad(fn, {rand({3, 5}, rng), rand({5, 2}, rng)}) > 0); }
  SUBCASE("vector-like") { CHECK(check_grad(fn, {rand({1, 6}, rng), rand({6, 1}, rng)}) > 0); }
}

TEST_CASE("linear: x·wᵀ + b values and gradients") {
  Rng rng(2);
  const Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor w = Tensor::from_vector({2, 3}, {1, 0, -1, 2, 1, 0});  // (out = 2, in = 3)
  const Tensor b = Tensor::from_vector({2}, {10, 20});
  CHECK(linear(Var(x), Var(w), Var(b)).data().to_vector() == std::vector<float>{8, 24, 8, 33});
  CHECK(linear(Var(x), Var(w)).data().to_vector() == std::vector<float>{-2, 4, -2, 13});

  SUBCASE("with bias") {
    auto fn = [](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); };
    CHECK(check_grad(fn, {rand({5, 7}, rng), rand({3, 7}, rng), rand({3}, rng)}) > 0);
  }
  SUBCASE("without bias") {
    auto fn = [](const std::vector<Var>& v) { return linear(v[0], v[1]); };
    CHECK(check_grad(fn, {rand({4, 6}, rng), rand({5, 6}, rng)}) > 0);
  }
  SUBCASE("leading batch dimensions") {
    auto fn = [](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); };
    CHECK(check_grad(fn, {rand({2, 3, 4}, rng), rand({5, 4}, rng), rand({5}, rng)}) > 0);
  }
  SUBCASE("bias gradient is the column sum") {
    Var xv(rand({6, 4}, rng)), wv(rand({3, 4}, rng), true), bv(Tensor::zeros({3}), true);
    Var y = linear(xv, wv, bv);
    Tensor seed = rand({6, 3}, rng);
    y.backward(seed);
    for (int64_t o = 0; o < 3; ++o) {
      float acc = 0.f;
      for (int64_t r = 0; r < 6; ++r) acc += seed.at({r, o});
      CHECK(bv.grad().at({o}) == doctest::Approx(acc));
    }
  }
}

// ---- convolution

TEST_CASE("conv2d: forward matches a direct loop") {
  Rng rng(3);
  struct Case {
    Shape x, w;
    int64_t stride, padding;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{2, 3, 7, 7}, {4, 3, 3, 3}, 1, 0, true},    {{2, 3, 7, 6}, {4, 3, 3, 2}, 2, 1, false},
      {{1, 2, 5, 8}, {3, 2, 5, 3}, 1, 2, true},    {{3, 1, 9, 9}, {2, 1, 2, 2}, 2, 0, true},
      {{2, 4, 6, 5}, {5, 4, 1, 1}, 1, 0, true},     // 1×1: the no-im2col path
      {{2, 4, 6, 5}, {5, 4, 1, 1}, 2, 1, false},    // 1×1 with stride and padding
      {{8, 8, 16, 16}, {16, 8, 3, 3}, 1, 1, true},  // large enough to run in parallel
      {{1, 8, 32, 32}, {8, 8, 3, 3}, 1, 1, true},   // one image: im2col split over rows
      {{2, 2, 5, 40}, {3, 2, 3, 4}, 1, 2, true},    // rows wider than one 16-lane chunk
      {{2, 2, 5, 40}, {3, 2, 3, 4}, 3, 1, false},
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(shape_str(c.w));
    const Tensor x = rand(c.x, rng), w = rand(c.w, rng);
    const Tensor b = c.bias ? rand({c.w[0]}, rng) : Tensor();
    const Tensor y = conv2d(Var(x), Var(w), Var(b), {c.stride, c.padding}).data();
    const Tensor ref = naive_conv2d(x, w, b, c.stride, c.padding);
    CHECK(y.shape() == ref.shape());
    CHECK(allclose(y, ref, 1e-4f, 1e-4f));
  }
}

TEST_CASE("conv2d: gradients of input, weight and bias") {
  Rng rng(4);
  auto with_bias = [](int64_t s, int64_t p) {
    return [s, p](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], {s, p}); };
  };
  auto no_bias = [](int64_t s, int64_t p) {
    return [s, p](const std::vector<Var>& v) { return conv2d(v[0], v[1], Var(), {s, p}); };
  };
  SUBCASE("stride 1, padding 0") {
    CHECK(check_grad(with_bias(1, 0),
                     {rand({2, 2, 5, 5}, rng), rand({3, 2, 3, 3}, rng), rand({3}, rng)}) > 0);
  }
  SUBCASE("stride 1, padding 1") {
    CHECK(check_grad(with_bias(1, 1),
                     {rand({2, 3, 4, 5}, rng), rand({2, 3, 3, 3}, rng), rand({2}, rng)}) > 0);
  }
  SUBCASE("stride 2, padding 1, non-square kernel and input") {
    CHECK(check_grad(with_bias(2, 1),
                     {rand({2, 2, 7, 6}, rng), rand({3, 2, 3, 2}, rng), rand({3}, rng)}) > 0);
  }
  SUBCASE("stride 2, padding 2, no bias") {
    CHECK(check_grad(no_bias(2, 2), {rand({1, 2, 5, 6}, rng), rand({2, 2, 4, 3}, rng)}) > 0);
  }
  SUBCASE("stride 1, padding 2, no bias") {
    CHECK(check_grad(no_bias(1, 2), {rand({3, 1, 4, 4}, rng), rand({2, 1, 5, 5}, rng)}) > 0);
  }
  SUBCASE("rows wider than 16 outputs, padding 1") {
    GradCheckOptions every;
    every.max_elements = 128;
    CHECK(check_grad(with_bias(1, 1),
                     {rand({1, 1, 3, 21}, rng), rand({2, 1, 1, 3}, rng), rand({2}, rng)},
                     every) > 0);
  }
  SUBCASE("one image large enough to split im2col/col2im across threads") {
    GradCheckOptions input_only;  // a few entries: each evaluation forks threads
    input_only.only = {0};
    input_only.max_elements = 24;
    CHECK(check_grad(with_bias(1, 1),
                     {rand({1, 8, 24, 24}, rng), rand({4, 8, 3, 3}, rng), rand({4}, rng)},
                     input_only) > 0);
  }
  SUBCASE("1x1 kernel") {
    CHECK(check_grad(with_bias(1, 0),
                     {rand({2, 3, 3, 4}, rng), rand({4, 3, 1, 1}, rng), rand({4}, rng)}) > 0);
  }
  SUBCASE("only the weight needs a gradient (first layer)") {
    Var x(rand({3, 1, 6, 6}, rng));
    Var w(rand({2, 1, 3, 3}, rng), true), b(rand({2}, rng), true);
    Var y = conv2d(x, w, b);
    y.backward(Tensor::ones(y.shape()));
    CHECK_FALSE(x.grad().defined());
    // Σ over outputs of w·patch: dL/db[oc] = N·OH·OW, dL/dw[oc,0,kh,kw] = Σ of the x patch.
    CHECK(b.grad().at({0}) == doctest::Approx(3 * 4 * 4));
    double ref = 0.0;
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 4; ++j) ref += x.data().at({n, 0, i + 1, j + 2});
    CHECK(w.grad().at({1, 0, 1, 2}) == doctest::Approx(ref).epsilon(1e-4));
  }
}

/// dL/dx of L = Σ y·seed for y = conv2d(x, w), by direct loops over the forward sum.
Tensor naive_conv2d_input_grad(const Tensor& x, const Tensor& w, const Tensor& seed, int64_t s,
                               int64_t p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OC = w.size(0), KH = w.size(2), KW = w.size(3);
  const int64_t OH = seed.size(2), OW = seed.size(3);
  std::vector<double> acc(static_cast<size_t>(x.numel()), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * s - p + kh, iw = ow * s - p + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc[static_cast<size_t>(((n * C + c) * H + ih) * W + iw)] +=
                    double(seed.at({n, oc, oh, ow})) * w.at({oc, c, kh, kw});
              }
  std::vector<float> v(acc.begin(), acc.end());
  return Tensor::from_vector(x.shape(), v);
}

TEST_CASE("conv2d: input gradient by correlation equals col2im's and a direct loop") {
  // Stride-1 convolutions with padding <= K − 1 and "same"-or-wider output take the input
  // gradient as a correlation of the output gradient with the flipped kernel
  // (core/ops/conv.cpp); the others, and ConvInputGrad::Col2im, take wᵀ·g + col2im.
  Rng rng(6);
  struct Case {
    Shape x, w;
    int64_t padding;
  };
  const std::vector<Case> cases = {
      {{1, 3, 7, 9}, {5, 3, 3, 3}, 1},       // batch 1, odd channels, non-square input
      {{3, 17, 6, 5}, {19, 17, 3, 3}, 1},    // channels not a multiple of 16
      {{2, 2, 5, 40}, {3, 2, 5, 5}, 2},      // rows wider than one 16-lane chunk, K = 5
      {{2, 3, 6, 6}, {4, 3, 3, 3}, 2},       // padding wider than "same": larger output
      {{5, 4, 4, 4}, {6, 4, 3, 3}, 1},       // P = 16: several images per GEMM
      {{4, 6, 3, 5}, {7, 6, 1, 1}, 0},       // 1x1
      {{2, 3, 8, 8}, {4, 3, 3, 3}, 0},       // valid convolution: stays on col2im
      {{8, 8, 16, 16}, {16, 8, 3, 3}, 1},    // large enough for chunks on two threads
      {{1, 8, 24, 24}, {4, 8, 3, 3}, 1},     // one image: im2col split over rows
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(shape_str(c.w));
    CAPTURE(c.padding);
    const Tensor x0 = rand(c.x, rng), w0 = rand(c.w, rng);
    const int64_t OH = c.x[2] + 2 * c.padding - c.w[2] + 1, OW = c.x[3] + 2 * c.padding - c.w[3] + 1;
    const Tensor seed = rand({c.x[0], c.w[0], OH, OW}, rng);
    auto input_grad = [&](kernels::ConvInputGrad algo) {
      kernels::set_conv_input_grad(algo);
      Var x(x0, true), w(w0, true);
      conv2d(x, w, Var(), {1, c.padding}).backward(seed);
      kernels::set_conv_input_grad(kernels::ConvInputGrad::Auto);
      return std::pair(x.grad(), w.grad());
    };
    const auto [gx_auto, gw_auto] = input_grad(kernels::ConvInputGrad::Auto);
    const auto [gx_col2im, gw_col2im] = input_grad(kernels::ConvInputGrad::Col2im);
    CHECK(allclose(gx_auto, gx_col2im, 1e-4f, 1e-5f));
    CHECK(allclose(gx_auto, naive_conv2d_input_grad(x0, w0, seed, 1, c.padding), 1e-4f, 1e-5f));
    CHECK(allclose(gw_auto, gw_col2im, 0.f, 0.f));  // bit-identical: not affected by the choice
  }
}

TEST_CASE("conv2d: weight gradient as cols · gᵀ equals g · colsᵀ and a direct loop") {
  // ConvWeightGrad::Auto computes the transpose of the weight gradient and transposes it back
  // (core/ops/conv.cpp); Direct is the plain product. The same dot products, but OpenBLAS
  // sums them in a different order for the two shapes: equal up to float rounding.
  Rng rng(8);
  struct Case {
    Shape x, w;
    int64_t stride, padding;
  };
  const std::vector<Case> cases = {
      {{1, 3, 7, 9}, {5, 3, 3, 3}, 1, 1},     // batch 1, odd channels, non-square input
      {{3, 17, 6, 5}, {19, 17, 3, 3}, 1, 1},  // channels not a multiple of 16
      {{5, 4, 4, 4}, {6, 4, 3, 3}, 1, 1},     // P = 16: several images per GEMM
      {{4, 6, 3, 5}, {7, 6, 1, 1}, 1, 0},     // 1x1: x itself as cols
      {{2, 3, 9, 8}, {4, 3, 3, 2}, 2, 1},     // stride 2, non-square kernel
      {{8, 8, 16, 16}, {16, 8, 3, 3}, 1, 1},  // chunks on two threads
      {{3, 5, 33, 33}, {9, 5, 3, 3}, 1, 1},   // whole-row im2col, one image per GEMM
      {{0, 3, 5, 5}, {4, 3, 3, 3}, 1, 1},     // empty batch: zero gradient
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(shape_str(c.w));
    const Tensor x0 = rand(c.x, rng), w0 = rand(c.w, rng);
    const int64_t OH = (c.x[2] + 2 * c.padding - c.w[2]) / c.stride + 1,
                  OW = (c.x[3] + 2 * c.padding - c.w[3]) / c.stride + 1;
    const Tensor seed = rand({c.x[0], c.w[0], OH, OW}, rng);
    auto weight_grad = [&](kernels::ConvWeightGrad algo) {
      kernels::set_conv_weight_grad(algo);
      Var x(x0, true), w(w0, true), b(rand({c.w[0]}, rng), true);
      conv2d(x, w, b, {c.stride, c.padding}).backward(seed);
      kernels::set_conv_weight_grad(kernels::ConvWeightGrad::Auto);
      return w.grad();
    };
    const Tensor gw = weight_grad(kernels::ConvWeightGrad::Auto);
    CHECK(allclose(gw, weight_grad(kernels::ConvWeightGrad::Direct), 1e-5f, 1e-4f));
    // Direct loop in double: gw[oc, c, kh, kw] = Σ seed[n, oc, oh, ow] · x[n, c, ih, iw].
    Tensor want = Tensor::zeros(c.w);
    for (int64_t oc = 0; oc < c.w[0]; ++oc)
      for (int64_t ch = 0; ch < c.w[1]; ++ch)
        for (int64_t kh = 0; kh < c.w[2]; ++kh)
          for (int64_t kw = 0; kw < c.w[3]; ++kw) {
            double acc = 0;
            for (int64_t n = 0; n < c.x[0]; ++n)
              for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) {
                  const int64_t ih = oh * c.stride - c.padding + kh, iw = ow * c.stride - c.padding + kw;
                  if (ih < 0 || ih >= c.x[2] || iw < 0 || iw >= c.x[3]) continue;
                  acc += double(seed.at({n, oc, oh, ow})) * x0.at({n, ch, ih, iw});
                }
            want.at({oc, ch, kh, kw}) = static_cast<float>(acc);
          }
    CHECK(allclose(gw, want, 1e-4f, 1e-4f));
  }
}

TEST_CASE("conv2d: the panel kernel equals im2col + OpenBLAS and a direct loop") {
  // Small stride-1 feature maps whose rows tile 32-pixel panels, with output channels in
  // multiples of 8, take the forward product and the correlation input gradient through
  // core/kernels/conv_panels.h (on AVX-512 builds); ConvProduct::Blas is im2col + OpenBLAS.
  Rng rng(9);
  struct Case {
    Shape x, w;
    int64_t padding;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{3, 5, 8, 8}, {8, 5, 3, 3}, 1, false},      // VGG-small's 8×8 layers, small
      {{4, 3, 4, 8}, {16, 3, 3, 3}, 1, true},      // OH = 4: one panel of four rows, bias
      {{2, 7, 2, 16}, {24, 7, 3, 3}, 1, false},    // OW = 16: two rows per panel
      {{2, 2, 1, 32}, {8, 2, 3, 3}, 1, true},      // OW = 32, a single output row
      {{3, 4, 8, 8}, {8, 4, 5, 5}, 2, false},      // K = 5, two border columns
      {{2, 9, 8, 8}, {8, 9, 1, 1}, 0, true},       // 1x1
      {{3, 6, 12, 12}, {16, 6, 5, 5}, 0, true},    // LeNet-5's second layer: valid conv
      {{2, 3, 10, 8}, {8, 3, 5, 3}, 1, false},     // non-square kernel: OH = 8, OW = 8
      {{5, 16, 8, 8}, {32, 16, 3, 3}, 1, false},   // chunks on two threads, several tiles
      {{2, 3, 8, 8}, {12, 3, 3, 3}, 1, false},     // OC = 12: not a multiple of 8, OpenBLAS
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(shape_str(c.w));
    CAPTURE(c.padding);
    const Tensor x0 = rand(c.x, rng), w0 = rand(c.w, rng);
    const Tensor b0 = c.bias ? rand({c.w[0]}, rng) : Tensor();
    const int64_t OH = c.x[2] + 2 * c.padding - c.w[2] + 1, OW = c.x[3] + 2 * c.padding - c.w[3] + 1;
    const Tensor seed = rand({c.x[0], c.w[0], OH, OW}, rng);
    auto run = [&](kernels::ConvProduct algo) {
      kernels::set_conv_product(algo);
      Var x(x0, true), w(w0, true), b = c.bias ? Var(b0, true) : Var();
      Var y = conv2d(x, w, b, {1, c.padding});
      y.backward(seed);
      kernels::set_conv_product(kernels::ConvProduct::Auto);
      return std::tuple(y.data(), x.grad(), w.grad());
    };
    const auto [y, gx, gw] = run(kernels::ConvProduct::Auto);
    const auto [y_blas, gx_blas, gw_blas] = run(kernels::ConvProduct::Blas);
    CHECK(allclose(y, y_blas, 1e-5f, 1e-5f));
    CHECK(allclose(gx, gx_blas, 1e-5f, 1e-5f));
    CHECK(allclose(gw, gw_blas, 0.f, 0.f));  // the weight gradient does not use the kernel
    CHECK(allclose(y, naive_conv2d(x0, w0, b0, 1, c.padding), 1e-4f, 1e-5f));
    CHECK(allclose(gx, naive_conv2d_input_grad(x0, w0, seed, 1, c.padding), 1e-4f, 1e-5f));
  }
}

TEST_CASE("im2col: whole-row copies equal the segment loop, and conv2d through them a direct loop") {
  // Stride-1 im2col with output as wide as the input and wider than 16 copies each cols row
  // as one run of the plane and zeroes the border columns (core/kernels/im2col.cpp);
  // Im2colRows::Segments is the plain loop. The matrices must be equal entry for entry.
  Rng rng(7);
  struct Case {
    int64_t C, H, W, KH, KW, pad;
  };
  const std::vector<Case> cases = {
      {3, 32, 32, 3, 3, 1},   // VGG-small's first layer
      {2, 5, 17, 3, 3, 1},    // one column past a 16-lane chunk, few rows
      {1, 1, 33, 3, 3, 1},    // a single input row: every kh but the centre is padding
      {4, 7, 40, 5, 5, 2},    // K = 5: two border columns on each side
      {2, 6, 19, 1, 1, 0},    // 1x1: plain copy, no borders
      {3, 4, 21, 1, 3, 1},    // KH = 1 with pad 1: OH = H + 2, rows of zeros top and bottom
      {2, 3, 18, 5, 3, 1},    // KH = 5 with pad 1: OH = H − 2
      {2, 2, 16, 3, 3, 1},    // W = 16: stays on the segment loop (both variants equal)
      {1, 1, 17, 1, 41, 20},  // padding wider than the image: |shift| >= W, rows all zeros
      {2, 2, 18, 3, 37, 18},  // the same with several rows
  };
  for (const Case& c : cases) {
    CAPTURE(c.C);
    CAPTURE(c.H);
    CAPTURE(c.W);
    CAPTURE(c.KH);
    CAPTURE(c.KW);
    CAPTURE(c.pad);
    const auto g = kernels::ConvGeom::make(c.C, c.H, c.W, c.KH, c.KW, 1, c.pad);
    REQUIRE(g.OH > 0);
    REQUIRE(g.OW == c.W);
    const Tensor x = rand({c.C, c.H, c.W}, rng);
    const int64_t ld = g.col_cols() + 3;  // a wider matrix: entries past OH·OW stay untouched
    auto cols_of = [&](kernels::Im2colRows algo) {
      std::vector<float> cols(static_cast<size_t>(g.col_rows() * ld), 7.f);
      kernels::set_im2col_rows(algo);
      kernels::im2col(x.data(), g, cols.data(), ld);
      kernels::set_im2col_rows(kernels::Im2colRows::Auto);
      return cols;
    };
    const std::vector<float> whole = cols_of(kernels::Im2colRows::Auto);
    CHECK(whole == cols_of(kernels::Im2colRows::Segments));
    // And against the definition, entry by entry.
    int64_t wrong = 0;
    for (int64_t r = 0; r < g.col_rows(); ++r) {
      const int64_t ch = r / (c.KH * c.KW), kh = (r / c.KW) % c.KH, kw = r % c.KW;
      for (int64_t q = 0; q < ld; ++q) {
        const int64_t oh = q / g.OW, ow = q % g.OW, ih = oh - c.pad + kh, iw = ow - c.pad + kw;
        const float want = q >= g.col_cols() ? 7.f
                           : ih < 0 || ih >= c.H || iw < 0 || iw >= c.W
                               ? 0.f
                               : x.at({ch, ih, iw});
        wrong += whole[static_cast<size_t>(r * ld + q)] != want;
      }
    }
    CHECK(wrong == 0);
  }
  // Through conv2d, forward and both gradients, on a net-sized layer (two threads' chunks).
  const Tensor x0 = rand({3, 5, 32, 32}, rng), w0 = rand({6, 5, 3, 3}, rng);
  Var x(x0, true), w(w0, true);
  Var y = conv2d(x, w, Var(), {1, 1});
  CHECK(allclose(y.data(), naive_conv2d(x0, w0, Tensor(), 1, 1), 1e-4f, 1e-5f));
  const Tensor seed = rand(y.shape(), rng);
  y.backward(seed);
  CHECK(allclose(x.grad(), naive_conv2d_input_grad(x0, w0, seed, 1, 1), 1e-4f, 1e-5f));
}

TEST_CASE("conv2d: shape errors name the op and both shapes") {
  Rng rng(5);
  const Var x(rand({2, 3, 8, 8}, rng));
  std::string msg = error_of([&] { conv2d(x, Var(rand({4, 2, 3, 3}, rng))); });
  CHECK(contains(msg, "conv2d"));
  CHECK(contains(msg, "(2, 3, 8, 8)"));
  CHECK(contains(msg, "(4, 2, 3, 3)"));
  msg = error_of([&] { conv2d(x, Var(rand({4, 3, 3, 3}, rng)), Var(rand({5}, rng))); });
  CHECK(contains(msg, "conv2d"));
  CHECK(contains(msg, "(5,)"));
  CHECK(contains(msg, "(4, 3, 3, 3)"));
  CHECK(contains(error_of([&] {
                   conv2d(x, Var(rand({4, 3, 9, 9}, rng)));
                 }),
                 "larger than the input"));
  CHECK(contains(error_of([&] {
                   conv2d(Var(rand({3, 8, 8}, rng)), Var(rand({4, 3, 3, 3}, rng)));
                 }),
                 "conv2d: expected input (N, C, H, W)"));
  CHECK_THROWS_AS(conv2d(x, Var(rand({4, 3, 3, 3}, rng)), Var(), {0, 0}), Error);
}

// ---- pooling

TEST_CASE("max_pool2d and avg_pool2d: forward matches a direct loop") {
  Rng rng(6);
  struct Case {
    Shape x;
    int64_t k, s, p;
  };
  const std::vector<Case> cases = {{{2, 3, 8, 8}, 2, 0, 0},
                                   {{2, 2, 7, 9}, 3, 2, 1},
                                   {{1, 2, 6, 5}, 2, 1, 1},
                                   {{2, 1, 9, 7}, 4, 3, 2},
                                   {{8, 16, 24, 24}, 2, 2, 0}};  // parallel path
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(c.k);
    const Tensor x = rand(c.x, rng);
    const int64_t s = c.s ? c.s : c.k;
    const Tensor mx = max_pool2d(Var(x), c.k, c.s, c.p).data();
    const Tensor av = avg_pool2d(Var(x), c.k, c.s, c.p).data();
    CHECK(allclose(mx, naive_pool(x, c.k, s, c.p, false)));
    CHECK(allclose(av, naive_pool(x, c.k, s, c.p, true), 1e-5f, 1e-6f));
  }
}

TEST_CASE("max_pool2d: padded cells never win") {
  Rng rng(7);
  const Tensor x = rand({1, 2, 4, 4}, rng, -3.f, -1.f);  // all negative, padding would be 0
  const Tensor y = max_pool2d(Var(x), 3, 2, 1).data();
  CHECK(allclose(y, naive_pool(x, 3, 2, 1, false)));
  for (float v : y.to_vector()) CHECK(v < -0.5f);
}

TEST_CASE("max_pool2d: gradients go to the window maximum") {
  Rng rng(8);
  auto pool = [](int64_t k, int64_t s, int64_t p) {
    return [k, s, p](const std::vector<Var>& v) { return max_pool2d(v[0], k, s, p); };
  };
  SUBCASE("kernel 2, default stride") {
    CHECK(check_grad(pool(2, 0, 0), {spaced({2, 2, 6, 6}, rng)}) > 0);
  }
  SUBCASE("kernel 3, stride 2, padding 1") {
    CHECK(check_grad(pool(3, 2, 1), {spaced({2, 2, 7, 6}, rng)}) > 0);
  }
  SUBCASE("overlapping: kernel 2, stride 1, padding 1") {
    CHECK(check_grad(pool(2, 1, 1), {spaced({1, 3, 5, 5}, rng)}) > 0);
  }
  SUBCASE("each maximum receives exactly its output's gradient") {
    Var x(Tensor::from_vector({1, 1, 2, 4}, {1, 5, 2, 0, 3, 4, 8, 7}), true);
    Var y = max_pool2d(x, 2);
    y.backward(Tensor::from_vector({1, 1, 1, 2}, {10, 20}));
    CHECK(x.grad().to_vector() == std::vector<float>{0, 10, 0, 0, 0, 0, 20, 0});
  }
}

TEST_CASE("avg_pool2d: gradients (count_include_pad)") {
  Rng rng(9);
  auto pool = [](int64_t k, int64_t s, int64_t p) {
    return [k, s, p](const std::vector<Var>& v) { return avg_pool2d(v[0], k, s, p); };
  };
  SUBCASE("kernel 2") { CHECK(check_grad(pool(2, 0, 0), {rand({2, 2, 6, 6}, rng)}) > 0); }
  SUBCASE("kernel 3, stride 2, padding 1") {
    CHECK(check_grad(pool(3, 2, 1), {rand({2, 2, 7, 6}, rng)}) > 0);
  }
  SUBCASE("kernel 2, stride 1, padding 1") {
    CHECK(check_grad(pool(2, 1, 1), {rand({1, 2, 5, 4}, rng)}) > 0);
  }
  SUBCASE("padding counts as zeros in the divisor") {
    const Tensor y = avg_pool2d(Var(Tensor::ones({1, 1, 2, 2})), 2, 2, 1).data();
    CHECK(y.to_vector() == std::vector<float>{0.25f, 0.25f, 0.25f, 0.25f});
  }
}

TEST_CASE("pooling: argument errors") {
  Rng rng(10);
  const Var x(rand({1, 1, 4, 4}, rng));
  CHECK(contains(error_of([&] { max_pool2d(Var(rand({4, 4}, rng)), 2); }), "max_pool2d"));
  CHECK(contains(error_of([&] { avg_pool2d(x, 2, 2, 2); }), "avg_pool2d: padding 2"));
  CHECK(contains(error_of([&] { max_pool2d(x, 0); }), "max_pool2d"));
  CHECK(contains(error_of([&] { max_pool2d(x, 5); }), "larger than the input (1, 1, 4, 4)"));
}

// ---- batch norm

TEST_CASE("batch_norm: training-mode gradients of input, gamma and beta") {
  Rng rng(11);
  auto bn = [](const std::vector<Var>& v) {
    return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), {.training = true});
  };
  SUBCASE("(N, C)") {
    CHECK(check_grad(bn, {rand({6, 4}, rng, -2, 2), rand({4}, rng, 0.5f, 1.5f), rand({4}, rng)}) >
          0);
  }
  SUBCASE("(N, C, H, W)") {
    CHECK(check_grad(bn, {rand({3, 2, 3, 4}, rng, -2, 2), rand({2}, rng, 0.5f, 1.5f),
                          rand({2}, rng)}) > 0);
  }
  SUBCASE("without gamma and beta") {
    auto plain = [](const std::vector<Var>& v) {
      return batch_norm(v[0], Var(), Var(), Tensor(), Tensor());
    };
    CHECK(check_grad(plain, {rand({4, 3, 2, 2}, rng, -2, 2)}) > 0);
  }
}

TEST_CASE("batch_norm with the fused relu is relu(batch_norm(x)) bit for bit, forward and backward") {
  Rng rng(12);
  struct Case {
    Shape x;
    bool training, affine;
  };
  const std::vector<Case> cases = {
      {{6, 5}, true, true},          {{3, 3, 5, 7}, true, true},  {{1, 17, 4, 4}, true, false},
      {{2, 4, 3, 3}, false, true},   {{4, 2, 1, 33}, true, true},
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(c.training);
    const int64_t C = c.x[1];
    const Tensor x0 = rand(c.x, rng, -2, 2), g0 = rand({C}, rng, 0.5f, 1.5f), b0 = rand({C}, rng);
    const Tensor seed = rand(c.x, rng);
    auto run = [&](bool fused) {
      Var x(x0, true), gamma(g0, true), beta(b0, true);
      Tensor rm = Tensor::full({C}, 0.1f), rv = Tensor::full({C}, 0.9f);
      const Var gv = c.affine ? gamma : Var(), bv = c.affine ? beta : Var();
      const BatchNormArgs args{.training = c.training, .relu = fused};
      Var y = fused ? batch_norm(x, gv, bv, rm, rv, args) : relu(batch_norm(x, gv, bv, rm, rv, args));
      y.backward(seed);
      return std::vector<Tensor>{y.data(), x.grad(), c.affine ? gamma.grad() : Tensor::zeros({1}),
                                 c.affine ? beta.grad() : Tensor::zeros({1}), rm, rv};
    };
    const std::vector<Tensor> fused = run(true), plain = run(false);
    int64_t zeros = 0;  // the ReLU must cut something for the test to mean anything
    for (int64_t i = 0; i < fused[0].numel(); ++i) zeros += fused[0].data()[i] == 0.f;
    CHECK(zeros > 0);
    CHECK(zeros < fused[0].numel());
    for (size_t k = 0; k < fused.size(); ++k) {
      CAPTURE(k);
      CHECK(allclose(fused[k], plain[k], 0.f, 0.f));
    }
  }
  SUBCASE("finite differences") {
    auto bn_relu = [](const std::vector<Var>& v) {
      return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), {.training = true, .relu = true});
    };
    GradCheckOptions away_from_kinks;  // outputs within ±eps of 0 have no derivative
    away_from_kinks.avoid_kinks = true;
    CHECK(check_grad(bn_relu,
                     {rand({3, 2, 3, 4}, rng, -2, 2), rand({2}, rng, 0.5f, 1.5f),
                      Tensor::from_vector({2}, {0.3f, -0.2f})},
                     away_from_kinks) > 0);
  }
}

TEST_CASE("batch_norm: eval mode uses the running statistics") {
  Rng rng(12);
  const Tensor rm = Tensor::from_vector({3}, {0.5f, -1.f, 2.f});
  const Tensor rv = Tensor::from_vector({3}, {4.f, 0.25f, 1.f});
  auto bn = [rm, rv](const std::vector<Var>& v) {
    return batch_norm(v[0], v[1], v[2], rm, rv, {.training = false});
  };
  SUBCASE("(N, C) gradients") {
    CHECK(check_grad(bn, {rand({5, 3}, rng, -2, 2), rand({3}, rng), rand({3}, rng)}) > 0);
  }
  SUBCASE("(N, C, H, W) gradients") {
    CHECK(check_grad(bn, {rand({2, 3, 2, 3}, rng, -2, 2), rand({3}, rng), rand({3}, rng)}) > 0);
  }
  SUBCASE("values, and the running statistics are left alone") {
    const Tensor x = rand({2, 3, 2, 2}, rng);
    const Tensor y = batch_norm(Var(x), Var(), Var(), rm, rv, {.training = false}).data();
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < 2; ++i)
          CHECK(y.at({n, c, i, 1}) ==
                doctest::Approx((x.at({n, c, i, 1}) - rm.at({c})) / std::sqrt(rv.at({c}) + 1e-5f)));
    CHECK(rm.to_vector() == std::vector<float>{0.5f, -1.f, 2.f});
    CHECK(rv.to_vector() == std::vector<float>{4.f, 0.25f, 1.f});
  }
}

TEST_CASE("batch_norm: training normalises with batch statistics and updates running ones") {
  // Channel 0 of (N=4, C=2): {1, 2, 3, 6}: mean 3, biased var 3.5, unbiased 14/3.
  const Tensor x = Tensor::from_vector({4, 2}, {1, 10, 2, 10, 3, 14, 6, 14});
  Tensor rm = Tensor::zeros({2}), rv = Tensor::ones({2});
  const Tensor gamma = Tensor::from_vector({2}, {2.f, 1.f}),
               beta = Tensor::from_vector({2}, {1.f, 0.f});
  const Tensor y = batch_norm(Var(x), Var(gamma), Var(beta), rm, rv).data();
  const float inv0 = 1.f / std::sqrt(3.5f + 1e-5f);
  CHECK(y.at({0, 0}) == doctest::Approx(2.f * (1 - 3) * inv0 + 1.f));
  CHECK(y.at({3, 0}) == doctest::Approx(2.f * (6 - 3) * inv0 + 1.f));
  CHECK(y.at({0, 1}) == doctest::Approx(-2.f / std::sqrt(4.f + 1e-5f)).epsilon(1e-4));
  // running = 0.9·running + 0.1·batch, with the unbiased variance (PyTorch).
  CHECK(rm.at({0}) == doctest::Approx(0.3f));
  CHECK(rm.at({1}) == doctest::Approx(1.2f));
  CHECK(rv.at({0}) == doctest::Approx(0.9f + 0.1f * 14.f / 3.f));
  CHECK(rv.at({1}) == doctest::Approx(0.9f + 0.1f * 16.f / 3.f));
  // A second step with momentum 0.5 moves halfway.
  batch_norm(Var(x), Var(), Var(), rm, rv, {.momentum = 0.5f});
  CHECK(rm.at({0}) == doctest::Approx(0.5f * 0.3f + 0.5f * 3.f));

  // (N, C, H, W): statistics over N, H and W of each channel.
  Rng rng(13);
  const Tensor x4 = rand({3, 2, 4, 5}, rng, -1.f, 3.f);
  Tensor rm4 = Tensor::zeros({2}), rv4 = Tensor::zeros({2});
  const Tensor y4 = batch_norm(Var(x4), Var(), Var(), rm4, rv4, {.momentum = 1.f}).data();
  for (int64_t c = 0; c < 2; ++c) {
    double s = 0, s2 = 0, ys = 0, ys2 = 0;
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 5; ++j) {
          const double v = x4.at({n, c, i, j}), u = y4.at({n, c, i, j});
          s += v, s2 += v * v, ys += u, ys2 += u * u;
        }
    const double m = s / 60, var = s2 / 60 - m * m;
    CHECK(rm4.at({c}) == doctest::Approx(m).epsilon(1e-5));
    CHECK(rv4.at({c}) == doctest::Approx(var * 60 / 59).epsilon(1e-4));
    CHECK(ys / 60 == doctest::Approx(0.0).epsilon(1e-5).scale(1.0));
    CHECK(ys2 / 60 == doctest::Approx(1.0).epsilon(1e-3));
  }
}

TEST_CASE("batch_norm: argument errors") {
  Rng rng(14);
  const Var x(rand({4, 3, 2, 2}, rng));
  std::string msg =
      error_of([&] { batch_norm(x, Var(rand({4}, rng)), Var(), Tensor(), Tensor()); });
  CHECK(contains(msg, "batch_norm"));
  CHECK(contains(msg, "(4,)"));
  CHECK(contains(msg, "(4, 3, 2, 2)"));
  CHECK(contains(error_of([&] { batch_norm(x, Var(), Var(), Tensor::zeros({2}), Tensor()); }),
                 "running_mean (2,)"));
  CHECK(contains(
      error_of([&] { batch_norm(x, Var(), Var(), Tensor(), Tensor(), {.training = false}); }),
      "running_mean"));
  CHECK(contains(error_of([&] {
                   batch_norm(Var(rand({1, 3}, rng)), Var(), Var(), Tensor(), Tensor());
                 }),
                 "more than 1 value per channel"));
}

// ---- dropout

TEST_CASE("dropout: inverted scaling, seeded mask, identity in eval") {
  Rng rng(15);
  const Tensor ones = Tensor::ones({20000});
  Rng r1(99), r2(99);
  const Tensor y1 = dropout(Var(ones), 0.3f, true, r1).data();
  const Tensor y2 = dropout(Var(ones), 0.3f, true, r2).data();
  CHECK(y1.to_vector() == y2.to_vector());
  int64_t zeros = 0, survivors_scaled = 0;
  for (float v : y1.to_vector()) {
    if (v == 0.f) ++zeros;
    if (std::fabs(v - 1.f / 0.7f) < 1e-6f) ++survivors_scaled;
  }
  CHECK(zeros + survivors_scaled == 20000);
  CHECK(static_cast<double>(zeros) / 20000.0 == doctest::Approx(0.3).epsilon(0.05));

  const Var x(rand({3, 4}, rng));
  CHECK(dropout(x, 0.5f, false, rng).data().shares_storage(x.data()));  // eval: identity
  CHECK(dropout(x, 0.f, true, rng).data().to_vector() == x.data().to_vector());
  CHECK(contains(error_of([&] { dropout(x, 1.f, true, rng); }), "dropout: expected 0 <= p < 1"));
  CHECK_THROWS_AS(dropout(x, -0.1f, false, rng), Error);
}

TEST_CASE("dropout: gradient is the mask") {
  Rng rng(16);
  // Each evaluation draws from a fresh Rng with the same seed, so the mask is fixed.
  auto fn = [](const std::vector<Var>& v) {
    Rng mask_rng(5);
    return dropout(v[0], 0.4f, true, mask_rng);
  };
  CHECK(check_grad(fn, {rand({4, 5}, rng)}) > 0);
}

// ---- losses

TEST_CASE("cross_entropy: value and gradient") {
  Rng rng(17);
  const Tensor logits = Tensor::from_vector({2, 3}, {1, 2, 3, 0, 0, 0});
  const Tensor targets = Tensor::from_vector({2}, {2, 0});
  const float l0 = -std::log(std::exp(3.f) / (std::exp(1.f) + std::exp(2.f) + std::exp(3.f)));
  const float l1 = std::log(3.f);
  CHECK(cross_entropy(Var(logits), targets).data().item() == doctest::Approx((l0 + l1) / 2));
  // Large logits stay finite (max subtraction).
  const Tensor big = Tensor::from_vector({1, 2}, {1000.f, 0.f});
  CHECK(cross_entropy(Var(big), Tensor::from_vector({1}, {1})).data().item() ==
        doctest::Approx(1000.f));

  const Tensor t = Tensor::from_vector({5}, {0, 3, 1, 3, 2});
  auto fn = [t](const std::vector<Var>& v) { return cross_entropy(v[0], t); };
  CHECK(check_grad(fn, {rand({5, 4}, rng, -3, 3)}) > 0);
  // Closed form: (softmax − onehot)/N.
  Var x(logits, true);
  cross_entropy(x, targets).backward();
  CHECK(x.grad().at({1, 0}) == doctest::Approx((1.f / 3.f - 1.f) / 2.f));
  CHECK(x.grad().at({1, 1}) == doctest::Approx((1.f / 3.f) / 2.f));
}

TEST_CASE("cross_entropy and squared_hinge: target validation") {
  Rng rng(18);
  const Var x(rand({3, 4}, rng));
  for (const char* op : {"cross_entropy", "squared_hinge"}) {
    CAPTURE(op);
    auto call = [&](const Tensor& t) {
      return error_of([&] {
        if (std::string(op) == "cross_entropy")
          cross_entropy(x, t);
        else
          squared_hinge(x, t);
      });
    };
    CHECK(contains(call(Tensor::from_vector({3}, {0, 1.5f, 2})), "target 1.5 at index 1"));
    CHECK(contains(call(Tensor::from_vector({3}, {0, 1, 4})), "not a class index in [0, 4)"));
    CHECK(contains(call(Tensor::from_vector({3}, {-1, 1, 2})), op));
    const std::string msg = call(Tensor::from_vector({2}, {0, 1}));
    CHECK(contains(msg, op));
    CHECK(contains(msg, "(2,)"));
    CHECK(contains(msg, "(3, 4)"));
  }
}

TEST_CASE("mse: value, gradients, shape errors") {
  Rng rng(19);
  const Tensor a = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  const Tensor b = Tensor::from_vector({2, 2}, {1, 0, 0, 4});
  CHECK(mse(Var(a), Var(b)).data().item() == doctest::Approx((4.f + 9.f) / 4.f));
  auto fn = [](const std::vector<Var>& v) { return mse(v[0], v[1]); };
  CHECK(check_grad(fn, {rand({3, 4}, rng), rand({3, 4}, rng)}) > 0);
  const std::string msg = error_of([&] { mse(Var(a), Var(rand({4}, rng))); });
  CHECK(contains(msg, "mse"));
  CHECK(contains(msg, "(2, 2)"));
  CHECK(contains(msg, "(4,)"));
}

TEST_CASE("squared_hinge: value and gradient") {
  Rng rng(20);
  // Row 0, target 1: t = (−1, +1, −1); margins max(0, 1 − t·y) = (1.5, 0, 0.8).
  // Row 1, target 0: t = (+1, −1, −1); margins = (0, 3, 1).
  const Tensor y = Tensor::from_vector({2, 3}, {0.5f, 2.f, -0.2f, 1.5f, 2.f, 0.f});
  const Tensor t = Tensor::from_vector({2}, {1, 0});
  const float ref = (1.5f * 1.5f + 0.8f * 0.8f + 9.f + 1.f) / 6.f;
  CHECK(squared_hinge(Var(y), t).data().item() == doctest::Approx(ref));
  Var yv(y, true);
  squared_hinge(yv, t).backward();
  CHECK(yv.grad().at({0, 0}) == doctest::Approx(2.f * 1.5f / 6.f));  // −2·t·margin/(N·C)
  CHECK(yv.grad().at({0, 1}) == doctest::Approx(0.f));
  CHECK(yv.grad().at({1, 1}) == doctest::Approx(2.f * 3.f / 6.f));

  const Tensor tt = Tensor::from_vector({4}, {2, 0, 1, 2});
  auto fn = [tt](const std::vector<Var>& v) { return squared_hinge(v[0], tt); };
  CHECK(check_grad(fn, {rand({4, 3}, rng, -2, 2)}) > 0);
}

TEST_CASE("matmul and linear: shape errors name the op and both shapes") {
  Rng rng(21);
  std::string msg = error_of([&] { matmul(Var(rand({2, 3}, rng)), Var(rand({4, 5}, rng))); });
  CHECK(contains(msg, "matmul"));
  CHECK(contains(msg, "(2, 3)"));
  CHECK(contains(msg, "(4, 5)"));
  msg = error_of([&] { linear(Var(rand({2, 3}, rng)), Var(rand({4, 5}, rng))); });
  CHECK(contains(msg, "linear"));
  CHECK(contains(msg, "(2, 3)"));
  CHECK(contains(msg, "(4, 5)"));
  msg = error_of([&] {
    linear(Var(rand({2, 3}, rng)), Var(rand({4, 3}, rng)), Var(rand({3}, rng)));
  });
  CHECK(contains(msg, "linear: bias (3,)"));
  CHECK(contains(msg, "(4, 3)"));
}
