#pragma once
/// The compress file of `lowbit compress` (docs/deep_compression.md): which trained network to
/// compress and the settings of Deep Compression's three stages.
///
///   nlohmann::json raw = load_json_file("experiments/mnist/deep_compression_lenet300.json");
///   CompressConfig cfg = parse_compress_config(raw);          // validates; fills defaults
///   ExperimentConfig base = parse_experiment(load_json_file(cfg.experiment_file()));
///   ModulePtr net = make_module(base.model_layers, rng);
///   std::vector<LayerPlan> plan = plan_layers(cfg, *net);     // per-layer settings resolved
///
///   {"name": "dc_lenet300",
///    "train": "experiments/mnist/lenet300.json",       // or "run": "runs/mnist_lenet300"
///    "layers": {"1.weight": "ip1", "3.weight": "ip2", "5.weight": "ip3"},
///    "prune": {"default": {"density": 0.08}, "layers": {"ip3": {"density": 0.26}},
///              "retrain": {"epochs": 8, "optimizer": {"name": "sgd", "lr": 0.005}}},
///    "quantize": {"default": {"bits": 6}, "finetune": {"epochs": 3}},
///    "huffman": {"coding": "smallest", "index_bits": 5}}
///
/// Structure, types and ranges are validated by parse_compress_config; names of layers
/// (which need the model) by plan_layers. Every error names the JSON path, e.g.
///   prune.layers.ip3.densty: unknown key (did you mean "density"?); valid keys: ...
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "layers/module.h"
#include "compress/compressed_model.h"
#include "compress/prune.h"
#include "compress/weight_sharing.h"

namespace lowbit {

/// A training phase inside the pipeline (retraining after pruning, centroid fine-tuning).
struct TrainingStage {
  int64_t epochs = 0;          ///< 0: skip
  int64_t batch_size = 0;      ///< 0: the experiment's train.batch_size
  nlohmann::json optimizer;    ///< null: the experiment's train.optimizer
  nlohmann::json lr_schedule;  ///< null: constant lr
  /// Fine-tuning only: parameters that are not compressed (biases, batch norm) train as
  /// usual beside the centroids.
  bool train_uncompressed = true;
};

struct CompressConfig {
  std::string name;
  std::string run_dir;     ///< "run": a finished run folder (exclusive with train_file)
  std::string train_file;  ///< "train": an experiment file to train (or reuse) first
  /// "train_set": --set overrides of the "train" experiment (e.g. ["seed=2"]), applied
  /// before it is trained or reused; "train_out": the folder of that training run (default:
  /// the experiment's output.dir). `lowbit study` uses both to give each seed its own
  /// baseline (docs/study.md).
  std::vector<std::string> train_sets;
  std::string train_out;
  uint64_t seed = 0;       ///< batch order of retraining / fine-tuning
  /// "layers": parameter name -> report label, in file order; empty: every parameter with
  /// at least two dimensions (linear and conv weights), labelled by its name.
  std::vector<std::pair<std::string, std::string>> layers;

  bool prune = false;                             ///< "prune" present
  std::optional<PruneSpec> prune_default;         ///< null: layers without a rule are not pruned
  std::map<std::string, PruneSpec> prune_layers;  ///< key: parameter name or label
  TrainingStage retrain;

  nlohmann::json quantize_default;  ///< weight-sharing keys (bits, init, ...)
  std::map<std::string, nlohmann::json> quantize_layers;
  TrainingStage finetune;

  CodingPolicy coding = CodingPolicy::kSmallest;
  std::string coding_name = "smallest";
  int index_bits = 5;
  std::map<std::string, int> index_bits_layers;

  std::string output_dir;   ///< default runs/<name>
  nlohmann::json resolved;  ///< the config with defaults filled in (config.json)

  /// The experiment file whose network is compressed: train_file, or run_dir/config.json.
  std::string experiment_file() const;
  /// That file's JSON with train_sets applied (the "run" form: as stored); errors name the file.
  nlohmann::json experiment_json() const;
};

/// Validates a compress config (unknown keys, types, ranges; errors name the JSON path) and
/// fills defaults.
CompressConfig parse_compress_config(const nlohmann::json& config);

/// One layer to compress with its resolved settings.
struct LayerPlan {
  std::string param;               ///< dotted parameter name, e.g. "1.weight"
  std::string label;               ///< report name, e.g. "ip1"
  std::optional<PruneSpec> prune;  ///< none: not pruned
  WeightSharingOptions sharing;
  int index_bits = 5;
};

/// Resolves the per-layer settings against `model`'s parameters: per-layer entries
/// (keyed by parameter name or label) override the defaults — a prune entry replaces the
/// default rule, a quantize entry overrides key by key. Unknown names throw naming the JSON
/// path and listing the layers.
std::vector<LayerPlan> plan_layers(const CompressConfig& cfg, const Module& model);

}  // namespace lowbit
