#pragma once
/// Experiment: everything a run needs, built from a validated ExperimentConfig before
/// anything is written to the run folder (so a bad layer or optimizer spec fails early).
///
///   Experiment ex(parse_experiment(load_json_file("experiments/mnist/quickstart.json")));
///   ex.model->pretty_print(std::cout);
#include <memory>
#include <nlohmann/json.hpp>

#include "experiment/config.h"
#include "experiment/evaluate.h"  // evaluate() moved there (one accuracy routine for all callers)
#include "core/random.h"
#include "datasets/dataset.h"
#include "datasets/transforms.h"
#include "layers/module.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace lowbit {

/// data.transforms[i] -> Transform; errors name the JSON path.
Transform make_transform(const nlohmann::json& spec, const std::string& path);
TransformList make_transforms(const nlohmann::json& list, const std::string& path);

struct Experiment {
  /// Loads data (train, val tail, test), builds the model from `seed`, the optimizer and
  /// the schedule. Throws lowbit::Error naming the JSON path or file on any problem.
  explicit Experiment(ExperimentConfig config, bool load_data = true);

  ExperimentConfig config;
  TransformList transforms;
  InMemoryDataset train, val, test;
  Shape image_shape;  // (C, H, W) after transforms
  int64_t num_classes = 0;
  Rng init_rng;       // drew the initial weights
  ModulePtr model;
  OptimizerPtr optimizer;
  LrSchedulePtr schedule;  // null: constant lr
  double base_lr = 0.0;

  /// The loss of the config on logits (N, classes) and labels (N).
  Var loss(const Var& logits, const Tensor& labels) const;
};

/// Builds the model of a resolved config and loads `weights` (model.safetensors), for eval.
ModulePtr load_trained_model(const nlohmann::json& resolved_config, const std::string& weights_path);

}  // namespace lowbit
