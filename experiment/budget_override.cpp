#include "experiment/budget_override.h"

#include <algorithm>

#include "core/check.h"
#include "experiment/config.h"
#include "optim/registry.h"

namespace lowbit {

using nlohmann::json;

namespace {
// Whether an override assigns the schedule (or all of train): then the curve is the user's.
bool sets_schedule(const std::vector<std::string>& sets) {
  return std::any_of(sets.begin(), sets.end(), [](const std::string& s) {
    const std::string path = s.substr(0, s.find('='));
    return path == "train" || path.starts_with("train.lr_schedule");
  });
}
}  // namespace

std::string budget_override_warning(const json& file, const std::vector<std::string>& sets) {
  if (sets_schedule(sets)) return "";
  ExperimentConfig a, b;
  try {
    json overridden = file;
    for (const std::string& s : sets) apply_override(overridden, s);
    a = parse_experiment(file);
    b = parse_experiment(overridden);
  } catch (const Error&) {
    return "";  // the caller's parse reports it, with its file name
  }
  if (a.train.epochs == b.train.epochs || b.train.lr_schedule.is_null()) return "";
  LrSchedulePtr schedule;
  try {
    schedule = make_schedule(b.train.lr_schedule, 1.0, b.train.epochs, "train.lr_schedule");
  } catch (const Error&) {
    return "";
  }
  if (schedule->stretches_with_budget()) return "";
  return "train.epochs is " + std::to_string(b.train.epochs) + " but the file was written for " +
         std::to_string(a.train.epochs) + ", and its train.lr_schedule " + b.train.lr_schedule.dump() +
         " counts absolute epochs: it does not stretch with the budget. Override train.lr_schedule "
         "too (e.g. milestones or step_size scaled by " + std::to_string(b.train.epochs) + "/" +
         std::to_string(a.train.epochs) + ") if the file's curve is meant.";
}

}  // namespace lowbit
