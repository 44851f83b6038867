#include "optim/optimizer.h"

#include <cmath>
#include <set>

#include "core/check.h"

namespace lowbit {

Optimizer::Optimizer(std::vector<Var> params, std::vector<float> lr_scales, double lr)
    : params_(std::move(params)), lr_scales_(std::move(lr_scales)), lr_(lr) {
  LB_CHECK(std::isfinite(lr) && lr >= 0, "Optimizer: lr must be >= 0, got ", lr);
  std::set<const Node*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Var& p = params_[i];
    LB_CHECK(p.defined() && p.requires_grad() && p.is_leaf(), "Optimizer: parameter ", i,
             " is not a leaf Var with requires_grad (pass Module::parameters())");
    LB_CHECK(seen.insert(p.node().get()).second, "Optimizer: parameter ", i,
             " appears twice in the list; it would be updated twice per step");
  }
  if (lr_scales_.empty()) lr_scales_.assign(params_.size(), 1.f);
  LB_CHECK(lr_scales_.size() == params_.size(), "Optimizer: got ", lr_scales_.size(),
           " lr scales for ", params_.size(), " parameters (pass Module::param_lr_scales())");
  for (size_t i = 0; i < lr_scales_.size(); ++i)
    LB_CHECK(std::isfinite(lr_scales_[i]) && lr_scales_[i] >= 0, "Optimizer: lr scale ", i,
             " must be finite and >= 0, got ", lr_scales_[i]);
  param_steps_.assign(params_.size(), 0);
  state_.resize(params_.size());
}

void Optimizer::zero_grad() {
  for (const Var& p : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  LB_CHECK(std::isfinite(lr) && lr >= 0, name(), ": lr must be >= 0, got ", lr);
  lr_ = lr;
}

Tensor& Optimizer::add_state(size_t i, std::string name) {
  state_.at(i).emplace_back(std::move(name), Tensor::zeros(params_[i].shape()));
  return state_[i].back().second;
}

std::vector<Tensor> Optimizer::add_state_for_each_param(const std::string& name) {
  std::vector<Tensor> buffers;
  for (size_t i = 0; i < params_.size(); ++i) buffers.push_back(add_state(i, name));
  return buffers;
}

namespace {
constexpr int64_t kExactFloatInt = int64_t{1} << 24;
}

NamedTensors Optimizer::state_tensors(const std::string& prefix) const {
  LB_CHECK(step_count_ < kExactFloatInt, name(), ": step count ", step_count_,
           " is too large to store exactly as float32");
  NamedTensors out;
  out.emplace_back(prefix + "step", Tensor::scalar(static_cast<float>(step_count_)));
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string p = prefix + std::to_string(i) + ".";
    out.emplace_back(p + "step", Tensor::scalar(static_cast<float>(param_steps_[i])));
    for (const auto& [buf, t] : state_[i]) out.emplace_back(p + buf, t);
  }
  return out;
}

void Optimizer::load_state_tensors(const NamedTensors& tensors, const std::string& source,
                                   const std::string& prefix) {
  NamedTensors mine = state_tensors(prefix);
  std::set<std::string> expected;
  for (const auto& [n, _] : mine) expected.insert(n);
  for (const auto& [n, _] : tensors)
    LB_CHECK(n.rfind(prefix, 0) != 0 || expected.count(n), source,
             ": unexpected optimizer state \"", n, "\" for ", name(), " over ", params_.size(),
             " parameters");
  auto find = [&](const std::string& n) -> const Tensor& {
    for (const auto& [k, t] : tensors)
      if (k == n) return t;
    LB_FAIL(source, ": missing optimizer state \"", n, "\" (", name(), ")");
  };
  auto count = [&](const std::string& n) {
    const Tensor& t = find(n);
    LB_CHECK(t.numel() == 1, source, ": \"", n, "\" must hold one value, got shape ", t.shape());
    const float v = t.item();
    LB_CHECK(v >= 0 && v < float(kExactFloatInt) && v == std::floor(v), source, ": \"", n,
             "\" must be a step count, got ", v);
    return static_cast<int64_t>(v);
  };
  // Validate everything before changing anything.
  for (size_t i = 0; i < params_.size(); ++i)
    for (const auto& [buf, t] : state_[i]) {
      const std::string n = prefix + std::to_string(i) + "." + buf;
      const Tensor& src = find(n);
      LB_CHECK(src.shape() == t.shape(), source, ": optimizer state \"", n, "\" has shape ",
               src.shape(), ", parameter ", i, " has shape ", t.shape());
    }
  std::vector<int64_t> steps(params_.size());
  for (size_t i = 0; i < params_.size(); ++i)
    steps[i] = count(prefix + std::to_string(i) + ".step");
  const int64_t total = count(prefix + "step");
  for (size_t i = 0; i < params_.size(); ++i)
    for (auto& [buf, t] : state_[i]) t.copy_(find(prefix + std::to_string(i) + "." + buf));
  param_steps_ = steps;
  step_count_ = total;
}

double clip_grad_norm(const std::vector<Var>& params, double max_norm) {
  LB_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  double sq = 0;
  for (const Var& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const float* d = g.data();
    for (int64_t i = 0; i < g.numel(); ++i) sq += double(d[i]) * d[i];
  }
  const double norm = std::sqrt(sq);
  const double coef = max_norm / (norm + 1e-6);  // PyTorch's formula
  if (coef < 1) {
    for (const Var& p : params) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      // Gradients handed out are never modified in place (core/var.h rule 5): replace.
      Tensor scaled = g.clone();
      scaled.mul_(static_cast<float>(coef));
      p.set_grad(scaled);
    }
  }
  return norm;
}

}  // namespace lowbit
