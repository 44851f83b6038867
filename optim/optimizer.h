#pragma once
/// Optimizer: updates a fixed list of parameters in place from their gradients.
///
///   Adam opt(model->parameters(), model->param_lr_scales(), {.lr = 1e-3});
///   for (...) {
///     opt.zero_grad();
///     cross_entropy((*model)(x), y).backward();
///     opt.step();
///     model->apply_after_step();          // e.g. BinaryNet's weight clipping
///   }
///
/// Per-parameter state (momentum buffers, moments) is owned by the optimizer, indexed by the
/// parameter's position in the list and allocated in the constructor (never keyed by
/// address). `state_tensors()` / `load_state_tensors()` expose it as named tensors
/// ("optim.3.exp_avg", "optim.3.step", "optim.step") for checkpoints, next to the weights.
///
/// Every parameter has an lr scale: parameter i moves with lr() · lr_scale(i) (BinaryNet's
/// per-layer Glorot scale; Module::param_lr_scales()).
///
/// Hyperparameters are doubles, like PyTorch's Python floats: derived coefficients such as
/// 1 − β₁ are formed in double and rounded to float once, which is what makes the updates
/// match PyTorch's to the last bits.
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/serialize.h"
#include "core/var.h"

namespace lowbit {

class Optimizer {
 public:
  /// params: leaf Vars with requires_grad (shared handles), no duplicates.
  /// lr_scales: empty (all 1) or one finite value >= 0 per parameter.
  Optimizer(std::vector<Var> params, std::vector<float> lr_scales, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter whose grad() is defined (others are skipped and keep
  /// their per-parameter step count, as in PyTorch).
  virtual void step() = 0;
  /// Registry name ("sgd", "adam", "adamw", "adamax").
  virtual std::string_view name() const = 0;
  /// Hyperparameters, including the initial "lr"; {"name": name(), ...config()} rebuilds it.
  virtual nlohmann::json config() const = 0;

  /// Drops every parameter's gradient (the next backward writes fresh ones).
  void zero_grad();
  /// Current base learning rate (schedules change it through set_lr).
  double lr() const { return lr_; }
  void set_lr(double lr);
  /// Number of step() calls.
  int64_t step_count() const { return step_count_; }

  const std::vector<Var>& params() const { return params_; }
  float lr_scale(size_t i) const { return lr_scales_[i]; }
  const std::vector<float>& lr_scales() const { return lr_scales_; }

  /// State as named tensors: "<prefix><i>.<buffer>" per parameter i, "<prefix><i>.step"
  /// (per-parameter step count) and "<prefix>step". The lr is not saved: a resumed run
  /// rebuilds it from the config and the schedule, bit-identically. Tensors alias the
  /// optimizer's buffers (clone before modifying). Counts are stored as float32, exact below
  /// 2^24 steps (checked).
  NamedTensors state_tensors(const std::string& prefix = "optim.") const;
  /// Restores state_tensors() output; entries without `prefix` are ignored (checkpoints also
  /// hold the weights). Strict otherwise: missing or unexpected names and shape mismatches
  /// throw naming `source`.
  void load_state_tensors(const NamedTensors& tensors, const std::string& source,
                          const std::string& prefix = "optim.");

 protected:
  /// Adds a zero-initialised state buffer of parameter i's shape; call from constructors.
  Tensor& add_state(size_t i, std::string name);
  /// add_state(i, name) for every parameter i; the buffers, indexed by parameter.
  std::vector<Tensor> add_state_for_each_param(const std::string& name);
  /// Increments and returns parameter i's step count (PyTorch's state["step"]).
  int64_t next_param_step(size_t i) { return ++param_steps_[i]; }
  /// Called at the start of step() (for_each_param_with_grad does it).
  void count_step() { ++step_count_; }
  /// The loop every step() runs: counts the step, then calls update(i, grad, t) for each
  /// parameter i whose grad() is defined, t being its step count including this update.
  /// Parameters without a gradient are skipped and keep their count (PyTorch's rule).
  template <class Update>
  void for_each_param_with_grad(Update&& update) {
    count_step();
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor grad = params_[i].grad();
      if (!grad.defined()) continue;
      update(i, grad, next_param_step(i));
    }
  }

 private:
  std::vector<Var> params_;
  std::vector<float> lr_scales_;
  double lr_;
  int64_t step_count_ = 0;
  std::vector<int64_t> param_steps_;
  std::vector<std::vector<std::pair<std::string, Tensor>>> state_;  // [param][buffer]
};

using OptimizerPtr = std::shared_ptr<Optimizer>;

/// Scales all gradients so that their global L2 norm is at most max_norm (PyTorch's
/// clip_grad_norm_); returns the norm before clipping. Parameters without grad are skipped.
double clip_grad_norm(const std::vector<Var>& params, double max_norm);

}  // namespace lowbit
