#include "datasets/transforms.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/random.h"
#include "core/registry.h"

namespace lowbit {

using nlohmann::json;

// ---- the registry: one entry per transform, its name, JSON options and their inverse

namespace {

Transform scale_from_json(JsonArgs& a) {
  const std::vector<int64_t> range = a.int_list("range", -1000, {0, 1});
  if (range.size() != 2 || range[0] >= range[1])
    json_fail(a.path_of("range"), "expected [lo, hi] with lo < hi, e.g. [0, 1] or [-1, 1]");
  return transforms::scale(static_cast<float>(range[0]), static_cast<float>(range[1]));
}
json scale_to_json(const Transform& t) {
  return {{"range", {static_cast<int64_t>(t.lo), static_cast<int64_t>(t.hi)}}};
}

std::vector<float> float_list(JsonArgs& a, const char* key) {
  const json& v = a.required(key);
  if (!v.is_array() || v.empty()) json_fail(a.path_of(key), "expected a list of numbers");
  std::vector<float> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number())
      json_fail(json_path(a.path_of(key), i), "expected a number, got " + json_brief(v[i]));
    out.push_back(v[i].get<float>());
  }
  return out;
}
json float_list_to_json(const std::vector<float>& v) {
  json out = json::array();
  for (float x : v) out.push_back(float_to_json(x));
  return out;
}

Transform normalize_from_json(JsonArgs& a) {
  std::vector<float> mean = float_list(a, "mean"), std = float_list(a, "std");
  for (size_t i = 0; i < std.size(); ++i)
    if (!(std[i] > 0)) json_fail(json_path(a.path_of("std"), i), "every std must be > 0");
  return transforms::normalize(std::move(mean), std::move(std));
}
json normalize_to_json(const Transform& t) {
  return {{"mean", float_list_to_json(t.mean)}, {"std", float_list_to_json(t.std)}};
}

Transform random_crop_from_json(JsonArgs& a) {
  return transforms::random_crop(a.non_negative_int("padding", 0), a.non_negative_int("size", 0));
}
json random_crop_to_json(const Transform& t) { return {{"padding", t.padding}, {"size", t.size}}; }

Transform horizontal_flip_from_json(JsonArgs& a) {
  return transforms::horizontal_flip(static_cast<float>(a.number_in("p", 0.0, 1.0, 0.5)));
}
json horizontal_flip_to_json(const Transform& t) { return {{"p", float_to_json(t.p)}}; }

struct TransformEntry {
  const char* name;
  Transform::Kind kind;
  Transform (*from_json)(JsonArgs& args);
  json (*options)(const Transform& t);
};

constexpr TransformEntry kTransforms[] = {
    {"scale", Transform::Kind::scale, &scale_from_json, &scale_to_json},
    {"normalize", Transform::Kind::normalize, &normalize_from_json, &normalize_to_json},
    {"random_crop", Transform::Kind::random_crop, &random_crop_from_json, &random_crop_to_json},
    {"horizontal_flip", Transform::Kind::horizontal_flip, &horizontal_flip_from_json,
     &horizontal_flip_to_json},
};

const TransformEntry& entry_of(Transform::Kind kind) {
  for (const TransformEntry& e : kTransforms)
    if (e.kind == kind) return e;
  LB_FAIL("transform kind ", static_cast<int>(kind), " is not registered");
}

using TransformRegistry = Registry<Transform(const json& spec, const std::string& path)>;

const TransformRegistry& registry() {
  static const TransformRegistry r = [] {
    TransformRegistry reg("transform");
    for (const TransformEntry& e : kTransforms)
      reg.add(e.name, [&e](const json& spec, const std::string& path) {
        JsonArgs a(spec, path);
        a.allow({"type"});
        Transform t = e.from_json(a);
        a.finish();
        return t;
      });
    return reg;
  }();
  return r;
}

}  // namespace

std::string Transform::name() const { return entry_of(kind).name; }

Transform make_transform(const json& spec, const std::string& path) {
  const auto [name, obj] = registry().resolve(spec, path, "type");
  return registry().make(name, obj, path);
}

TransformList make_transforms(const json& list, const std::string& path) {
  if (list.is_null()) return {};
  if (!list.is_array()) json_fail(path, "expected a list of transforms, got " + json_brief(list));
  TransformList out;
  for (size_t i = 0; i < list.size(); ++i) out.push_back(make_transform(list[i], json_path(path, i)));
  return out;
}

json transform_to_json(const Transform& t) {
  json j = {{"type", t.name()}};
  j.update(entry_of(t.kind).options(t));
  return j;
}

json transforms_to_json(const TransformList& list) {
  json out = json::array();
  for (const Transform& t : list) out.push_back(transform_to_json(t));
  return out;
}

std::vector<std::string> transform_names() { return registry().names(); }

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
