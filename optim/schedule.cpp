#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

#include "core/check.h"

namespace lowbit {

LrSchedule::LrSchedule(double lr_start, int64_t epochs) : lr_start_(lr_start), epochs_(epochs) {
  LB_CHECK(std::isfinite(lr_start) && lr_start >= 0, "lr schedule: lr_start must be >= 0, got ",
           lr_start);
  LB_CHECK(epochs > 0, "lr schedule: epochs must be > 0, got ", epochs);
}

nlohmann::json LrSchedule::config() const { return nlohmann::json::object(); }

// ---- constant

double ConstantLr::lr_at(int64_t) const { return lr_start(); }
nlohmann::json ConstantLr::config() const { return nlohmann::json::object(); }

// ---- step

StepLr::StepLr(double lr_start, int64_t epochs, int64_t step_size, double gamma)
    : LrSchedule(lr_start, epochs), step_size_(step_size), gamma_(gamma) {
  LB_CHECK(step_size > 0, "step lr schedule: step_size must be > 0, got ", step_size);
  LB_CHECK(gamma > 0 && std::isfinite(gamma), "step lr schedule: gamma must be > 0, got ", gamma);
}

double StepLr::lr_at(int64_t epoch) const {
  return lr_start() * std::pow(gamma_, double(std::max<int64_t>(epoch, 0) / step_size_));
}

nlohmann::json StepLr::config() const { return {{"step_size", step_size_}, {"gamma", gamma_}}; }

// ---- multistep

MultiStepLr::MultiStepLr(double lr_start, int64_t epochs, std::vector<int64_t> milestones,
                         double gamma)
    : LrSchedule(lr_start, epochs), milestones_(std::move(milestones)), gamma_(gamma) {
  for (size_t i = 0; i < milestones_.size(); ++i)
    LB_CHECK(milestones_[i] >= 0 && (i == 0 || milestones_[i] > milestones_[i - 1]),
             "multistep lr schedule: milestones must be increasing epochs >= 0, got ",
             milestones_[i], " at position ", i);
  LB_CHECK(gamma > 0 && std::isfinite(gamma), "multistep lr schedule: gamma must be > 0, got ",
           gamma);
}

double MultiStepLr::lr_at(int64_t epoch) const {
  const auto passed =
      std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  return lr_start() * std::pow(gamma_, double(passed));
}

nlohmann::json MultiStepLr::config() const {
  return {{"milestones", milestones_}, {"gamma", gamma_}};
}

// ---- exponential

ExponentialLr::ExponentialLr(double lr_start, int64_t epochs, bool has_end, double value)
    : LrSchedule(lr_start, epochs), has_end_(has_end), value_(value) {
  LB_CHECK(value > 0 && std::isfinite(value),
           "exponential lr schedule: ", has_end ? "lr_end" : "gamma", " must be > 0, got ", value);
}

std::shared_ptr<ExponentialLr> ExponentialLr::to_end(double lr_start, int64_t epochs,
                                                     double lr_end) {
  return std::shared_ptr<ExponentialLr>(new ExponentialLr(lr_start, epochs, true, lr_end));
}

std::shared_ptr<ExponentialLr> ExponentialLr::with_gamma(double lr_start, int64_t epochs,
                                                         double gamma) {
  return std::shared_ptr<ExponentialLr>(new ExponentialLr(lr_start, epochs, false, gamma));
}

double ExponentialLr::lr_at(int64_t epoch) const {
  const double e = double(std::max<int64_t>(epoch, 0));
  if (!has_end_) return lr_start() * std::pow(value_, e);
  if (epochs() == 1 || lr_start() == 0) return lr_start();
  return lr_start() * std::pow(value_ / lr_start(), e / double(epochs() - 1));
}

nlohmann::json ExponentialLr::config() const {
  return has_end_ ? nlohmann::json{{"lr_end", value_}} : nlohmann::json{{"gamma", value_}};
}

// ---- cosine

CosineLr::CosineLr(double lr_start, int64_t epochs, double lr_min)
    : LrSchedule(lr_start, epochs), lr_min_(lr_min) {
  LB_CHECK(lr_min >= 0 && std::isfinite(lr_min), "cosine lr schedule: lr_min must be >= 0, got ",
           lr_min);
}

double CosineLr::lr_at(int64_t epoch) const {
  const double e = double(std::clamp<int64_t>(epoch, 0, epochs()));
  return lr_min_ +
         (lr_start() - lr_min_) * (1 + std::cos(std::numbers::pi * e / double(epochs()))) / 2;
}

nlohmann::json CosineLr::config() const { return {{"lr_min", lr_min_}}; }

}  // namespace lowbit
