#pragma once
/// The one batch loop: epochs of shuffled, augmented batches; forward, loss, backward,
/// optimizer step, post-step constraints (latent weight clipping); the running loss and
/// accuracy; the per-epoch log line, summary and validation. `lowbit train`
/// (experiment/trainer.h) and the compression stages (compress/stage_trainer.h) are this
/// loop with different hooks:
///
///   before_step      the batch about to be forwarded
///   after_backward   gradients complete (in a multi-process run already summed over the
///                    processes), optimizer not yet stepped: Deep Compression's gradient
///                    masks, centroid gradients
///   after_step       after opt.step() and model.apply_after_step(): re-apply the masks,
///                    rebuild shared weights from their codebooks
///   stop_requested   after each batch; true stops the loop mid-epoch (Ctrl-C) after
///                    calling on_stop with the position, so a checkpoint can be written
///   validate         the validation accuracy at the end of each epoch (empty: none)
///   end_of_epoch     the epoch's log line (may be extended); true stops the loop
///
///   BatchLoop loop{.name = "retrain", .epochs = 5, .batch_size = 64, .seed = 1};
///   BatchLoopHooks hooks{.after_backward = [&] { mask.apply_to_grad(w); }};
///   BatchLoopResult r = run_batch_loop(task, loop, hooks);   // r.log: one line per epoch
///
/// Multi-process training (docs/distributed.md) is this loop over collective(): each process
/// takes its rows of every global batch, batch norm and dropout see the global batch
/// (BatchShardScope, core/collective.h), the gradients are summed with one allreduce before
/// after_backward, the epoch totals at its end; only rank 0 prints. One process: none of it.
/// With `shards` (train.shards) every batch is S shards instead, each with its own forward
/// and backward pass, batch norm's sums and the gradients added in shard order
/// (core/shard_group.h): the same bits for any number of processes N ≤ S, N = 1 included.
///
/// The loop has no state of its own beyond its arguments: batch order and augmentation
/// are functions of (seed, epoch, example) (DataLoader), so starting at (epoch, batch)
/// with the carried totals of that epoch continues an interrupted run bit for bit.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/var.h"
#include "datasets/data_loader.h"
#include "datasets/dataset.h"
#include "datasets/transforms.h"
#include "layers/module.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace lowbit {

/// What is trained: `optimizer`'s parameters may be any leaves, not necessarily the
/// model's (the centroids when fine-tuning); every model parameter's gradient is dropped
/// before each backward too, so parameters outside the optimizer do not accumulate.
struct TrainingTask {
  Module* model = nullptr;
  Optimizer* optimizer = nullptr;
  const LrSchedule* schedule = nullptr;  ///< null: constant `base_lr`
  double base_lr = 0.0;
  std::function<Var(const Var& logits, const Tensor& labels)> loss;
  const InMemoryDataset* train = nullptr;
  const TransformList* transforms = nullptr;
};

/// Running totals of one epoch (including the part before a resume).
struct EpochTotals {
  double loss_sum = 0.0;  ///< Σ batch mean loss × batch size
  int64_t correct = 0;    ///< argmax hits
  int64_t seen = 0;       ///< examples
  double seconds = 0.0;   ///< training time (validation excluded)
};

/// Where the loop is, passed to the hooks that see epochs.
struct LoopState {
  int64_t epoch = 0;        ///< 0-based
  int64_t next_batch = 0;   ///< the first batch not done yet (batches per epoch at its end)
  double lr = 0.0;
  EpochTotals totals;       ///< this epoch so far
  int64_t new_images = 0;   ///< examples trained in this epoch by this call (not carried)
  double new_seconds = 0.0; ///< and the seconds they took
};

struct BatchLoopHooks {
  std::function<void(const Batch& batch)> before_step;
  std::function<void()> after_backward;
  std::function<void()> after_step;
  std::function<bool()> stop_requested;
  std::function<void(const LoopState&)> on_stop;
  std::function<double()> validate;
  std::function<bool(const LoopState&, nlohmann::json& line)> end_of_epoch;
};

struct BatchLoop {
  std::string name;          ///< "train", "retrain": error messages, summary lines
  std::string lr_hint;       ///< appended to the non-finite-loss error: what to lower
  int64_t epochs = 0;
  int64_t batch_size = 100;
  uint64_t seed = 0;         ///< batch order and augmentation
  bool interactive = false;  ///< progress bar on stderr
  int64_t start_epoch = 0;   ///< resume position
  int64_t start_batch = 0;
  EpochTotals carried;       ///< totals of start_epoch before start_batch
  bool label_lines = false;  ///< log lines carry "stage": name, summaries start with it
  /// train.shards (core/shard_group.h): 0 = off; S > 0 splits every batch into S shards
  /// computed apart and summed in shard order, bit-identical for any number of processes.
  int64_t shards = 0;
};

struct BatchLoopResult {
  bool stopped = false;            ///< by stop_requested (mid-epoch) or end_of_epoch
  std::vector<nlohmann::json> log; ///< one line per finished epoch
};

/// Runs epochs [start_epoch, epochs). Throws lowbit::Error (naming the epoch and batch)
/// when the loss is not finite.
BatchLoopResult run_batch_loop(const TrainingTask& task, const BatchLoop& loop,
                               const BatchLoopHooks& hooks);

}  // namespace lowbit
