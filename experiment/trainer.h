#pragma once
/// `lowbit train`: the batch loop (experiment/batch_loop.h) with the run folder around it
/// (run_files.h): the config, the log line of each epoch, a checkpoint after each epoch and
/// when stopped (Ctrl-C), the weights and metrics at the end. In a multi-process run
/// (collective(), docs/distributed.md) every process trains and rank 0 alone prints and
/// writes; the processes must agree on the config, the data and the resume position.
///
/// Resuming is bit-identical to an uninterrupted run: batch order and augmentation are
/// functions of (seed, epoch, example) (DataLoader), and the checkpoint holds weights,
/// buffers, optimizer state, every module Rng and the position inside the epoch.
#include <nlohmann/json.hpp>
#include <string>

#include "experiment/experiment.h"

namespace lowbit {

struct TrainOptions {
  std::string out_dir;      ///< run folder (created)
  bool resume = false;      ///< continue from out_dir/checkpoint.safetensors
  bool interactive = false; ///< progress bar on stderr
  /// Stop (as if Ctrl-C) after this many batches in this process; 0 = never. For tests of
  /// interruption and resume.
  int64_t stop_after_batches = 0;
};

struct TrainOutcome {
  bool interrupted = false;  ///< stopped early (Ctrl-C); a checkpoint was written
  nlohmann::json metrics;    ///< metrics.json content (empty when interrupted)
};

/// Runs (or resumes) the experiment. Throws lowbit::Error on bad input; the run folder
/// keeps its last consistent state.
TrainOutcome train_experiment(Experiment& ex, const TrainOptions& options);

/// Installs a SIGINT handler that asks running training loops to stop after the current
/// batch (a second Ctrl-C kills the process as usual).
void install_interrupt_handler();

}  // namespace lowbit
