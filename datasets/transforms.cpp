#include "datasets/transforms.h"

#include <algorithm>

#include "core/check.h"
#include "core/random.h"

namespace lowbit {

std::string Transform::name() const {
  switch (kind) {
    case Kind::scale: return "scale";
    case Kind::normalize: return "normalize";
    case Kind::random_crop: return "random_crop";
    case Kind::horizontal_flip: return "horizontal_flip";
  }
  return "?";
}

namespace transforms {
Transform scale(float lo, float hi) {
  Transform t;
  t.kind = Transform::Kind::scale;
  t.lo = lo;
  t.hi = hi;
  return t;
}
Transform normalize(std::vector<float> mean, std::vector<float> std) {
  Transform t;
  t.kind = Transform::Kind::normalize;
  t.mean = std::move(mean);
  t.std = std::move(std);
  return t;
}
Transform random_crop(int64_t padding, int64_t size) {
  Transform t;
  t.kind = Transform::Kind::random_crop;
  t.padding = padding;
  t.size = size;
  return t;
}
Transform horizontal_flip(float p) {
  Transform t;
  t.kind = Transform::Kind::horizontal_flip;
  t.p = p;
  return t;
}
}  // namespace transforms

TransformPipeline::TransformPipeline(const TransformList& list, const Shape& input_shape)
    : in_(input_shape), out_(input_shape) {
  LB_CHECK(in_.size() == 3 && in_[0] > 0 && in_[1] > 0 && in_[2] > 0,
           "TransformPipeline: input shape must be (C, H, W), got ", in_);
  const int64_t C = in_[0], H = in_[1], W = in_[2];
  a_.assign(static_cast<size_t>(C), 1.f);
  b_.assign(static_cast<size_t>(C), 0.f);
  // Affine map of the transforms after the crop, which is what a padded 0 becomes.
  std::vector<float> a_after(static_cast<size_t>(C), 1.f), b_after(static_cast<size_t>(C), 0.f);
  for (size_t i = 0; i < list.size(); ++i) {
    const Transform& t = list[i];
    const std::string where = "transform " + std::to_string(i) + " (" + t.name() + ")";
    auto compose = [&](int64_t c, float alpha, float beta) {
      const auto k = static_cast<size_t>(c);
      a_[k] = alpha * a_[k];
      b_[k] = alpha * b_[k] + beta;
      a_after[k] = alpha * a_after[k];
      b_after[k] = alpha * b_after[k] + beta;
    };
    switch (t.kind) {
      case Transform::Kind::scale: {
        LB_CHECK(t.hi > t.lo, where, ": needs lo < hi, got lo = ", t.lo, ", hi = ", t.hi);
        for (int64_t c = 0; c < C; ++c) compose(c, (t.hi - t.lo) / 255.f, t.lo);
        break;
      }
      case Transform::Kind::normalize: {
        const auto n = static_cast<int64_t>(t.mean.size());
        LB_CHECK((n == 1 || n == C) && t.std.size() == t.mean.size(), where,
                 ": mean and std need 1 or ", C, " values (one per channel), got ", t.mean.size(),
                 " and ", t.std.size());
        for (int64_t c = 0; c < C; ++c) {
          const float m = t.mean[static_cast<size_t>(n == 1 ? 0 : c)];
          const float s = t.std[static_cast<size_t>(n == 1 ? 0 : c)];
          LB_CHECK(s > 0.f, where, ": std must be > 0, got ", s, " for channel ", c);
          compose(c, 1.f / s, -m / s);
        }
        break;
      }
      case Transform::Kind::random_crop: {
        LB_CHECK(!has_crop_, where, ": only one random_crop is allowed");
        LB_CHECK(t.padding >= 0 && t.size >= 0, where, ": padding and size must be >= 0, got ",
                 t.padding, " and ", t.size);
        const int64_t size_h = t.size ? t.size : H, size_w = t.size ? t.size : W;
        LB_CHECK(size_h <= H + 2 * t.padding && size_w <= W + 2 * t.padding, where, ": size ",
                 t.size, " is larger than the padded image ", H + 2 * t.padding, "x",
                 W + 2 * t.padding);
        has_crop_ = true;
        flip_before_crop_ = has_flip_;
        padding_ = t.padding;
        out_ = {C, size_h, size_w};
        std::fill(a_after.begin(), a_after.end(), 1.f);
        std::fill(b_after.begin(), b_after.end(), 0.f);
        break;
      }
      case Transform::Kind::horizontal_flip: {
        LB_CHECK(!has_flip_, where, ": only one horizontal_flip is allowed");
        LB_CHECK(t.p >= 0.f && t.p <= 1.f, where, ": p must be in [0, 1], got ", t.p);
        has_flip_ = true;
        flip_p_ = t.p;
        break;
      }
    }
  }
  pad_ = b_after;
}

AugmentDraw TransformPipeline::draw(Rng& rng, bool augment) const {
  AugmentDraw d;
  if (has_crop_) {
    const int64_t range_h = in_[1] + 2 * padding_ - out_[1], range_w = in_[2] + 2 * padding_ - out_[2];
    if (augment) {
      d.top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(range_h + 1)));
      d.left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(range_w + 1)));
    } else {
      d.top = range_h / 2;
      d.left = range_w / 2;
    }
  }
  if (has_flip_ && augment) d.flip = rng.uniform() < flip_p_;
  return d;
}

