#pragma once
/// Training phases of the compression pipeline: the batch loop of `lowbit train`
/// (experiment/batch_loop.h) with two hooks around the optimizer step, which is all that
/// pruning and weight sharing need:
///
///   after_backward   before opt.step(): mask the gradients of pruned weights, or turn the
///                    weight gradients into centroid gradients
///   after_step       after opt.step() and model.apply_after_step(): re-apply the masks, or
///                    rebuild the weights from the updated codebooks
///
///   StepHooks hooks{.after_backward = [&] { mask.apply_to_grad(w); },
///                   .after_step = [&] { mask.apply_to_weight(w); }};
///   std::vector<json> log = train_stage(ex, *opt, sched.get(),
///                                       {.name = "retrain", .epochs = 5, .batch_size = 64},
///                                       hooks);
///
/// No checkpoints: a phase is minutes long and restarts from the stage before it.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment/experiment.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace lowbit {

struct StepHooks {
  std::function<void()> after_backward;  ///< may be empty
  std::function<void()> after_step;      ///< may be empty
};

struct StageRun {
  std::string name;  ///< "retrain", "finetune": log lines and messages
  int64_t epochs = 0;
  int64_t batch_size = 100;
  uint64_t seed = 0;         ///< batch order and augmentation
  bool interactive = false;  ///< progress bar on stderr
};

/// Trains ex.model on ex.train for run.epochs epochs with `opt` (its parameters may be any
/// leaves, not necessarily the model's: the centroids when fine-tuning). Every model
/// parameter's gradient is dropped before each backward, so parameters outside `opt` do
/// not accumulate. lr: schedule->lr_at(epoch), or opt's lr at the call when schedule is
/// null. Prints one line per epoch on stdout (Progress); returns one JSON line per epoch
/// ("stage", "epoch", "lr", "train_loss", "train_accuracy", "val_accuracy", "seconds").
std::vector<nlohmann::json> train_stage(Experiment& ex, Optimizer& opt, const LrSchedule* schedule,
                                        const StageRun& run, const StepHooks& hooks);

}  // namespace lowbit
