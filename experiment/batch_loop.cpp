#include "experiment/batch_loop.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <optional>

#include "core/check.h"
#include "core/collective.h"
#include "core/format.h"
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
  const bool distributed = world.size() > 1, prints = world.rank() == 0;
  if (distributed) {
    const int64_t last = loader.num_examples() - (batches - 1) * loop.batch_size;
    LB_CHECK(std::min(loop.batch_size, last) >= world.size(), loop.name, ": ", world.size(),
             " processes need at least one example each in every batch; the batch size is ",
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
      Batch batch = loader.batch(b);
      const int64_t global_rows = batch.images.size(0);
      BatchShard shard{.first_row = 0, .rows = global_rows, .global_rows = global_rows};
      if (distributed) {
        shard = shard_of(global_rows, world);
        batch.images = batch.images.rows(shard.first_row, shard.first_row + shard.rows);
        batch.labels = batch.labels.rows(shard.first_row, shard.first_row + shard.rows);
        batch.indices = std::vector<int64_t>(batch.indices.begin() + shard.first_row,
                                             batch.indices.begin() + shard.first_row + shard.rows);
      }
      if (hooks.before_step) hooks.before_step(batch);
      std::optional<BatchShardScope> in_shard;  // batch norm and dropout see the global batch
      if (distributed) in_shard.emplace(shard);
      const Var logits = (*task.model)(Var(batch.images));
      const Var loss = task.loss(logits, batch.labels);
      const float loss_value = loss.data().item();
      LB_CHECK(std::isfinite(loss_value), loop.name, ": loss became ", loss_value, " at epoch ",
               epoch + 1, ", batch ", b, "; ", loop.lr_hint);
      for (const Var& p : model_params) p.zero_grad();
      task.optimizer->zero_grad();
      if (distributed) {
        // The loss is the mean over this process's rows; weighted by rows / global rows, the
        // gradients summed over the processes are those of the global batch's mean.
        loss.backward(Tensor::full(loss.shape(), float(shard.rows) / float(global_rows)));
        in_shard.reset();
        allreduce_gradients(reduced, world, grad_buffer);
      } else {
        loss.backward();
      }
      if (hooks.after_backward) hooks.after_backward();
      task.optimizer->step();
      task.model->apply_after_step();
      if (hooks.after_step) hooks.after_step();

      const int64_t n = logits.data().size(0);
      if (distributed) {
        local_correct += count_correct(logits.data(), batch.labels);
        local_loss_sum += double(loss_value) * double(n);
        local_seen += n;
        t.seen += global_rows;
        if (prints) progress.batch_done(b, local_loss_sum / double(local_seen), t.seen);
      } else {
        t.correct += count_correct(logits.data(), batch.labels);
        t.seen += n;
        t.loss_sum += double(loss_value) * double(n);
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
