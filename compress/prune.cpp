#include "compress/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/parallel.h"

namespace lowbit {

// ---- PruneMask

PruneMask::PruneMask(const Tensor& mask) {
  LB_CHECK(mask.defined(), "PruneMask: the mask tensor is undefined");
  mask_ = mask.clone();
  const float* m = mask_.data();
  for (int64_t i = 0; i < mask_.numel(); ++i) {
    LB_CHECK(m[i] == 0.f || m[i] == 1.f, "PruneMask: mask entries must be 0 or 1, entry ", i,
             " is ", m[i]);
    count_ += m[i] != 0.f;
  }
}

PruneMask PruneMask::keep_all(const Shape& shape) { return PruneMask(Tensor::ones(shape)); }

double PruneMask::density() const {
  return numel() == 0 ? 1.0 : static_cast<double>(count_) / static_cast<double>(numel());
}

void PruneMask::apply_(const Tensor& t) const {
  LB_CHECK(defined(), "PruneMask::apply_: the mask is undefined");
  LB_CHECK(t.shape() == mask_.shape(), "PruneMask::apply_: tensor shape ", t.shape(),
           " does not match the mask shape ", mask_.shape());
  float* x = t.data();
  const float* m = mask_.data();
  kernels::parallel_for(t.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] *= m[i];
  });
}

void PruneMask::apply_to_weight(const Var& w) const {
  LB_CHECK(w.defined(), "PruneMask::apply_to_weight: the weight Var is undefined");
  apply_(w.data());
}

void PruneMask::apply_to_grad(const Var& w) const {
  LB_CHECK(w.defined(), "PruneMask::apply_to_grad: the weight Var is undefined");
  const Tensor g = w.grad();
  if (!g.defined()) return;
  // Two handles: the node's and `g`. More means someone else can see the buffer.
  if (g.storage_use_count() <= 2) {
    apply_(g);
    return;
  }
  Tensor masked = g.clone();
  apply_(masked);
  w.set_grad(masked);
}

PruneMask PruneMask::intersect(const PruneMask& other) const {
  LB_CHECK(defined() && other.defined() && shape() == other.shape(),
           "PruneMask::intersect: masks of shapes ", shape(), " and ", other.shape());
  Tensor m = mask_.clone();
  other.apply_(m);
  return PruneMask(m);
}

// ---- pruning rules

namespace {
void check_previous(const char* fn, const Tensor& w, const PruneMask* previous) {
  LB_CHECK(w.defined(), fn, ": the weight tensor is undefined");
  LB_CHECK(!previous || (previous->defined() && previous->shape() == w.shape()), fn,
           ": previous mask of shape ", previous ? previous->shape() : Shape{},
           " does not match the weight shape ", w.shape());
}
}  // namespace

PruneMask prune_by_std(const Tensor& w, double quality, const PruneMask* previous) {
  check_previous("prune_by_std", w, previous);
  LB_CHECK(std::isfinite(quality) && quality >= 0, "prune_by_std: quality must be >= 0, got ",
           quality);
  const float* x = w.data();
  const int64_t n = w.numel();
  const float* prev = previous ? previous->tensor().data() : nullptr;
  auto alive = [prev](int64_t i) { return !prev || prev[i] != 0.f; };
  double sum = 0, count = 0;
  for (int64_t i = 0; i < n; ++i)
    if (alive(i)) sum += x[i], count += 1;
  const double mean = count > 0 ? sum / count : 0;
  double ss = 0;
  for (int64_t i = 0; i < n; ++i)
    if (alive(i)) ss += (x[i] - mean) * (x[i] - mean);
  const double threshold = quality * (count > 0 ? std::sqrt(ss / count) : 0);
  Tensor m = Tensor::zeros(w.shape());
  float* mp = m.data();
  for (int64_t i = 0; i < n; ++i) mp[i] = alive(i) && std::abs(double{x[i]}) >= threshold;
  return PruneMask(m);
}

PruneMask prune_to_density(const Tensor& w, double density, const PruneMask* previous) {
  check_previous("prune_to_density", w, previous);
  LB_CHECK(density >= 0 && density <= 1, "prune_to_density: density must be in [0, 1], got ",
           density);
  const float* x = w.data();
  const int64_t n = w.numel();
  const float* prev = previous ? previous->tensor().data() : nullptr;
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (!prev || prev[i] != 0.f) order.push_back(i);
  const int64_t keep = std::min<int64_t>(static_cast<int64_t>(order.size()),
                                         std::llround(density * static_cast<double>(n)));
  auto larger = [x](int64_t a, int64_t b) {
    const float fa = std::abs(x[a]), fb = std::abs(x[b]);
    return fa > fb || (fa == fb && a < b);
  };
  if (keep < static_cast<int64_t>(order.size()))
    std::nth_element(order.begin(), order.begin() + keep, order.end(), larger);
  Tensor m = Tensor::zeros(w.shape());
  float* mp = m.data();
  for (int64_t k = 0; k < keep; ++k) mp[order[static_cast<size_t>(k)]] = 1.f;
  return PruneMask(m);
}

PruneMask prune(const Tensor& w, const PruneSpec& spec, const PruneMask* previous) {
  LB_CHECK(spec.quality.has_value() != spec.density.has_value(),
           "prune: give exactly one of \"quality\" (threshold = quality x std) or \"density\" "
           "(fraction of weights kept)");
  if (spec.quality) return prune_by_std(w, *spec.quality, previous);
  return prune_to_density(w, *spec.density, previous);
}

void from_json(const nlohmann::json& j, PruneSpec& spec) {
  LB_CHECK(j.is_object(), "prune spec: expected an object like {\"quality\": 1.0} or "
                          "{\"density\": 0.08}, got ", j.dump());
  spec = PruneSpec{};
  for (const auto& [key, value] : j.items()) {
    LB_CHECK(value.is_number(), "prune spec: \"", key, "\" must be a number, got ", value.dump());
    if (key == "quality")
      spec.quality = value.get<double>();
    else if (key == "density")
      spec.density = value.get<double>();
    else
      LB_FAIL("prune spec: unknown key \"", key, "\" (valid: \"quality\", \"density\")");
  }
  LB_CHECK(spec.quality.has_value() != spec.density.has_value(),
           "prune spec: give exactly one of \"quality\" or \"density\", got ", j.dump());
  LB_CHECK(!spec.quality || *spec.quality >= 0, "prune spec: quality must be >= 0, got ",
           *spec.quality);
  LB_CHECK(!spec.density || (*spec.density >= 0 && *spec.density <= 1),
           "prune spec: density must be in [0, 1], got ", spec.density.value_or(0));
}

void to_json(nlohmann::json& j, const PruneSpec& spec) {
  j = nlohmann::json::object();
  if (spec.quality) j["quality"] = *spec.quality;
  if (spec.density) j["density"] = *spec.density;
}

}  // namespace lowbit
