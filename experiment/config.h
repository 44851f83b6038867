#pragma once
/// The experiment file: one JSON object holds a whole experiment (docs/config.md).
///
///   nlohmann::json raw = load_json_file("experiments/mnist/lenet5.json");
///   apply_override(raw, "train.epochs=1");            // lowbit train --set
///   ExperimentConfig cfg = parse_experiment(raw);     // validates; fills defaults
///   cfg.resolved                                      // what the run writes as config.json
///
/// Nested specs that have their own registries (model.layers, train.optimizer,
/// train.lr_schedule) are validated by building them (Experiment::build) before anything
/// is written; everything else is validated here. Errors name the JSON path.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace lowbit {

struct DataConfig {
  std::string dataset;      // mnist | fashion_mnist | cifar10
  std::string root;         // folder holding the files
  int64_t validation = 0;   // held-out tail of the training set
  /// In order; random_crop and horizontal_flip act only on training batches (evaluation
  /// takes the centre crop, unflipped).
  nlohmann::json transforms = nlohmann::json::array();
};

struct TrainConfig {
  int64_t epochs = 1;
  int64_t batch_size = 100;
  int64_t eval_batch_size = 1000;
  nlohmann::json optimizer;    // {"name": ...}
  nlohmann::json lr_schedule;  // null or {"name": ...}
  std::string loss = "cross_entropy";  // cross_entropy | squared_hinge
};

struct ExperimentConfig {
  std::string name;
  uint64_t seed = 0;
  DataConfig data;
  nlohmann::json model_layers;  // list of layer specs
  TrainConfig train;
  std::string output_dir;
  nlohmann::json resolved;  // the whole config with defaults filled in
};

/// Parses a JSON file; syntax errors name the file, line and column.
nlohmann::json load_json_file(const std::string& path);

/// Applies one `--set path=value` override, e.g. "train.epochs=3",
/// "model.layers[2].out_features=128", "data.root=\"/tmp/mnist\"". The value is parsed as
/// JSON when it is valid JSON, else taken as a string. Intermediate objects are created;
/// array indices must exist.
void apply_override(nlohmann::json& config, const std::string& assignment);

/// Validates the experiment (unknown keys, wrong types, bad values) and fills defaults.
ExperimentConfig parse_experiment(const nlohmann::json& config);

/// Known transform types (data.transforms[i].type).
const std::vector<std::string>& transform_names();
/// Known loss names.
const std::vector<std::string>& loss_names();

}  // namespace lowbit