template <class T>
void TransformPipeline::apply_impl(const T* src, float* dst, const AugmentDraw& d) const {
  const int64_t C = in_[0], H = in_[1], W = in_[2], OH = out_[1], OW = out_[2];
  const int64_t p = has_crop_ ? padding_ : 0;
  const int64_t top = has_crop_ ? d.top : 0, left = has_crop_ ? d.left : 0;
  const bool flip = has_flip_ && d.flip;
  // Source column of output column x: sx = base + step * x.
  int64_t base = left - p, step = 1;
  if (flip) {
    step = -1;
    base = flip_before_crop_ ? (W + 2 * p - 1 - left) - p : left - p + OW - 1;
  }
  // Output columns whose source column is inside the image: [x0, x1).
  int64_t x0 = step > 0 ? -base : base - W + 1, x1 = step > 0 ? W - base : base + 1;
  x0 = std::clamp<int64_t>(x0, 0, OW);
  x1 = std::clamp<int64_t>(x1, x0, OW);
  for (int64_t c = 0; c < C; ++c) {
    const float a = a_[static_cast<size_t>(c)], b = b_[static_cast<size_t>(c)];
    const float pad = pad_[static_cast<size_t>(c)];
    for (int64_t y = 0; y < OH; ++y) {
      float* out = dst + (c * OH + y) * OW;
      const int64_t sy = top + y - p;
      if (sy < 0 || sy >= H) {
        std::fill(out, out + OW, pad);
        continue;
      }
      const T* row = src + (c * H + sy) * W;
      std::fill(out, out + x0, pad);
      if (step > 0) {
        for (int64_t x = x0; x < x1; ++x) out[x] = a * static_cast<float>(row[base + x]) + b;
      } else {
        for (int64_t x = x0; x < x1; ++x) out[x] = a * static_cast<float>(row[base - x]) + b;
      }
      std::fill(out + x1, out + OW, pad);
    }
  }
}

void TransformPipeline::apply(const uint8_t* src, float* dst, const AugmentDraw& d) const {
  apply_impl(src, dst, d);
}
void TransformPipeline::apply(const float* src, float* dst, const AugmentDraw& d) const {
  apply_impl(src, dst, d);
}

Tensor TransformPipeline::operator()(const Tensor& image, Rng& rng, bool augment) const {
  LB_CHECK(image.shape() == in_, "TransformPipeline: expected an image of shape ", in_, ", got ",
           image.shape());
  Tensor out = Tensor::empty(out_);
  apply(image.data(), out.data(), draw(rng, augment));
  return out;
}

}  // namespace lowbit
