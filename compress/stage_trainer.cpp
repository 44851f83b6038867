#include "compress/stage_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "experiment/progress.h"
#include "core/check.h"
#include "core/format.h"
#include "datasets/data_loader.h"

namespace lowbit {

using nlohmann::json;

// The body follows train_experiment's batch loop (experiment/trainer.cpp) step for
// step; the hooks are the only addition. TODO(issue 5): once train_experiment takes
// StepHooks, call it instead.
std::vector<json> train_stage(Experiment& ex, Optimizer& opt, const LrSchedule* schedule,
                              const StageRun& run, const StepHooks& hooks) {
  std::vector<json> log;
  if (run.epochs <= 0) return log;
  DataLoader loader(
      ex.train, ex.transforms,
      {.batch_size = run.batch_size, .shuffle = true, .augment = true, .seed = run.seed});
  const int64_t batches = loader.num_batches();
  const std::vector<Var> model_params = ex.model->parameters();
  const double base_lr = opt.lr();
  Progress progress(run.epochs, batches, run.interactive);
  using Clock = std::chrono::steady_clock;
  ex.model->train();
  for (int64_t epoch = 0; epoch < run.epochs; ++epoch) {
    const double lr = schedule ? schedule->lr_at(epoch) : base_lr;
    opt.set_lr(lr);
    loader.set_epoch(epoch);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    progress.start_epoch(epoch + 1);
    const auto t0 = Clock::now();
    for (int64_t b = 0; b < batches; ++b) {
      const Batch batch = loader.batch(b);
      const Var logits = (*ex.model)(Var(batch.images));
      const Var loss = ex.loss(logits, batch.labels);
      const float loss_value = loss.data().item();
      LB_CHECK(std::isfinite(loss_value), run.name, ": loss became ", loss_value, " at epoch ",
               epoch + 1, ", batch ", b, "; lower the stage's optimizer lr");
      for (const Var& p : model_params) p.zero_grad();
      opt.zero_grad();
      loss.backward();
      if (hooks.after_backward) hooks.after_backward();
      opt.step();
      ex.model->apply_after_step();
      if (hooks.after_step) hooks.after_step();

      const Tensor& o = logits.data();
      const int64_t n = o.size(0), c = o.size(1);
      for (int64_t i = 0; i < n; ++i) {
        const float* row = o.data() + i * c;
        correct +=
            (std::max_element(row, row + c) - row) == static_cast<int64_t>(batch.labels.data()[i]);
      }
      seen += n;
      loss_sum += double(loss_value) * double(n);
      progress.batch_done(b, loss_sum / double(seen), seen);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    json line = {{"stage", run.name},
                 {"epoch", epoch + 1},
                 {"lr", lr},
                 {"train_loss", loss_sum / double(std::max<int64_t>(seen, 1))},
                 {"train_accuracy", double(correct) / double(std::max<int64_t>(seen, 1))},
                 {"val_accuracy", nullptr},
                 {"seconds", secs}};
    std::string summary = run.name + " epoch " + std::to_string(epoch + 1) + "/" +
                          std::to_string(run.epochs) + "  lr " + format_double("%.3g", lr) + "  loss " +
                          format_double("%.4f", line["train_loss"]) + "  train " +
                          format_double("%.2f%%", 100 * line["train_accuracy"].get<double>());
    if (ex.val.size() > 0) {
      const double val_acc =
          evaluate(*ex.model, ex.val, ex.transforms, ex.config.train.eval_batch_size);
      line["val_accuracy"] = val_acc;
      summary += "  val " + format_double("%.2f%%", 100 * val_acc);
    }
    summary += "  " + format_double("%.1fs", secs);
    progress.end_epoch(summary);
    log.push_back(std::move(line));
  }
  return log;
}

}  // namespace lowbit
