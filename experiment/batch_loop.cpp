#include "experiment/batch_loop.h"

#include <chrono>
#include <cmath>

#include "core/check.h"
#include "core/format.h"
#include "experiment/evaluate.h"
#include "experiment/progress.h"

namespace lowbit {

using nlohmann::json;

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
  Progress progress(loop.epochs, batches, loop.interactive);
  using Clock = std::chrono::steady_clock;
  task.model->train();
  for (int64_t epoch = loop.start_epoch; epoch < loop.epochs; ++epoch) {
    LoopState state;
    state.epoch = epoch;
    state.lr = task.schedule ? task.schedule->lr_at(epoch) : task.base_lr;
    task.optimizer->set_lr(state.lr);
    loader.set_epoch(epoch);
    const int64_t first = epoch == loop.start_epoch ? loop.start_batch : 0;
    if (first > 0) state.totals = loop.carried;
    EpochTotals& t = state.totals;
    const EpochTotals before = t;
    progress.start_epoch(epoch + 1, first);
    const auto t0 = Clock::now();
    auto take_time = [&] {
      state.new_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      state.new_images = t.seen - before.seen;
      t.seconds = before.seconds + state.new_seconds;
    };
    for (int64_t b = first; b < batches; ++b) {
      const Batch batch = loader.batch(b);
      if (hooks.before_step) hooks.before_step(batch);
      const Var logits = (*task.model)(Var(batch.images));
      const Var loss = task.loss(logits, batch.labels);
      const float loss_value = loss.data().item();
      LB_CHECK(std::isfinite(loss_value), loop.name, ": loss became ", loss_value, " at epoch ",
               epoch + 1, ", batch ", b, "; ", loop.lr_hint);
      for (const Var& p : model_params) p.zero_grad();
      task.optimizer->zero_grad();
      loss.backward();
      if (hooks.after_backward) hooks.after_backward();
      task.optimizer->step();
      task.model->apply_after_step();
      if (hooks.after_step) hooks.after_step();

      const int64_t n = logits.data().size(0);
      t.correct += count_correct(logits.data(), batch.labels);
      t.seen += n;
      t.loss_sum += double(loss_value) * double(n);
      progress.batch_done(b, t.loss_sum / double(t.seen), t.seen);
      if (hooks.stop_requested && hooks.stop_requested() && b + 1 < batches) {
        state.next_batch = b + 1;
        take_time();
        if (hooks.on_stop) hooks.on_stop(state);
        result.stopped = true;
        return result;
      }
    }
    state.next_batch = batches;
    take_time();

    const double seen = double(std::max<int64_t>(t.seen, 1));
    json line = {{"epoch", epoch + 1},
                 {"lr", state.lr},
                 {"train_loss", t.loss_sum / seen},
                 {"train_accuracy", double(t.correct) / seen},
                 {"val_accuracy", nullptr},
                 {"seconds", t.seconds}};
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
    progress.end_epoch(summary);
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
