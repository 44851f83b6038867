#pragma once
/// Tensor: a float32, contiguous, 64-byte aligned n-d array with a cheap shared handle.
///
/// NOTE: copying a Tensor aliases its storage (as in PyTorch and flashlight): after
/// `Tensor b = a;` writes through `b.data()` are visible in `a`. Use `clone()` for a deep
/// copy. Ops return new tensors; in-place methods end with `_` and are meant for kernels
/// and optimizers.
///
/// Storage is always contiguous (row-major); `reshape` and `rows` are views that share
/// storage with an offset. Ops that reorder elements (transpose, permute) copy.
///
///   Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
///   Tensor y = x.reshape({3, 2});   // view: same storage
///   y.data()[0] = 9;                // x.at({0, 0}) == 9 now
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace lowbit {

using Shape = std::vector<int64_t>;

/// Number of elements of a shape (1 for the scalar shape {}).
int64_t shape_numel(const Shape& shape);
/// "(2, 3)" — used in every error message.
std::string shape_str(const Shape& shape);
std::ostream& operator<<(std::ostream& os, const Shape& shape);

class Rng;

/// 64-byte aligned float buffer shared by tensors.
class Storage {
 public:
  explicit Storage(int64_t n);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  float* data() const { return data_; }
  int64_t size() const { return size_; }

 private:
  float* data_ = nullptr;
  int64_t size_ = 0;
};

class Tensor {
 public:
  /// An undefined tensor (no storage). `defined()` is false.
  Tensor() = default;

  // ---- factories
  /// Uninitialised contents.
  static Tensor empty(const Shape& shape);
  static Tensor zeros(const Shape& shape);
  static Tensor ones(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor scalar(float value);  // shape {}
  /// Copies `values`; throws if values.size() != numel(shape).
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  /// Uniform in [lo, hi).
  static Tensor uniform(const Shape& shape, Rng& rng, float lo = 0.f, float hi = 1.f);
  /// Normal(mean, stddev).
  static Tensor normal(const Shape& shape, Rng& rng, float mean = 0.f, float stddev = 1.f);

  // ---- shape
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  /// Size of dimension d; negative d counts from the end.
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_; }

  // ---- data
  /// Pointer to the first element. A Tensor is a handle, so this is non-const even on a
  /// const Tensor (the handle is const, not the data).
  float* data() const;
  /// Element by multi-index (bounds-checked; slow — for tests and small tensors).
  float& at(std::initializer_list<int64_t> index) const;
  /// Value of a one-element tensor.
  float item() const;
  std::vector<float> to_vector() const;

  // ---- views and copies
  /// View with a new shape (one entry may be -1). Shares storage.
  Tensor reshape(const Shape& shape) const;
  /// View of rows [begin, end) along dimension 0. Shares storage.
  Tensor rows(int64_t begin, int64_t end) const;
  /// Deep copy.
  Tensor clone() const;
  /// True when both tensors view the same storage.
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }
  /// Number of handles on the storage (tests use it to check that graphs release memory).
  long storage_use_count() const { return storage_.use_count(); }

  // ---- in-place (kernels and optimizers only)
  Tensor& fill_(float value);
  Tensor& copy_(const Tensor& src);              // same numel
  Tensor& add_(const Tensor& other, float alpha = 1.f);  // this += alpha * other (same shape)
  Tensor& mul_(float s);

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  int64_t offset_ = 0;
  int64_t numel_ = 0;
};

/// Prints shape and (up to 64) values.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

/// True if shapes are equal and all elements are within atol + rtol*|b|.
bool allclose(const Tensor& a, const Tensor& b, float rtol = 1e-5f, float atol = 1e-6f);

}  // namespace lowbit
