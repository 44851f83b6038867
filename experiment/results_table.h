#pragma once
/// Results tables: finished (and unfinished) training runs side by side, the way papers
/// compare FP32 with BinaryConnect, BNN, XNOR-Net, TWN, ... (`lowbit table`, docs/table.md).
///
///   ResultsTable t;
///   t.rows = read_runs({"runs/mnist_lenet5", "runs/mnist_lenet5_twn"}, &skipped);
///   t.set_baseline(read_run("runs/mnist_lenet5"));          // optional: adds a Δ column
///   std::cout << t.to_text();                               // aligned columns
///   write_file_atomic("results/mnist.md", t.to_markdown());
///   write_file_atomic("results/mnist.json", t.to_json().dump(2) + "\n");
///
/// A run folder (docs/config.md, "Run folder") is read as follows:
///   config.json   name, data.dataset, train.epochs; model.layers quantizers (unfinished runs)
///   metrics.json  present = finished: test_accuracy, best_val_accuracy, train_seconds and the
///                 model summary (quantizers, bits, quantized size, compression ratio)
///   log.jsonl     only without metrics.json: epochs done, last and best val accuracy, seconds
/// Every file error (missing config.json, malformed JSON, a key of the wrong type) throws
/// lowbit::Error naming the file.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lowbit {

/// One row: one run folder.
struct RunResult {
  std::string dir;      ///< the folder as given
  std::string run;      ///< folder name ("mnist_lenet5")
  std::string name;     ///< config.json "name"
  std::string dataset;  ///< config.json data.dataset ("" when absent)
  /// Weight quantizer names joined by "+", then "/" and the input quantizer names when the
  /// inputs are quantized ("binary_connect", "ste_sign/ste_sign", "fp/dorefa"); "fp" without
  /// quantizers; the experiment name when the layers cannot be inspected.
  std::string method;
  /// Distinct bits (ascending) of the layers with a weight / an input quantizer; {32} when no
  /// layer has one; empty when unknown (a metrics.json summary row without bits).
  std::vector<int> weight_bits, activation_bits;
  int64_t epochs = 0;  ///< configured (train.epochs)
  bool finished = false;  ///< metrics.json present

  // ---- finished runs (metrics.json); accuracies are fractions in [0, 1]
  std::optional<double> test_accuracy;
  std::optional<double> best_val_accuracy;  ///< unfinished runs: best so far from log.jsonl
  std::optional<int64_t> best_epoch;
  std::optional<double> quantized_bytes;    ///< summary totals (weights at their bits)
  std::optional<double> compression_ratio;  ///< float32 size / quantized size
  std::optional<double> train_seconds;      ///< unfinished runs: sum over log.jsonl

  // ---- unfinished runs (log.jsonl)
  int64_t epochs_done = 0;
  std::optional<double> last_val_accuracy;

  /// Test accuracy minus the baseline's, in percentage points (set by set_baseline).
  std::optional<double> delta_pp;

  /// "done" or "running: epoch k/N, val x%" (", val" omitted without validation numbers).
  std::string status() const;
};

/// Reads one run folder. Throws lowbit::Error naming the folder or file when `dir` is not a
/// training run folder (no config.json, or a `lowbit compress` folder) or a file is malformed.
RunResult read_run(const std::string& dir);

/// Reads the folders in order, for shell-glob-expanded lists (`runs/cifar10_*`): regular files
/// (logs beside the folders) and `lowbit compress` folders are not runs and are skipped, with
/// "PATH (reason)" appended to `skipped` when given; a folder listed twice gives one row.
/// Missing paths, folders without config.json and malformed files throw; so does a list in
/// which nothing is left.
std::vector<RunResult> read_runs(const std::vector<std::string>& paths,
                                 std::vector<std::string>* skipped = nullptr);

/// The table: rows in the given order, rendered as text, Markdown or JSON.
struct ResultsTable {
  std::vector<RunResult> rows;
  std::string baseline;  ///< run name of the baseline ("" without one)

  /// Sets delta_pp of every finished row relative to `base`, which must be finished.
  void set_baseline(const RunResult& base);
  /// Column titles (the Δ column only with a baseline).
  std::vector<std::string> header() const;
  /// One formatted cell per column and row ("-" for values a run does not have).
  std::vector<std::vector<std::string>> cells() const;
  /// Space-aligned columns (numbers right-aligned) with a rule under the header.
  std::string to_text() const;
  /// A GitHub Markdown table (numeric columns right-aligned), then a note on the baseline.
  std::string to_markdown() const;
  /// An array with one object per row; unknown values are null, accuracies in percent.
  nlohmann::json to_json() const;
};

}  // namespace lowbit
