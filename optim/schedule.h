#pragma once
/// Learning-rate schedules: the lr of each (0-based) epoch, as a pure function of the epoch,
/// so a resumed run recomputes the same lr. The trainer calls
/// `opt.set_lr(schedule->lr_at(epoch))` before each epoch.
///
///   auto sched = make_schedule(json{{"name", "exponential"}, {"lr_end", 3e-7}},
///                              /*lr_start=*/opt.lr(), /*epochs=*/500, "train.lr_schedule");
///
/// lr_start is always the optimizer's configured lr; `epochs` the run's epoch count.
/// Formulas (e = 0 … epochs − 1):
///   constant     lr(e) = lr_start
///   step         lr(e) = lr_start · γ^⌊e / step_size⌋                  (StepLR)
///   multistep    lr(e) = lr_start · γ^|{m ∈ milestones : m ≤ e}|        (MultiStepLR)
///   exponential  lr(e) = lr_start · (lr_end / lr_start)^(e / (epochs − 1))  ("lr_end")
///                lr(e) = lr_start · γ^e                       ("gamma", ExponentialLR)
///   cosine       lr(e) = lr_min + (lr_start − lr_min) · (1 + cos(π e / epochs)) / 2
///                (CosineAnnealingLR with T_max = epochs; stays at lr_min for e >= epochs)
/// The "lr_end" form is BinaryNet's decay from LR_start to LR_fin, normalised so that the
/// last epoch trains with exactly lr_end (BinaryNet's code multiplies by
/// (LR_fin/LR_start)^(1/epochs) after every epoch and so reaches LR_fin only after the last
/// one); with epochs = 1 it is lr_start.
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

class LrSchedule {
 public:
  LrSchedule(double lr_start, int64_t epochs);
  virtual ~LrSchedule() = default;
  /// lr for epoch e (0-based; e >= epochs continues the formula).
  virtual double lr_at(int64_t epoch) const = 0;
  /// Registry name: "constant", "step", "multistep", "exponential", "cosine".
  virtual std::string_view name() const = 0;
  /// Options only (not lr_start or epochs); {"name": name(), ...config()} rebuilds it.
  virtual nlohmann::json config() const;
  /// Whether the curve stretches with `epochs` (cosine, exponential to lr_end, constant) or
  /// counts absolute epochs (step, multistep, exponential by gamma): a file whose budget is
  /// overridden keeps the right shape only in the first case.
  virtual bool stretches_with_budget() const = 0;

  double lr_start() const { return lr_start_; }
  int64_t epochs() const { return epochs_; }

 private:
  double lr_start_;
  int64_t epochs_;
};

using LrSchedulePtr = std::shared_ptr<const LrSchedule>;

class ConstantLr final : public LrSchedule {
 public:
  using LrSchedule::LrSchedule;
  double lr_at(int64_t epoch) const override;
  std::string_view name() const override { return "constant"; }
  nlohmann::json config() const override;
  bool stretches_with_budget() const override { return true; }
};

class StepLr final : public LrSchedule {
 public:
  StepLr(double lr_start, int64_t epochs, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch) const override;
  std::string_view name() const override { return "step"; }
  nlohmann::json config() const override;
  bool stretches_with_budget() const override { return false; }

 private:
  int64_t step_size_;
  double gamma_;
};

class MultiStepLr final : public LrSchedule {
 public:
  /// milestones: strictly increasing epochs.
  MultiStepLr(double lr_start, int64_t epochs, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t epoch) const override;
  std::string_view name() const override { return "multistep"; }
  nlohmann::json config() const override;
  bool stretches_with_budget() const override { return false; }

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

class ExponentialLr final : public LrSchedule {
 public:
  /// Decay to lr_end at the last epoch (BinaryNet).
  static std::shared_ptr<ExponentialLr> to_end(double lr_start, int64_t epochs, double lr_end);
  /// Multiply by gamma every epoch (PyTorch's ExponentialLR).
  static std::shared_ptr<ExponentialLr> with_gamma(double lr_start, int64_t epochs, double gamma);
  double lr_at(int64_t epoch) const override;
  std::string_view name() const override { return "exponential"; }
  nlohmann::json config() const override;
  bool stretches_with_budget() const override { return has_end_; }

 private:
  ExponentialLr(double lr_start, int64_t epochs, bool has_end, double value);
  bool has_end_;
  double value_;  // lr_end or gamma
};

class CosineLr final : public LrSchedule {
 public:
  CosineLr(double lr_start, int64_t epochs, double lr_min = 0.0);
  double lr_at(int64_t epoch) const override;
  std::string_view name() const override { return "cosine"; }
  nlohmann::json config() const override;
  bool stretches_with_budget() const override { return true; }

 private:
  double lr_min_;
};

}  // namespace lowbit
