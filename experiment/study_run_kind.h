#pragma once
/// What one entry of a study runs: its "kind" (docs/study.md). Each kind says how its
/// run folder's config is resolved, which child command runs it, which file marks it
/// finished and which files are copied to results/. "train" (`lowbit train`) is built in;
/// compress/ registers "compress" (`lowbit compress`, register_compress_run_kind()),
/// experiment/tnn_run.h "tnn" (`lowbit tnn-convert`, register_tnn_run_kind()).
///
///   const RunKind& k = run_kind("compress", "experiments[2].kind");   // throws for unknown names
///   json cfg = k.resolve(run);          // what the run folder's config.json must hold
///   std::vector<std::string> argv = k.args(run);   // "compress FILE --out DIR --set ..."
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment/study.h"

namespace lowbit {

struct PaperReference;

/// A kind's rows in the study's table (kinds other than "train", which has the main table).
struct KindReport {
  std::string markdown;  ///< a section of table.md ("" when the study has no such rows)
  nlohmann::json json;   ///< table.json "<kind>" entry
};

struct RunKind {
  std::string name;
  /// Present in a run folder (and its results copy) once the run is finished; written last.
  std::string finished_file;
  /// Copied from the run folder to its results folder; finished_file last.
  std::vector<std::string> result_files;
  /// Checks the entry's "options" object (throws naming `path` and the key); null: the kind
  /// takes no options. The options reach resolve() and args() as run.experiment->options.
  std::function<void(const nlohmann::json& options, const std::string& path)> check_options;
  /// The study entry may have "compress_set" (overrides of its own file beside the
  /// experiment's "set").
  bool takes_compress_set = false;
  /// The config the run folder's config.json holds (output.dir = run.run_dir), resolved
  /// from run.experiment->file with run.sets / run.compress_sets. Throws on bad input.
  std::function<nlohmann::json(const PlannedRun& run)> resolve;
  /// The child's arguments (no program name); run.state tells fresh from resume.
  std::function<std::vector<std::string>(const PlannedRun& run)> args;
  /// Whether a run folder holds work of an unfinished run (resume rather than start).
  std::function<bool(const std::string& run_dir)> has_progress;
  /// A warning about the run's overrides ("" none; null: the kind has none), e.g. a budget
  /// override that leaves the lr schedule's absolute epochs (experiment_file_warning).
  std::function<std::string(const PlannedRun& run)> warning;
  /// The table section of this kind's rows (null: the training table).
  std::function<KindReport(const Study&, const StudyPlan&, const std::vector<PaperReference>&)> report;
};

/// budget_override_warning of run.experiment->file and run.sets: the "warning"
/// of the kinds that train an experiment file ("train", "tnn").
std::string experiment_file_warning(const PlannedRun& run);

/// Registers a kind (throws on a duplicate name).
void register_run_kind(std::shared_ptr<const RunKind> kind);
/// The kind registered under `name`; throws `<path>: unknown run kind "x" (did you mean ...);
/// known: ...`. "train" is always there.
const RunKind& run_kind(const std::string& name, const std::string& path = "kind");

}  // namespace lowbit
