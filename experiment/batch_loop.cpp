#include "experiment/batch_loop.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <optional>

#include "core/check.h"
#include "core/collective.h"
#include "core/format.h"
#include "core/shard_group.h"
#include "experiment/evaluate.h"
#include "experiment/progress.h"

namespace lowbit {

using nlohmann::json;

namespace {

// Multi-process training: this process's rows [first, first + rows) of a global batch of n.
BatchShard shard_of(int64_t n, const Collective& world) {
  const int64_t p = world.size(), r = world.rank();
  const int64_t first = n * r / p, end = n * (r + 1) / p;
  return {.first_row = first, .rows = end - first, .global_rows = n};
}

// The parameters whose gradients are summed over the processes: the model's and the
// optimizer's (which may be other leaves), each once, in a fixed order.
std::vector<Var> reduced_parameters(const Module& model, const Optimizer& opt) {
  std::vector<Var> out = model.parameters();
  for (const Var& p : opt.params()) {
    bool have = false;
    for (const Var& q : out) have = have || q.node() == p.node();
    if (!have) out.push_back(p);
  }
  return out;
}

// Σ over processes of every defined gradient, in one allreduce (the same gradients are
// defined in every process: they run the same graph).
void allreduce_gradients(const std::vector<Var>& params, Collective& world, std::vector<float>& buf) {
  int64_t total = 0;
  for (const Var& p : params)
    if (p.grad().defined()) total += p.grad().numel();
  buf.resize(static_cast<size_t>(total));
  float* at = buf.data();
  for (const Var& p : params)
    if (p.grad().defined()) at = std::copy(p.grad().data(), p.grad().data() + p.grad().numel(), at);
  world.allreduce_sum(buf.data(), total, CommKind::kGradients);
  at = buf.data();
  for (const Var& p : params) {
    if (!p.grad().defined()) continue;
    Tensor g = p.grad();
    std::copy(at, at + g.numel(), g.data());
    at += g.numel();
  }
}

// This process's rows [first, end) of a batch.
Batch rows_of(const Batch& batch, int64_t first, int64_t end) {
  Batch out;
  out.images = batch.images.rows(first, end);
  out.labels = batch.labels.rows(first, end);
  out.indices = std::vector<int64_t>(batch.indices.begin() + first, batch.indices.begin() + end);
  return out;
}

// What one process computed of a step: Σ over its rows of the loss, its hits, its rows.
struct StepPart {
  double loss_sum = 0.0;
  int64_t correct = 0;
  int64_t rows = 0;
};

// Forward and backward of one process's part of `batch`: the whole batch in one process
// (world null), its slice of the processes of `world` otherwise (gradients summed over them
// with one allreduce).
StepPart forward_backward(const TrainingTask& task, const BatchLoop& loop,
                          const BatchLoopHooks& hooks, const Batch& whole, Collective* world,
                          const std::vector<Var>& model_params, const std::vector<Var>& reduced,
                          int64_t epoch, int64_t b, std::vector<float>& buffer) {
  const int64_t global_rows = whole.images.size(0);
  BatchShard shard{.first_row = 0, .rows = global_rows, .global_rows = global_rows};
  if (world) shard = shard_of(global_rows, *world);
  const Batch batch = world ? rows_of(whole, shard.first_row, shard.first_row + shard.rows) : whole;
  if (hooks.before_step) hooks.before_step(batch);
  std::optional<BatchShardScope> in_shard;  // batch norm and dropout see the global batch
  if (world) in_shard.emplace(shard);
  const Var logits = (*task.model)(Var(batch.images));
  const Var loss = task.loss(logits, batch.labels);
  const float loss_value = loss.data().item();
  LB_CHECK(std::isfinite(loss_value), loop.name, ": loss became ", loss_value, " at epoch ",
           epoch + 1, ", batch ", b, "; ", loop.lr_hint);
  for (const Var& p : model_params) p.zero_grad();
  task.optimizer->zero_grad();
  if (world) {
    // The loss is the mean over this process's rows; weighted by rows / global rows, the
    // gradients summed over the processes are those of the global batch's mean.
    loss.backward(Tensor::full(loss.shape(), float(shard.rows) / float(global_rows)));
    in_shard.reset();
    allreduce_gradients(reduced, *world, buffer);
  } else {
    loss.backward();
  }
  const int64_t n = logits.data().size(0);
  return {double(loss_value) * double(n), count_correct(logits.data(), batch.labels), n};
}

// train.shards: forward and backward of this process's shards of `batch` (each alone, in
// lockstep: core/shard_group.h), then the gradients of all S shards summed in shard order
// into every parameter of `reduced`. What must differ per shard is swapped in around each
// shard's stretch: its gradients and the module generators' states (every shard starts
// from the step's states and draws for the global batch, so all end in the same state).
StepPart sharded_forward_backward(const TrainingTask& task, const BatchLoop& loop,
                                  const BatchLoopHooks& hooks, ShardGroup& group,
                                  const Batch& batch, const std::vector<Var>& reduced,
                                  int64_t epoch, int64_t b, std::vector<float>& buffer) {
  const int64_t rows = batch.images.size(0), local = group.local_count();
  const BatchShard first = group.shard(group.first_local(), rows);
  const BatchShard last = group.shard(group.first_local() + local - 1, rows);
  if (hooks.before_step) hooks.before_step(rows_of(batch, first.first_row, last.first_row + last.rows));
  const auto rngs = task.model->named_rngs();
  std::vector<Rng::State> start;
  for (const auto& r : rngs) start.push_back(r.second->state());
  std::vector<std::vector<Tensor>> grads(size_t(local), std::vector<Tensor>(reduced.size()));
  std::vector<std::vector<Rng::State>> states(size_t(local), start);
  std::vector<StepPart> parts(static_cast<size_t>(local));
  ShardGroup::Hooks swap;
  swap.enter = [&](int64_t i) {
    for (size_t k = 0; k < reduced.size(); ++k)
      if (reduced[k].requires_grad()) reduced[k].set_grad(grads[size_t(i)][k]);
    for (size_t r = 0; r < rngs.size(); ++r) rngs[r].second->set_state(states[size_t(i)][r]);
  };
  swap.leave = [&](int64_t i) {
    for (size_t k = 0; k < reduced.size(); ++k) grads[size_t(i)][k] = reduced[k].grad();
    for (size_t r = 0; r < rngs.size(); ++r) states[size_t(i)][r] = rngs[r].second->state();
  };
  group.run(rows, [&](int64_t i) {
    const BatchShard sh = group.shard(group.first_local() + i, rows);
    const Batch part = rows_of(batch, sh.first_row, sh.first_row + sh.rows);
    const Var logits = (*task.model)(Var(part.images));
    const Var loss = task.loss(logits, part.labels);
    const float loss_value = loss.data().item();
    LB_CHECK(std::isfinite(loss_value), loop.name, ": loss became ", loss_value, " at epoch ",
             epoch + 1, ", batch ", b, " (shard ", group.first_local() + i, "); ", loop.lr_hint);
    // The shard's mean loss weighted by its share of the batch: Σ over the shards is the
    // batch mean, and the weight is the same for any number of processes.
    loss.backward(Tensor::full(loss.shape(), float(sh.rows) / float(rows)));
    parts[size_t(i)] = {double(loss_value) * double(sh.rows), count_correct(logits.data(), part.labels),
                        sh.rows};
  }, swap);

  // Every shard ran the same graph: the same gradients are defined. Pack them shard by
  // shard, sum over all S shards in shard order, and install the sums.
  int64_t n = 0;
  for (size_t k = 0; k < reduced.size(); ++k) {
    for (int64_t i = 1; i < local; ++i)
      LB_CHECK(grads[size_t(i)][k].defined() == grads[0][k].defined(), loop.name,
               ": the shards of a step computed gradients for different parameters");
    if (grads[0][k].defined()) n += grads[0][k].numel();
  }
  buffer.resize(size_t(local * n));
  float* at = buffer.data();
  for (int64_t i = 0; i < local; ++i)
    for (const Tensor& g : grads[size_t(i)])
      if (g.defined()) at = std::copy(g.data(), g.data() + g.numel(), at);
  std::vector<float> summed(static_cast<size_t>(n));
  group.sum_in_shard_order(buffer, n, summed.data(), CommKind::kGradients);
  at = summed.data();
  for (size_t k = 0; k < reduced.size(); ++k) {
    if (!reduced[k].requires_grad()) continue;
    if (!grads[0][k].defined()) {
      reduced[k].set_grad(Tensor());
      continue;
    }
    Tensor g = Tensor::empty(grads[0][k].shape());
    std::copy(at, at + g.numel(), g.data());
    at += g.numel();
    reduced[k].set_grad(g);
  }
  for (int64_t i = 1; i < local; ++i)
    LB_CHECK(states[size_t(i)] == states[0], loop.name,
             ": a random draw in the model is not keyed by the global sample, so the shards' "
             "generators diverged (train.shards needs draws through draw_uniforms_for_batch)");
  for (size_t r = 0; r < rngs.size(); ++r) rngs[r].second->set_state(states[0][r]);
  StepPart out;
  for (const StepPart& p : parts) {
    out.loss_sum += p.loss_sum;
    out.correct += p.correct;
    out.rows += p.rows;
  }
  return out;
}

}  // namespace

BatchLoopResult run_batch_loop(const TrainingTask& task, const BatchLoop& loop,
                               const BatchLoopHooks& hooks) {
  LB_CHECK(task.model && task.optimizer && task.loss && task.train && task.transforms,
           loop.name, ": the training task is incomplete (model, optimizer, loss, data)");
  BatchLoopResult result;
  if (loop.start_epoch >= loop.epochs) return result;
  DataLoader loader(*task.train, *task.transforms,
                    {.batch_size = loop.batch_size, .shuffle = true, .augment = true, .seed = loop.seed});
  const int64_t batches = loader.num_batches();
  const std::vector<Var> model_params = task.model->parameters();
  // Data-parallel over the processes of collective() (one process: all of this is off).
  Collective& world = collective();
  const bool prints = world.rank() == 0;
  // train.shards: S shards per batch whatever the number of processes (ShardGroup checks
  // that there are no more processes than shards).
  std::unique_ptr<ShardGroup> group;
  if (loop.shards > 0) group = std::make_unique<ShardGroup>(loop.shards, world);
  // Each process (each shard) computes part of every batch; its totals are summed at the end.
  const bool distributed = world.size() > 1 || group;
  if (distributed) {
    const int64_t last = loader.num_examples() - (batches - 1) * loop.batch_size;
    const int64_t parts = group ? loop.shards : world.size();
    LB_CHECK(std::min(loop.batch_size, last) >= parts, loop.name, ": ", parts,
             group ? " shards (train.shards)" : " processes",
             " need at least one example each in every batch; the batch size is ",
             loop.batch_size, " and the last batch has ", last,
             " examples (change the batch size or data.validation)");
  }
  const std::vector<Var> reduced =
      distributed ? reduced_parameters(*task.model, *task.optimizer) : std::vector<Var>{};
  std::vector<float> grad_buffer;
  Progress progress(loop.epochs, batches, loop.interactive && prints);
  using Clock = std::chrono::steady_clock;
  task.model->train();
  for (int64_t epoch = loop.start_epoch; epoch < loop.epochs; ++epoch) {
    LoopState state;
    state.epoch = epoch;
    state.lr = task.schedule ? task.schedule->lr_at(epoch) : task.base_lr;
    task.optimizer->set_lr(state.lr);
    loader.set_epoch(epoch);
    const double loader_wait_before = loader.stats().wait_seconds;
    const int64_t first = epoch == loop.start_epoch ? loop.start_batch : 0;
    if (first > 0) state.totals = loop.carried;
    EpochTotals& t = state.totals;
    const EpochTotals before = t;
    // Multi-process: loss and hits of this process's rows, summed over the processes when
    // the epoch ends or stops (t.seen counts the global batches).
    double local_loss_sum = 0.0;
    int64_t local_correct = 0, local_seen = 0;
    auto sum_totals = [&] {
      if (!distributed) return;
      double v[2] = {local_loss_sum, static_cast<double>(local_correct)};
      world.allreduce_sum(v, 2, CommKind::kOther);
      t.loss_sum = before.loss_sum + v[0];
      t.correct = before.correct + static_cast<int64_t>(v[1]);
    };
    if (prints) progress.start_epoch(epoch + 1, first);
    const auto t0 = Clock::now();
    auto take_time = [&] {
      state.new_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      state.new_images = t.seen - before.seen;
      t.seconds = before.seconds + state.new_seconds;
    };
    for (int64_t b = first; b < batches; ++b) {
      const Batch batch = loader.batch(b);
      const int64_t global_rows = batch.images.size(0);
      const StepPart part =
          group ? sharded_forward_backward(task, loop, hooks, *group, batch, reduced, epoch, b,
                                           grad_buffer)
                : forward_backward(task, loop, hooks, batch, distributed ? &world : nullptr,
                                   model_params, reduced, epoch, b, grad_buffer);
      if (hooks.after_backward) hooks.after_backward();
      task.optimizer->step();
      task.model->apply_after_step();
      if (hooks.after_step) hooks.after_step();
      if (distributed) {
        local_correct += part.correct;
        local_loss_sum += part.loss_sum;
        local_seen += part.rows;
        t.seen += global_rows;
        if (prints) progress.batch_done(b, local_loss_sum / double(local_seen), t.seen);
      } else {
        t.correct += part.correct;
        t.seen += part.rows;
        t.loss_sum += part.loss_sum;
        progress.batch_done(b, t.loss_sum / double(t.seen), t.seen);
      }
      bool stop = hooks.stop_requested && hooks.stop_requested();
      if (distributed) {  // every process stops at the same batch (Ctrl-C reaches them apart)
        double any = stop ? 1.0 : 0.0;
        world.allreduce_sum(&any, 1, CommKind::kOther);
        stop = any > 0;
      }
      if (stop && b + 1 < batches) {
        state.next_batch = b + 1;
        take_time();
        sum_totals();
        if (hooks.on_stop) hooks.on_stop(state);
        result.stopped = true;
        return result;
      }
    }
    state.next_batch = batches;
    take_time();
    sum_totals();

    const double seen = double(std::max<int64_t>(t.seen, 1));
    json line = {{"epoch", epoch + 1},
                 {"lr", state.lr},
                 {"train_loss", t.loss_sum / seen},
                 {"train_accuracy", double(t.correct) / seen},
                 {"val_accuracy", nullptr},
                 {"seconds", t.seconds},
                 // the part of this call's training time spent waiting for batches (the data
                 // pipeline's share; the next batch is built while this one computes)
                 {"loader_seconds", loader.stats().wait_seconds - loader_wait_before}};
    if (loop.label_lines) line["stage"] = loop.name;
    std::string summary = (loop.label_lines ? loop.name + " " : std::string()) + "epoch " +
                          std::to_string(epoch + 1) + "/" + std::to_string(loop.epochs) + "  lr " +
                          format_double("%.3g", state.lr) + "  loss " +
                          format_double("%.4f", line["train_loss"]) + "  train " +
                          format_double("%.2f%%", 100 * line["train_accuracy"].get<double>());
    if (hooks.validate) {
      const double val_acc = hooks.validate();
      line["val_accuracy"] = val_acc;
      summary += "  val " + format_double("%.2f%%", 100 * val_acc);
    }
    summary += "  " + format_double("%.1fs", t.seconds) + "  " +
               format_double("%.0f img/s", double(t.seen) / t.seconds);
    if (prints) progress.end_epoch(summary);
    const bool stop = hooks.end_of_epoch && hooks.end_of_epoch(state, line);
    result.log.push_back(std::move(line));
    if (stop && epoch + 1 < loop.epochs) {
      result.stopped = true;
      return result;
    }
  }
  return result;
}

}  // namespace lowbit
