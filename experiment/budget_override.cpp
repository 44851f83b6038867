#include "experiment/budget_override.h"

#include "core/check.h"
#include "experiment/config.h"
#include "optim/registry.h"

namespace lowbit {

using nlohmann::json;

std::string budget_override_warning(const json& file, const json& overridden) {
  ExperimentConfig a, b;
  try {
    a = parse_experiment(file);
    b = parse_experiment(overridden);
  } catch (const Error&) {
    return "";  // the caller's parse reports it, with its file name
  }
  if (a.train.epochs == b.train.epochs || b.train.lr_schedule.is_null() ||
      a.train.lr_schedule != b.train.lr_schedule)
    return "";
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
