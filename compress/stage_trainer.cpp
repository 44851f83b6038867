#include "compress/stage_trainer.h"

#include "experiment/batch_loop.h"

namespace lowbit {

using nlohmann::json;

std::vector<json> train_stage(Experiment& ex, Optimizer& opt, const LrSchedule* schedule,
                              const StageRun& run, const StepHooks& hooks) {
  const TrainingTask task{.model = ex.model.get(),
                          .optimizer = &opt,
                          .schedule = schedule,
                          .base_lr = opt.lr(),
                          .loss = [&](const Var& logits, const Tensor& labels) { return ex.loss(logits, labels); },
                          .train = &ex.train,
                          .transforms = &ex.transforms};
  BatchLoop loop;
  loop.name = run.name;
  loop.lr_hint = "lower the stage's optimizer lr";
  loop.epochs = run.epochs;
  loop.batch_size = run.batch_size;
  loop.seed = run.seed;
  loop.interactive = run.interactive;
  loop.label_lines = true;
  BatchLoopHooks loop_hooks;
  loop_hooks.after_backward = hooks.after_backward;
  loop_hooks.after_step = hooks.after_step;
  if (ex.val.size() > 0)
    loop_hooks.validate = [&] {
      return evaluate(*ex.model, ex.val, ex.transforms, ex.config.train.eval_batch_size);
    };
  return run_batch_loop(task, loop, loop_hooks).log;
}

}  // namespace lowbit
