#pragma once
/// Experiment: everything a run needs, built from an ExperimentConfig. The whole config —
/// data set, transforms, model, optimizer, schedule, loss — is built (and so validated)
/// from the data set's declared image shape and classes before any data is read or cached,
/// and config.resolved is then rewritten from the built objects, so a run's config.json
/// records the defaults that ran and re-running it gives the same run.
///
///   Experiment ex(parse_experiment(load_json_file("experiments/mnist/quickstart.json")));
///   ex.model->pretty_print(std::cout);
#include <memory>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/random.h"
#include "experiment/config.h"
#include "experiment/evaluate.h"  // evaluate(): one accuracy routine for every caller
#include "experiment/loss_registry.h"
#include "datasets/dataset.h"
#include "datasets/transforms.h"
#include "layers/module.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace lowbit {

struct Experiment {
  /// Builds the transforms, the model from `seed`, the optimizer, the schedule and the
  /// loss, fills config.resolved, then (load_data) reads the data: read_data(). Throws
  /// lowbit::Error naming the JSON path or file on any problem.
  explicit Experiment(ExperimentConfig config, bool load_data = true);

  /// Reads the data set: train (without the validation tail), val, test. Throws naming the
  /// file, or the root when the data differ from the data set's declared shape or classes.
  void read_data();

  ExperimentConfig config;
  TransformList transforms;
  InMemoryDataset train, val, test;  // empty until read_data()
  Shape image_shape;  // (C, H, W) after transforms, from the data set's declared shape
  int64_t num_classes = 0;  // declared by the data set
  Rng init_rng;       // drew the initial weights
  ModulePtr model;
  OptimizerPtr optimizer;
  LrSchedulePtr schedule;  // null: constant lr
  double base_lr = 0.0;
  LossPtr loss_fn;  // train.loss

  /// The loss of the config on logits (N, classes) and labels (N).
  Var loss(const Var& logits, const Tensor& labels) const;
};

/// The resolved form of an experiment config (as written to config.json), built without
/// reading data; configs that resolve equal describe the same run, whatever their spelling.
nlohmann::json resolve_experiment(const nlohmann::json& config);

/// What differs between a run folder's stored config.json and the resolved config a command
/// asks for, as JSON paths ("train.epochs", "model.layers[2].out_features"); empty when they
/// describe the same run. The stored side is resolved first (a config.json written by an older
/// lowbit, with raw specs, still matches) and `output` is ignored on both sides: where the
/// folder lives is not part of what the run is, so a moved or copied run folder resumes.
std::vector<std::string> run_config_differences(const nlohmann::json& stored,
                                                const nlohmann::json& wanted);

/// Builds the model of a resolved config and loads `weights` (model.safetensors), for eval.
ModulePtr load_trained_model(const nlohmann::json& resolved_config, const std::string& weights_path);

}  // namespace lowbit
