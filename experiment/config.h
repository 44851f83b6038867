#pragma once
/// The experiment file: one JSON object holds a whole experiment (docs/config.md).
///
///   nlohmann::json raw = load_json_file("experiments/mnist/lenet5.json");
///   apply_override(raw, "train.epochs=1");            // lowbit train --set
///   ExperimentConfig cfg = parse_experiment(raw);     // validates; fills defaults
///   cfg.resolved                                      // what the run writes as config.json
///
/// Every name in a config is resolved by its registry (core/registry.h), and each option is
/// checked once, where its owner parses it: the data set's options here (make_dataset, so
/// data.root's default comes from the data set), the specs of model.layers, data.transforms,
/// train.optimizer, train.lr_schedule and train.loss by Experiment, which builds them all
/// before any data is read and then replaces `resolved` with the config written back from
/// the built objects (defaults filled in). Errors name the JSON path.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/registry.h"

namespace lowbit {

struct DataConfig {
  std::string dataset;      // the registered name (datasets/registry.h)
  DatasetSourcePtr source;  // built from data.dataset: shape, classes, loading
  std::string root;         // folder holding the files (default: the data set's)
  int64_t validation = 0;   // held-out tail of the training set
  /// In order; random_crop and horizontal_flip act only on training batches (evaluation
  /// takes the centre crop, unflipped).
  nlohmann::json transforms = nlohmann::json::array();
};

struct TrainConfig {
  int64_t epochs = 1;
  int64_t batch_size = 100;
  int64_t eval_batch_size = 1000;
  /// Fixed shards per batch for results bit-identical for any number of processes
  /// (docs/distributed.md, core/shard_group.h); 0 (absent or null) = off.
  int64_t shards = 0;
  nlohmann::json optimizer;    // {"name": ...}
  nlohmann::json lr_schedule;  // null or {"name": ...}
  nlohmann::json loss = "cross_entropy";  // a loss spec (experiment/loss_registry.h)
};

struct ExperimentConfig {
  std::string name;
  uint64_t seed = 0;
  DataConfig data;
  nlohmann::json model_layers;  // list of layer specs
  TrainConfig train;
  std::string output_dir;
  /// The whole config with defaults filled in: parse_experiment fills the sections it owns
  /// and copies the specs Experiment builds; Experiment then writes it from the built
  /// objects (what a run stores as config.json).
  nlohmann::json resolved;
};

/// Parses a JSON file; syntax errors name the file, line and column.
nlohmann::json load_json_file(const std::string& path);

/// Applies one `--set path=value` override, e.g. "train.epochs=3",
/// "model.layers[2].out_features=128", "data.root=\"/tmp/mnist\"". The value is parsed as
/// JSON when it is valid JSON, else taken as a string. Intermediate objects are created;
/// array indices must exist.
void apply_override(nlohmann::json& config, const std::string& assignment);

/// load_json_file(file) with the overrides applied in order: what `lowbit train FILE --set ...`
/// parses.
nlohmann::json load_experiment_file(const std::string& file, const std::vector<std::string>& sets);

/// Validates the experiment's structure and the data set (unknown keys, wrong types, bad
/// values, data.validation and train.batch_size against the data set's declared size) and
/// fills defaults; reads no data.
ExperimentConfig parse_experiment(const nlohmann::json& config);

/// data.validation must leave examples to train on and train.batch_size may not exceed them.
/// `examples`: the training split's size; `of`: whose size it is, for the messages.
/// parse_experiment checks the data set's declared size (no file read), Experiment the size
/// of the files it read (copies smaller than published, image folders).
void check_training_examples(const ExperimentConfig& cfg, int64_t examples, const std::string& of);

class JsonArgs;
/// The run folder of a config file's top level (`top`): `output.dir`, else `runs/<name>`.
/// Shared by experiment and compress configs.
std::string parse_output_dir(JsonArgs& top, const std::string& name);

/// The resolved config of `cfg` with the given built parts written in their resolved form
/// (Experiment calls it with its model, transforms, optimizer, schedule and loss specs).
nlohmann::json resolved_config(const ExperimentConfig& cfg, const nlohmann::json& model_layers,
                               const nlohmann::json& transforms, const nlohmann::json& optimizer,
                               const nlohmann::json& lr_schedule, const nlohmann::json& loss);

}  // namespace lowbit
