#include <doctest/doctest.h>

#include "core/random.h"
#include "datasets/transforms.h"
#include "tests/support/error_of.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;

namespace {
// 1x3x3 image with values 1..9.
const std::vector<uint8_t> k3x3 = {1, 2, 3, 4, 5, 6, 7, 8, 9};

std::vector<float> run(const TransformList& list, const Shape& in, const std::vector<uint8_t>& src,
                       AugmentDraw d) {
  TransformPipeline p(list, in);
  std::vector<float> out(static_cast<size_t>(shape_numel(p.output_shape())));
  p.apply(src.data(), out.data(), d);
  // The float path gives the same result.
  std::vector<float> srcf(src.begin(), src.end()), outf(out.size());
  p.apply(srcf.data(), outf.data(), d);
  CHECK(outf == out);
  return out;
}
}  // namespace

TEST_CASE("transforms: scale to [0, 1] and [-1, 1]") {
  const std::vector<uint8_t> px = {0, 51, 255};
  const Shape s{1, 1, 3};
  const auto a = run({transforms::scale(0, 1)}, s, px, {});
  CHECK(a[0] == 0.f);
  CHECK(a[1] == doctest::Approx(0.2f));
  CHECK(a[2] == doctest::Approx(1.f));
  const auto b = run({transforms::scale(-1, 1)}, s, px, {});
  CHECK(b[0] == -1.f);
  CHECK(b[1] == doctest::Approx(-0.6f));
  CHECK(b[2] == doctest::Approx(1.f));
  // No transforms: raw pixel values.
  CHECK(run({}, s, px, {}) == std::vector<float>{0, 51, 255});
}

TEST_CASE("transforms: per-channel mean/std normalisation after scale") {
  // 3 channels of 1x2 pixels.
  const std::vector<uint8_t> px = {0, 255, 51, 102, 255, 0};
  const auto y = run({transforms::scale(0, 1), transforms::normalize({0.5f, 0.2f, 0.1f}, {0.5f, 0.1f, 2.f})},
                     {3, 1, 2}, px, {});
  CHECK(y[0] == doctest::Approx(-1.f));
  CHECK(y[1] == doctest::Approx(1.f));
  CHECK(y[2] == doctest::Approx(0.f));
  CHECK(y[3] == doctest::Approx(2.f));
  CHECK(y[4] == doctest::Approx(0.45f));
  CHECK(y[5] == doctest::Approx(-0.05f));
  // One mean/std value broadcasts over channels.
  const auto z = run({transforms::normalize({100.f}, {50.f})}, {3, 1, 2}, px, {});
  CHECK(z[1] == doctest::Approx(3.1f));
  CHECK(z[5] == doctest::Approx(-2.f));
}

