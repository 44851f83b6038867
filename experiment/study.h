#pragma once
/// Studies: many (experiment, seed) training runs described by one JSON file, run, resumed
/// and compared as a group (`lowbit study`, docs/study.md).
///
///   Study s = load_study("studies/mnist_lenet5.json");       // validates; throws naming the JSON path
///   StudyPlan p = plan_study(s, {.runs_root = "runs", .results_root = "results"});
///   for (const PlannedRun& r : p.runs) ... r.state, r.child_args()  // what `lowbit study` does
///   record_finished_run(r);                                   // runs/ -> results/ copy
///
/// A study file:
///   {"name": "mnist_lenet5", "seeds": [1, 2, 3],
///    "set": ["train.eval_batch_size=1000"],                    // optional, every run
///    "experiments": [
///      "experiments/mnist/lenet5.json",                        // run name = file stem
///      {"file": "experiments/mnist/lenet5_twn.json", "run": "twn", "label": "TWN",
///       "group": "...", "network": "...", "protocol": "...", "reference": ["twn_mnist"],
///       "baseline": true, "set": ["train.epochs=30"]}],
///    "sweep": {"file": "experiments/mnist/lenet5_twn.json",    // optional: one file, many values
///              "layer_key": "weight_quantizer",                // every model.layers[i] holding it
///              "values": {"twn": "twn", "bwn": "bwn"}},        // run name -> value
///    "references": "studies/references.json"}                  // optional (the default)
/// Files are relative to the working directory (like `lowbit compress`'s "train").
/// Every (experiment, seed) runs in runs_root/<study>/<run>_s<seed>; a finished run's
/// config.json, log.jsonl and metrics.json are copied to results_root/<study>/runs/<same>/
/// (the copy is what gets committed; it counts as finished even when runs/ is gone).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lowbit {

struct RunKind;  // experiment/study_run_kind.h

/// One experiment of a study (a listed file, or one value of the sweep).
struct StudyExperiment {
  std::string run;       ///< run name (unique in the study); folders are <run>_s<seed>
  std::string file;      ///< experiment JSON file
  std::string label;     ///< method label in tables and legends (default: run)
  std::string group;     ///< rows are compared only within a group ("" = the one group)
  std::string network;   ///< our network, as said beside the paper's (optional)
  std::string protocol;  ///< our data/training protocol (optional)
  std::vector<std::string> references;  ///< ids in the references file
  bool baseline = false;  ///< the FP32 row of its group (compression and gaps are vs it)
  std::vector<std::string> sets;  ///< --set overrides, in order (study, experiment, sweep)
  /// What runs it ("kind", default "train"): never null after parse_study.
  const RunKind* kind = nullptr;
  /// "options": settings of its kind, checked by the kind (kind "tnn": {"examples": N}).
  nlohmann::json options = nlohmann::json::object();
  /// "compress_set" (study, then entry): overrides of a compress file (kind "compress");
  /// `sets` then go to the experiment it trains first.
  std::vector<std::string> compress_sets;
};

struct Study {
  std::string file;  ///< the study file ("" when parsed from JSON directly)
  std::string name;
  std::string description;
  std::vector<uint64_t> seeds;
  std::vector<StudyExperiment> experiments;
  std::string references = "studies/references.json";
};

/// The ending of a group's chart file names: "" for the unnamed group, else "_" + its label
/// lower-cased with every run of other characters turned into one "_"
/// ("crop + flip (every method)" -> "_crop_flip_every_method"). parse_study refuses labels
/// whose ending is longer than kMaxGroupSlug, empty, or shared with another group's, so two
/// groups never write the same chart file and a long label never makes an unwieldy name.
std::string group_chart_suffix(const std::string& group);
inline constexpr size_t kMaxGroupSlug = 48;

/// The file names of a group's two charts (written by write_study_report, linked from
/// table.md, named in parse_study's errors): "accuracy_vs_epoch<suffix>.svg" and
/// "accuracy_vs_size<suffix>.svg" with group_chart_suffix(group).
struct GroupChartFiles {
  std::string accuracy_vs_epoch;
  std::string accuracy_vs_size;
};
GroupChartFiles group_chart_files(const std::string& group);

/// Parses and validates a study: unknown keys, missing experiment files, duplicate run names,
/// seeds that are not a non-empty list of distinct non-negative integers, malformed sweeps,
/// group labels that would name chart files badly (group_chart_suffix).
/// Errors name `source` and the JSON path ("studies/x.json: \"seeds\"[1] ...").
Study parse_study(const nlohmann::json& j, const std::string& source = "study");
/// load_json_file + parse_study.
Study load_study(const std::string& path);

struct StudyOptions {
  std::string runs_root = "runs";
  std::string results_root = "results";
  std::vector<std::string> extra_sets;  ///< `lowbit study --set`, applied after the study's
  std::vector<std::string> extra_compress_sets;  ///< `lowbit study --compress-set`
  /// `lowbit study --only`: shell globs over run names ("bnn_*", "*_s2"); a run is selected
  /// when any matches; empty selects every run. Splits a study over machines or sessions.
  std::vector<std::string> only;
};

/// What the study does with one (experiment, seed).
enum class RunState {
  finished,  ///< results copy (or runs/ metrics.json) present: skipped
  resume,    ///< checkpoint present, same config: `lowbit train --resume`
  fresh,     ///< nothing yet (or a config.json of this very run without a checkpoint)
};
const char* to_string(RunState s);

struct PlannedRun {
  const StudyExperiment* experiment = nullptr;  ///< points into the Study
  uint64_t seed = 0;
  std::string name;         ///< <run>_s<seed>
  std::string run_dir;      ///< runs_root/<study>/<name>
  std::string results_dir;  ///< results_root/<study>/runs/<name>
  std::vector<std::string> sets;  ///< all overrides including seed=S (last)
  std::vector<std::string> compress_sets;  ///< kind "compress": the compress file's overrides
  nlohmann::json config;    ///< the resolved config the run writes (output.dir = run_dir)
  RunState state = RunState::fresh;
  /// finished in runs/ but not yet copied to results/
  bool needs_copy = false;
  /// Matched by StudyOptions::only. A run not selected is still planned and checked (its
  /// folders, its row in the report) but never started.
  bool selected = true;

  /// Arguments of the child (no program name), by the experiment's kind: train FILE --out
  /// DIR [--resume] --set ...; compress FILE --out DIR [--force] --set ...
  std::vector<std::string> child_args() const;
  /// The run kind's finished file in runs/ (metrics.json, report.md).
  bool finished_in_runs() const;
};

struct StudyPlan {
  std::string study_runs_dir;     ///< runs_root/<study>
  std::string study_results_dir;  ///< results_root/<study>
  std::vector<PlannedRun> runs;   ///< seeds outer, experiments inner: every method gets its first seed early
  /// What the study's overrides may distort, one line per experiment (RunKind::warning),
  /// printed before anything runs.
  std::vector<std::string> warnings;
};

/// Resolves every run's config and decides its state. Throws (before anything runs) when an
/// experiment does not parse with its overrides, or when a folder holds a run of another
/// config or study (its config.json differs): such folders are never overwritten; and when
/// a pattern of StudyOptions::only matches no run.
StudyPlan plan_study(const Study& study, const StudyOptions& options);

/// Copies the result files of a finished run (train: config.json, log.jsonl, metrics.json)
/// to its results folder (each file atomically). Throws when the finished file is missing.
void record_finished_run(const PlannedRun& run);

}  // namespace lowbit
