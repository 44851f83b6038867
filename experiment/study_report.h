#pragma once
/// The study's table and pictures: one row per method (mean ± std over the finished seeds),
/// the paper's published number beside it, and SVG charts (`lowbit study --report`,
/// docs/study.md).
///
///   StudyReport r = build_study_report(study, plan, load_references(study.references));
///   write_study_report(r, plan.study_results_dir);   // table.md, table.json, *.svg
///
/// Rows read the results copies (results/<study>/runs/<run>_s<seed>/: config.json,
/// metrics.json, log.jsonl); runs without a copy count as not finished.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiment/study.h"
#include "experiment/study_run_kind.h"

namespace lowbit {

/// A published number (studies/references.json, from ../shared/reference/papers.md).
struct PaperReference {
  std::string id, method, dataset, network, protocol;
  std::string metric;  ///< "accuracy" or "error" (percent)
  double value = 0;    ///< as published, in `metric`
  std::optional<double> fp_value;  ///< the paper's own FP32 number on that network, same metric
  std::string paper, table;
  /// How it was read: "P" paper itself, "S" secondary copy of the paper's table, "C" authors'
  /// code/README, "M" recalled and NOT confirmed.
  std::string evidence;
  std::string note;
  /// Which model the published number tests: "final" (the last epoch's; the default) or
  /// "best_val" (the best-validation epoch's weights, BNN's protocol). The comparison sets our
  /// number of the same kind beside it.
  std::string selection = "final";
  /// Optional, for per-stage tables (Deep Compression): compression ratio at each stage
  /// ("pruned", "quantized", "huffman"; 12 = 12x) and sizes in KB ("baseline", "huffman").
  std::map<std::string, double> stage_ratios, size_kb;

  double accuracy() const { return metric == "error" ? 100.0 - value : value; }
  std::optional<double> fp_accuracy() const {
    if (!fp_value) return std::nullopt;
    return metric == "error" ? 100.0 - *fp_value : *fp_value;
  }
};

/// Parses {"references": [...]}; errors name the file and the JSON path; ids are unique.
std::vector<PaperReference> parse_references(const nlohmann::json& j, const std::string& source);
std::vector<PaperReference> load_references(const std::string& path);

/// Mean and sample standard deviation (n - 1; 0 for one value). n = 0: mean and std are NaN.
struct Stats {
  int64_t n = 0;
  double mean = 0, std = 0, min = 0, max = 0;
};
Stats stats_of(const std::vector<double>& values);
/// "99.10 ± 0.05" (printf format `f` for both), the mean alone for one value, "-" for none.
std::string mean_std_text(const Stats& s, const char* f = "%.2f");
std::string mean_std_text(const std::vector<double>& values, const char* f = "%.2f");
/// {"n", "mean", "std" (null for one value), "min", "max"}; null for no value.
nlohmann::json stats_json(const Stats& s);
nlohmann::json stats_json(const std::vector<double>& values);
/// The runs of study entry `e` in `plan` (seeds in plan order), and those of them whose
/// results copy holds the kind's finished file: what each table row is built from.
struct EntryRuns {
  int64_t total = 0;
  std::vector<const PlannedRun*> finished;
};
EntryRuns entry_runs(const StudyPlan& plan, const StudyExperiment& e);
/// The entry `id` of `refs` that study entry `e` names; throws naming the study, the run and
/// the references file when there is none.
const PaperReference& find_reference(const Study& study, const StudyExperiment& e,
                                     const std::vector<PaperReference>& refs, const std::string& id);

/// One method: every seed of one study experiment.
struct MethodRow {
  const StudyExperiment* experiment = nullptr;
  int64_t seeds_total = 0;
  std::vector<uint64_t> seeds_done;
  std::string dataset;     ///< data.dataset of the finished runs
  std::string quantizers;  ///< weight/input quantizer names, from the summary
  std::vector<int> weight_bits, activation_bits;
  int64_t epochs = 0;
  Stats test_acc;      ///< percent, final model
  Stats best_val_acc;  ///< percent, best validation epoch
  /// percent, test accuracy of the best-validation epoch's weights (the BNN paper's
  /// protocol), over the finished seeds whose metrics.json records it
  Stats test_at_best_val;
  /// finished seeds whose metrics.json lacks test_accuracy_at_best_val (older lowbit)
  int64_t seeds_without_test_at_best_val = 0;
  std::vector<int64_t> best_epochs;
  std::optional<double> params, quantized_bits, float32_bits, compression;  ///< from the summary
  std::optional<double> macs_binary, macs_ternary, macs_kbit, macs_float;
  Stats seconds_per_epoch;
  std::optional<int64_t> threads;
  /// Validation accuracy (percent) per epoch, one vector per finished seed.
  std::vector<std::vector<double>> val_curves;
  /// Test accuracy mean minus the group baseline's (pp), when both have finished seeds.
  std::optional<double> gap_to_baseline;
  std::vector<const PaperReference*> references;
};

struct StudyReport {
  const Study* study = nullptr;
  std::vector<MethodRow> rows;  ///< study order (kind "train"; other kinds in `kinds`)
  /// Sections of the other run kinds (e.g. Deep Compression's per-stage table), by kind name.
  std::vector<std::pair<std::string, KindReport>> kinds;
  int64_t runs_done = 0, runs_total = 0;  ///< every run of the plan, every kind
  std::vector<PaperReference> references;  ///< rows point into this
  std::string to_markdown() const;
  nlohmann::json to_json() const;
};

/// Reads the finished runs of the plan and aggregates them. Throws when a row names a
/// reference id that the references do not hold, or a results file is malformed.
StudyReport build_study_report(const Study& study, const StudyPlan& plan, std::vector<PaperReference> references);

/// Writes table.md, table.json, accuracy_vs_epoch*.svg and accuracy_vs_size*.svg (one per
/// group) into `dir`; returns the written paths.
std::vector<std::string> write_study_report(const StudyReport& report, const std::string& dir);

}  // namespace lowbit
