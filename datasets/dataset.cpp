#include "datasets/dataset.h"

#include "core/check.h"

namespace lowbit {

InMemoryDataset::InMemoryDataset(std::vector<uint8_t> pixels, std::vector<int32_t> labels,
                                 Shape image_shape, std::vector<std::string> class_names)
    : image_shape_(std::move(image_shape)) {
  LB_CHECK(image_shape_.size() == 3 && image_shape_[0] > 0 && image_shape_[1] > 0 &&
               image_shape_[2] > 0,
           "InMemoryDataset: image shape must be (C, H, W) with positive sizes, got ",
           image_shape_);
  LB_CHECK(!class_names.empty(), "InMemoryDataset: needs at least one class name");
  example_numel_ = shape_numel(image_shape_);
  size_ = static_cast<int64_t>(labels.size());
  LB_CHECK(static_cast<int64_t>(pixels.size()) == size_ * example_numel_, "InMemoryDataset: ",
           pixels.size(), " pixel bytes for ", size_, " labels of images ", image_shape_,
           " (expected ", size_ * example_numel_, ")");
  const auto n_classes = static_cast<int32_t>(class_names.size());
  for (size_t i = 0; i < labels.size(); ++i)
    LB_CHECK(labels[i] >= 0 && labels[i] < n_classes, "InMemoryDataset: label ", labels[i],
             " of example ", i, " is outside [0, ", n_classes, ")");
  data_ = std::make_shared<const Buffer>(
      Buffer{std::move(pixels), std::move(labels), std::move(class_names)});
}

int64_t InMemoryDataset::num_classes() const {
  return data_ ? static_cast<int64_t>(data_->class_names.size()) : 0;
}

Example InMemoryDataset::get(int64_t index) const {
  LB_CHECK(index >= 0 && index < size_, "InMemoryDataset::get: index ", index,
           " out of range [0, ", size_, ")");
  Tensor image = Tensor::empty(image_shape_);
  const uint8_t* src = pixels(index);
  float* dst = image.data();
  for (int64_t i = 0; i < example_numel_; ++i) dst[i] = static_cast<float>(src[i]);
  return {image, label(index)};
}

InMemoryDataset InMemoryDataset::slice(int64_t begin, int64_t end) const {
  LB_CHECK(0 <= begin && begin <= end && end <= size_, "InMemoryDataset::slice: range [", begin,
           ", ", end, ") is not inside [0, ", size_, ")");
  InMemoryDataset out = *this;
  out.begin_ = begin_ + begin;
  out.size_ = end - begin;
  return out;
}

TrainValSplit train_val_split(const InMemoryDataset& train, int64_t val_size) {
  const int64_t n = train.size();
  LB_CHECK(val_size >= 0 && val_size < n, "train_val_split: val_size must be in [0, ", n,
           ") for a training set of ", n, " examples, got ", val_size);
  return {train.slice(0, n - val_size), train.slice(n - val_size, n)};
}

}  // namespace lowbit
