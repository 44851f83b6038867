#pragma once
/// A study or `--set` that changes an experiment's training budget keeps the file's learning
/// rate curve only when the schedule stretches with the budget. Files written for 12 epochs
/// with "milestones": [7, 10] and run with `--set train.epochs=20` train the last 10 epochs at
/// the final lr; this says so before anything runs.
///
///   const std::string w = budget_override_warning(load_json_file(f), load_experiment_file(f, sets));
///   if (!w.empty()) std::cerr << "warning: " << f << ": " << w << "\n";
#include <nlohmann/json.hpp>
#include <string>

namespace lowbit {

/// "" unless `overridden` trains for another number of epochs than `file` while keeping the
/// file's lr schedule unchanged and that schedule counts absolute epochs
/// (LrSchedule::stretches_with_budget). Both are raw experiment JSON (before
/// parse_experiment); either failing to parse is left to the caller's own parse (returns "").
std::string budget_override_warning(const nlohmann::json& file, const nlohmann::json& overridden);

}  // namespace lowbit
