#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <sstream>

#include "core/check.h"
#include "core/parallel.h"
#include "core/random.h"

namespace lowbit {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  // Checked: shapes come from configs and files, and a product past 2^63 would wrap.
  for (int64_t d : shape)
    LB_CHECK(!__builtin_mul_overflow(n, d, &n), "Tensor: shape ", shape_str(shape),
             " has more elements than an int64 holds");
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) os << ',';
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape_str(shape); }

// ---- Storage

Storage::Storage(int64_t n) : size_(n) {
  LB_CHECK(static_cast<uint64_t>(n) <= (uint64_t{1} << 60), "Tensor: cannot allocate ", n,
           " floats (more than 2^60)");  // the byte count below must not wrap
  // Round the byte count up to the alignment, as aligned_alloc requires.
  const size_t bytes = (static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float) + 63) / 64 * 64;
  data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
  LB_CHECK(data_ != nullptr, "Tensor: out of memory allocating ", n, " floats");
}

Storage::~Storage() { std::free(data_); }

// ---- factories

Tensor Tensor::empty(const Shape& shape) {
  for (int64_t d : shape) LB_CHECK(d >= 0, "Tensor: negative dimension in shape ", shape);
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.storage_ = std::make_shared<Storage>(t.numel_);
  t.shape_ = shape;
  return t;
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.f); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.f); }
Tensor Tensor::full(const Shape& shape, float value) { return empty(shape).fill_(value); }
Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  LB_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ",
           values.size(), " values do not fill shape ", shape);
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::uniform(const Shape& shape, Rng& rng, float lo, float hi) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.uniform(lo, hi);
  return t;
}

Tensor Tensor::normal(const Shape& shape, Rng& rng, float mean, float stddev) {
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = mean + stddev * rng.normal();
  return t;
}

// ---- shape and data

int64_t Tensor::size(int64_t d) const {
  const int64_t nd = dim();
  LB_CHECK(d >= -nd && d < nd, "Tensor::size: dimension ", d, " out of range for shape ", shape_);
  return shape_[static_cast<size_t>(d < 0 ? d + nd : d)];
}

float* Tensor::data() const {
  LB_CHECK(defined(), "Tensor: access to an undefined tensor");
  return storage_->data() + offset_;
}

float& Tensor::at(std::initializer_list<int64_t> index) const {
  LB_CHECK(static_cast<int64_t>(index.size()) == dim(), "Tensor::at: ", index.size(),
           " indices for shape ", shape_);
  int64_t flat = 0;
  size_t d = 0;
  for (int64_t i : index) {
    LB_CHECK(i >= 0 && i < shape_[d], "Tensor::at: index ", i, " out of range in dimension ", d,
             " of shape ", shape_);
    flat = flat * shape_[d] + i;
    ++d;
  }
  return data()[flat];
}

float Tensor::item() const {
  LB_CHECK(numel_ == 1, "Tensor::item: expected one element, got shape ", shape_);
  return data()[0];
}

std::vector<float> Tensor::to_vector() const {
  if (!defined()) return {};
  return std::vector<float>(data(), data() + numel_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      LB_CHECK(infer < 0, "reshape: more than one -1 in ", shape);
      infer = static_cast<int64_t>(i);
    } else {
      LB_CHECK(s[i] >= 0, "reshape: negative dimension in ", shape);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    LB_CHECK(known > 0 && numel_ % known == 0, "reshape: cannot view ", shape_, " as ", shape);
    s[static_cast<size_t>(infer)] = numel_ / known;
  }
  LB_CHECK(shape_numel(s) == numel_, "reshape: cannot view ", shape_, " (", numel_,
           " elements) as ", shape);
  Tensor t = *this;
  t.shape_ = s;
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  LB_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "Tensor::rows: range [",
           begin, ", ", end, ") invalid for shape ", shape_);
  const int64_t row = shape_[0] ? numel_ / shape_[0] : 0;
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.offset_ = offset_ + begin * row;
  t.numel_ = (end - begin) * row;
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t = empty(shape_);
  std::memcpy(t.data(), data(), static_cast<size_t>(numel_) * sizeof(float));
  return t;
}

// ---- in-place

Tensor& Tensor::fill_(float value) {
  float* p = data();
  kernels::parallel_for(numel_, [=](int64_t i0, int64_t i1) { std::fill(p + i0, p + i1, value); });
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  LB_CHECK(src.numel() == numel_, "Tensor::copy_: ", src.shape(), " into ", shape_);
  if (src.data() != data())
    std::memcpy(data(), src.data(), static_cast<size_t>(numel_) * sizeof(float));
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, float alpha) {
  LB_CHECK(other.numel() == numel_, "Tensor::add_: shape ", other.shape(), " into ", shape_);
  float* p = data();
  const float* q = other.data();
  kernels::parallel_for(numel_, [=](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) p[i] += alpha * q[i];
  });
  return *this;
}

Tensor& Tensor::mul_(float s) {
  float* p = data();
  kernels::parallel_for(numel_, [=](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) p[i] *= s;
  });
  return *this;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor" << t.shape() << " [";
  const int64_t n = std::min<int64_t>(t.numel(), 64);
  for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << t.data()[i];
  if (t.numel() > n) os << ", ...";
  return os << ']';
}

bool allclose(const Tensor& a, const Tensor& b, float rtol, float atol) {
  if (a.shape() != b.shape()) return false;
  const float* p = a.data();
  const float* q = b.data();
  for (int64_t i = 0; i < a.numel(); ++i)
    if (!(std::fabs(p[i] - q[i]) <= atol + rtol * std::fabs(q[i]))) return false;
  return true;
}

}  // namespace lowbit
