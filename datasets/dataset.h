#pragma once
/// Dataset: indexed (image, label) examples; InMemoryDataset: all images in one uint8 buffer.
///
///   InMemoryDataset train = load_mnist("data/mnist", "train");   // 60000 x (1, 28, 28)
///   auto [fit, val] = train_val_split(train, 5000);             // val = the last 5000
///   Example e = fit.get(0);   // e.image: (1, 28, 28) floats in [0, 255]; e.label: 0..9
///
/// Images are (C, H, W) with raw pixel values 0..255 as floats; scaling and normalisation
/// are transforms (datasets/transforms.h) applied by the DataLoader.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lowbit {

/// One example: image (C, H, W) float32 and its class index.
struct Example {
  Tensor image;
  int64_t label = 0;
};

/// Interface for any indexed image classification data set.
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of examples.
  virtual int64_t size() const = 0;
  /// Example `index` in [0, size()); image (C, H, W) with raw pixel values. Throws on a bad
  /// index.
  virtual Example get(int64_t index) const = 0;
  /// (C, H, W), the same for every example.
  virtual Shape image_shape() const = 0;
  /// Number of classes; labels are in [0, num_classes()).
  virtual int64_t num_classes() const = 0;
};

/// A data set held in memory: N images of (C, H, W) uint8 pixels in one contiguous buffer
/// (example i at pixels() + i * C*H*W, channel-major as the images) and N int32 labels.
/// Copies are cheap and share the buffer; `slice` makes views (used for train/val splits).
class InMemoryDataset final : public Dataset {
 public:
  InMemoryDataset() = default;
  /// Takes ownership of `pixels` (N*C*H*W bytes) and `labels` (N values in
  /// [0, class_names.size())). Throws when sizes or labels do not match.
  InMemoryDataset(std::vector<uint8_t> pixels, std::vector<int32_t> labels, Shape image_shape,
                  std::vector<std::string> class_names);

  int64_t size() const override { return size_; }
  Example get(int64_t index) const override;
  Shape image_shape() const override { return image_shape_; }
  int64_t num_classes() const override;

  /// C*H*W.
  int64_t example_numel() const { return example_numel_; }
  /// Pixels of example `index` (C*H*W bytes). No bounds check.
  const uint8_t* pixels(int64_t index) const {
    return data_->pixels.data() + (begin_ + index) * example_numel_;
  }
  /// Label of example `index`. No bounds check.
  int64_t label(int64_t index) const { return data_->labels[static_cast<size_t>(begin_ + index)]; }
  const std::vector<std::string>& class_names() const { return data_->class_names; }

  /// View of examples [begin, end); shares the buffer. Throws on a bad range.
  InMemoryDataset slice(int64_t begin, int64_t end) const;

 private:
  struct Buffer {
    std::vector<uint8_t> pixels;
    std::vector<int32_t> labels;
    std::vector<std::string> class_names;
  };
  std::shared_ptr<const Buffer> data_;
  Shape image_shape_;
  int64_t example_numel_ = 0;
  int64_t begin_ = 0;
  int64_t size_ = 0;
};

/// A training set split into the part to fit and a held-out validation tail.
struct TrainValSplit {
  InMemoryDataset train;  ///< examples [0, N - val_size)
  InMemoryDataset val;    ///< examples [N - val_size, N)
};

/// Holds out the last `val_size` examples of `train` (0 <= val_size < N). The tail is fixed,
/// so the validation set does not depend on the seed. Shares the buffer.
TrainValSplit train_val_split(const InMemoryDataset& train, int64_t val_size);

}  // namespace lowbit
