#pragma once
/// Image transforms: value maps (scale, per-channel normalisation) and seeded augmentations
/// (random crop with padding, horizontal flip), compiled into one fused pass per image.
///
///   TransformList t = {transforms::random_crop(4), transforms::horizontal_flip(),
///                      transforms::scale(0, 1),
///                      transforms::normalize({0.4914f, 0.4822f, 0.4465f},
///                                            {0.2470f, 0.2435f, 0.2616f})};
///   TransformPipeline p(t, {3, 32, 32});
///   Tensor y = p(x, rng);          // x: (3, 32, 32) raw pixels -> y: (3, 32, 32)
///
/// Transforms apply in list order to an image whose values start as raw pixels 0..255:
///   scale(lo, hi):        v -> lo + v * (hi - lo) / 255          ([0, 255] -> [lo, hi])
///   normalize(mean, std): v -> (v - mean[c]) / std[c]            (one value or one per channel)
///   random_crop(padding, size): pad each side with `padding` zeros, cut a size x size window
///                         at a uniform random position (size 0 = the input size)
///   horizontal_flip(p):   mirror left-right with probability p
/// The value maps are per-channel affine, so they are folded into one a[c]*v + b[c]; the
/// padding is 0 in the value space where the crop stands in the list (before scale: a black
/// pixel, as torchvision's RandomCrop on PIL images; after normalize: 0).
/// Without augmentation (evaluation) random_crop takes the centre window and flips are off.
///
/// From configs (data.transforms, docs/config.md): each transform is registered once in
/// datasets/transforms.cpp with its JSON options; make_transforms builds a list and
/// transform_to_json writes one back with its defaults filled in:
///   make_transforms(json::parse(R"([{"type": "random_crop", "padding": 4}, "horizontal_flip",
///                                   {"type": "scale", "range": [-1, 1]}])"), "data.transforms")
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lowbit {

class Rng;

/// One transform; build it with the functions in `transforms::`.
struct Transform {
  enum class Kind { scale, normalize, random_crop, horizontal_flip };
  Kind kind = Kind::scale;
  float lo = 0.f, hi = 1.f;             ///< scale
  std::vector<float> mean, std;         ///< normalize
  int64_t padding = 0, size = 0;        ///< random_crop
  float p = 0.5f;                       ///< horizontal_flip
  /// The registered name: "scale", "normalize", "random_crop", "horizontal_flip".
  std::string name() const;
};
using TransformList = std::vector<Transform>;

/// spec: a transform name (default options) or {"type": "<name>", ...options}; errors start
/// with `path` ("data.transforms[2].range: expected [lo, hi] with lo < hi").
Transform make_transform(const nlohmann::json& spec, const std::string& path);
/// A JSON list of transform specs (null: none); element i has path `path`[i].
TransformList make_transforms(const nlohmann::json& list, const std::string& path);
/// {"type": t.name(), ...options}: make_transform rebuilds the same transform.
nlohmann::json transform_to_json(const Transform& t);
nlohmann::json transforms_to_json(const TransformList& list);
/// Sorted registered names (tests sweep them).
std::vector<std::string> transform_names();

namespace transforms {
/// [0, 255] -> [lo, hi]; scale(0, 1) or scale(-1, 1).
Transform scale(float lo, float hi);
/// (v - mean[c]) / std[c]; mean and std hold one value or one per channel; std > 0.
Transform normalize(std::vector<float> mean, std::vector<float> std);
/// Zero padding on every side, then a random size x size window (size 0 = input size).
Transform random_crop(int64_t padding, int64_t size = 0);
/// Left-right mirror with probability p.
Transform horizontal_flip(float p = 0.5f);
}  // namespace transforms

/// The random choices for one image.
struct AugmentDraw {
  int64_t top = 0, left = 0;  ///< crop window position in the padded image
  bool flip = false;
};

/// A validated TransformList for one input shape, applied in one fused pass.
class TransformPipeline {
 public:
  TransformPipeline() = default;
  /// Validates the list against `input_shape` (C, H, W); throws naming the bad transform.
  TransformPipeline(const TransformList& list, const Shape& input_shape);

  const Shape& input_shape() const { return in_; }
  /// (C, size, size) with a crop, else the input shape.
  const Shape& output_shape() const { return out_; }
  bool has_augmentation() const { return has_crop_ || has_flip_; }

  /// Draws the crop position and flip (uses `rng` only for the transforms present). With
  /// augment = false returns the deterministic evaluation choice (centre crop, no flip).
  AugmentDraw draw(Rng& rng, bool augment = true) const;

  /// src: C*H*W input values (raw pixels), dst: output_shape() numel floats.
  void apply(const uint8_t* src, float* dst, const AugmentDraw& d) const;
  void apply(const float* src, float* dst, const AugmentDraw& d) const;

  /// Convenience: draw + apply on one (C, H, W) tensor.
  Tensor operator()(const Tensor& image, Rng& rng, bool augment = true) const;

 private:
  template <class T>
  void apply_impl(const T* src, float* dst, const AugmentDraw& d) const;

  Shape in_, out_;
  std::vector<float> a_, b_;    // per channel: v_out = a*v_in + b
  std::vector<float> pad_;      // per channel: value of a padded pixel
  bool has_crop_ = false, has_flip_ = false;
  bool flip_before_crop_ = false;
  int64_t padding_ = 0;
  float flip_p_ = 0.f;
};

}  // namespace lowbit
