#pragma once
/// A study or `--set` that changes an experiment's training budget keeps the file's learning
/// rate curve only when the schedule stretches with the budget. Files written for 12 epochs
/// with "milestones": [7, 10] and run with `--set train.epochs=20` train the last 10 epochs at
/// the final lr; this says so before anything runs.
///
///   const std::string w = budget_override_warning(load_json_file(f), sets);
///   if (!w.empty()) std::cerr << "warning: " << f << ": " << w << "\n";
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lowbit {

/// "" unless the overrides `sets` (`--set` assignments) change train.epochs of `file` (raw
/// experiment JSON), assign nothing under train.lr_schedule, and the file's schedule counts
/// absolute epochs (LrSchedule::stretches_with_budget). A config that does not parse is left
/// to the caller's own parse (returns "").
std::string budget_override_warning(const nlohmann::json& file, const std::vector<std::string>& sets);

}  // namespace lowbit