TEST_CASE("transforms: random crop with zero padding, at explicit positions") {
  const Shape s{1, 3, 3};
  const TransformList crop = {transforms::random_crop(1)};
  CHECK(run(crop, s, k3x3, {.top = 0, .left = 0}) == std::vector<float>{0, 0, 0, 0, 1, 2, 0, 4, 5});
  CHECK(run(crop, s, k3x3, {.top = 2, .left = 2}) == std::vector<float>{5, 6, 0, 8, 9, 0, 0, 0, 0});
  CHECK(run(crop, s, k3x3, {.top = 1, .left = 1}) == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(run(crop, s, k3x3, {.top = 1, .left = 0}) == std::vector<float>{0, 1, 2, 0, 4, 5, 0, 7, 8});
  // A smaller window: size 2 out of the 5x5 padded image.
  CHECK(run({transforms::random_crop(1, 2)}, s, k3x3, {.top = 3, .left = 1}) ==
        std::vector<float>{7, 8, 0, 0});
}

TEST_CASE("transforms: the padding is 0 where the crop stands in the list") {
  const Shape s{1, 3, 3};
  // Crop before scale(-1, 1): a padded pixel is raw 0 -> -1 (black).
  const auto a = run({transforms::random_crop(1), transforms::scale(-1, 1)}, s, k3x3, {.top = 0, .left = 0});
  CHECK(a[0] == -1.f);
  CHECK(a[4] == doctest::Approx(1.f / 127.5f - 1.f));
  // Crop after scale(-1, 1): a padded pixel is 0 in [-1, 1].
  const auto b = run({transforms::scale(-1, 1), transforms::random_crop(1)}, s, k3x3, {.top = 0, .left = 0});
  CHECK(b[0] == 0.f);
  CHECK(b[4] == doctest::Approx(1.f / 127.5f - 1.f));
  // Crop before normalize: padded pixel = (0 - mean) / std.
  const auto c = run({transforms::random_crop(1), transforms::normalize({2.f}, {4.f})}, s, k3x3, {});
  CHECK(c[0] == doctest::Approx(-0.5f));
  CHECK(c[4] == doctest::Approx(-0.25f));
}

TEST_CASE("transforms: horizontal flip, alone and combined with the crop in either order") {
  const Shape s{1, 3, 3};
  CHECK(run({transforms::horizontal_flip()}, s, k3x3, {.flip = true}) ==
        std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7});
  CHECK(run({transforms::horizontal_flip()}, s, k3x3, {.flip = false}) ==
        std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  // Crop at (0, 0) of the padded image, then mirror the window.
  CHECK(run({transforms::random_crop(1), transforms::horizontal_flip()}, s, k3x3,
            {.top = 0, .left = 0, .flip = true}) == std::vector<float>{0, 0, 0, 2, 1, 0, 5, 4, 0});
  // Mirror the padded image, then crop at (0, 0).
  CHECK(run({transforms::horizontal_flip(), transforms::random_crop(1)}, s, k3x3,
            {.top = 0, .left = 0, .flip = true}) == std::vector<float>{0, 0, 0, 0, 3, 2, 0, 6, 5});
}

TEST_CASE("TransformPipeline::draw: seeded, covers the crop range, flips with probability p") {
  TransformPipeline p({transforms::random_crop(2), transforms::horizontal_flip(0.25f)}, {3, 8, 8});
  CHECK(p.output_shape() == Shape{3, 8, 8});
  Rng rng(5), same(5);
  int flips = 0;
  std::vector<int> tops(5), lefts(5);
  for (int i = 0; i < 2000; ++i) {
    const AugmentDraw d = p.draw(rng);
    const AugmentDraw e = p.draw(same);
    REQUIRE((d.top == e.top && d.left == e.left && d.flip == e.flip));
    REQUIRE((d.top >= 0 && d.top <= 4 && d.left >= 0 && d.left <= 4));
    ++tops[static_cast<size_t>(d.top)];
    ++lefts[static_cast<size_t>(d.left)];
    flips += d.flip;
  }
  for (int k = 0; k < 5; ++k) {
    CHECK(tops[static_cast<size_t>(k)] > 300);
    CHECK(lefts[static_cast<size_t>(k)] > 300);
  }
  CHECK(flips > 400);
  CHECK(flips < 600);
  // Evaluation: centre window, no flip, no random draws.
  const Rng::State before = rng.state();
  const AugmentDraw ev = p.draw(rng, /*augment=*/false);
  CHECK(ev.top == 2);
  CHECK(ev.left == 2);
  CHECK_FALSE(ev.flip);
  CHECK(rng.state() == before);
}

TEST_CASE("TransformPipeline: bad transforms are rejected with their position and the reason") {
  const Shape s{3, 4, 4};
  CHECK(contains(error_of([&] {
                   TransformPipeline({transforms::scale(0, 1), transforms::normalize({0.5f, 0.5f}, {1.f, 1.f})}, s);
                 }),
                 "transform 1 (normalize): mean and std need 1 or 3 values"));
  CHECK(contains(error_of([&] { TransformPipeline({transforms::normalize({0.f}, {0.f})}, s); }),
                 "std must be > 0"));
  CHECK(contains(error_of([&] { TransformPipeline({transforms::scale(1, 1)}, s); }), "lo < hi"));
  CHECK(contains(error_of([&] { TransformPipeline({transforms::random_crop(1, 7)}, s); }),
                 "larger than the padded image 6x6"));
  CHECK(contains(error_of([&] { TransformPipeline({transforms::random_crop(1), transforms::random_crop(2)}, s); }),
                 "only one random_crop"));
  CHECK(contains(error_of([&] { TransformPipeline({transforms::horizontal_flip(1.5f)}, s); }),
                 "p must be in [0, 1]"));
  TransformPipeline p({}, s);
  Rng rng(1);
  CHECK(contains(error_of([&] { p(Tensor::zeros({3, 4, 5}), rng); }), "expected an image of shape"));
}
