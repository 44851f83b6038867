#include "experiment/trainer.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "experiment/batch_loop.h"
#include "experiment/run_files.h"
#include "core/check.h"
#include "core/format.h"
#include "core/threads.h"
#include "quant/summary.h"

namespace lowbit {

using nlohmann::json;

namespace {

std::atomic<bool> g_stop_requested{false};

extern "C" void on_sigint(int) {
  g_stop_requested = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

json rng_state_json(const Rng& rng) {
  json s = json::array();
  for (uint64_t w : rng.state()) s.push_back(std::to_string(w));  // u64 kept exact as text
  return s;
}

void set_rng_state(Rng& rng, const json& s) {
  Rng::State st{};
  for (size_t i = 0; i < st.size(); ++i) st[i] = std::stoull(s.at(i).get<std::string>());
  rng.set_state(st);
}

// Checkpoint tensors: "model.<name>" and "optim.<name>".
NamedTensors checkpoint_tensors(const Experiment& ex) {
  NamedTensors all;
  append_with_prefix(all, ex.model->state_tensors(), "model.");
  for (auto& entry : ex.optimizer->state_tensors("optim.")) all.push_back(std::move(entry));
  return all;
}

json module_rng_states(Module& model) {
  json out = json::object();
  for (const auto& [name, rng] : model.named_rngs()) out[name] = rng_state_json(*rng);
  return out;
}

void restore_module_rngs(Module& model, const json& states, const std::string& source) {
  for (const auto& [name, rng] : model.named_rngs()) {
    LB_CHECK(states.contains(name), source, ": checkpoint has no state for generator \"", name, "\"");
    set_rng_state(*rng, states.at(name));
  }
}

}  // namespace

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }

TrainOutcome train_experiment(Experiment& ex, const TrainOptions& opt) {
  namespace fs = std::filesystem;
  const ExperimentConfig& cfg = ex.config;
  const RunPaths paths(opt.out_dir);
  g_stop_requested = false;

  // ---- the run folder: fresh, or resumed from its checkpoint
  CheckpointState pos;
  json book = {{"best_val_accuracy", nullptr}, {"best_epoch", nullptr}, {"train_seconds", 0.0},
               {"images", 0}, {"epoch_loss_sum", 0.0}, {"epoch_correct", 0}, {"epoch_seen", 0},
               {"epoch_seconds", 0.0}};
  std::vector<json> log;
  if (opt.resume) {
    LB_CHECK(fs::exists(paths.checkpoint), paths.checkpoint,
             ": no checkpoint to resume from (was the run started with this --out folder?)");
    const json stored = load_json_file(paths.config);
    LB_CHECK(stored == cfg.resolved, paths.config,
             ": the run was started with a different config; resume with the same config and "
             "--set flags, or start a new run with another --out");
    const NamedTensors tensors = load_checkpoint(paths.checkpoint, pos);
    ex.model->load_state_tensors(with_prefix_removed(tensors, "model."), paths.checkpoint);
    ex.optimizer->load_state_tensors(tensors, paths.checkpoint, "optim.");
    try {
      restore_module_rngs(*ex.model, pos.extra.at("module_rngs"), paths.checkpoint);
      for (const char* k : {"best_val_accuracy", "best_epoch", "train_seconds", "images",
                            "epoch_loss_sum", "epoch_correct", "epoch_seen", "epoch_seconds"})
        book[k] = pos.extra.at(k);
    } catch (const json::exception& e) {
      LB_FAIL(paths.checkpoint, ": bad checkpoint bookkeeping: ", e.what());
    }
    for (const json& line : read_log(paths.log))
      if (line.value("epoch", int64_t{0}) <= pos.epoch) log.push_back(line);
    LB_CHECK(pos.epoch < cfg.train.epochs || pos.next_batch == 0, paths.checkpoint,
             ": inconsistent position");
    std::cout << "resuming " << paths.dir << " at epoch " << pos.epoch + 1 << ", batch "
              << pos.next_batch << std::endl;
  } else {
    LB_CHECK(!fs::exists(paths.checkpoint), paths.dir,
             ": already holds a run (checkpoint.safetensors); pass --resume to continue it or "
             "--out to choose another folder");
    fs::create_directories(paths.dir);
    write_json_atomic(paths.config, cfg.resolved);
    write_log(paths.log, {});
  }

  auto write_checkpoint = [&](int64_t epoch, int64_t next_batch) {
    CheckpointState s{epoch, next_batch, book};
    s.extra["module_rngs"] = module_rng_states(*ex.model);
    save_checkpoint(paths.checkpoint, checkpoint_tensors(ex), s);
  };
  // Time and images of this process go into the run's totals at each epoch end or stop.
  auto add_to_book = [&](const LoopState& st) {
    book["train_seconds"] = book["train_seconds"].get<double>() + st.new_seconds;
    book["images"] = book["images"].get<int64_t>() + st.new_images;
  };

  const TrainingTask task{.model = ex.model.get(),
                          .optimizer = ex.optimizer.get(),
                          .schedule = ex.schedule.get(),
                          .base_lr = ex.base_lr,
                          .loss = [&](const Var& logits, const Tensor& labels) { return ex.loss(logits, labels); },
                          .train = &ex.train,
                          .transforms = &ex.transforms};
  BatchLoop loop;
  loop.name = "train";
  loop.lr_hint = "lower train.optimizer.lr or check the model";
  loop.epochs = cfg.train.epochs;
  loop.batch_size = cfg.train.batch_size;
  loop.seed = cfg.seed;
  loop.interactive = opt.interactive;
  loop.start_epoch = pos.epoch;
  loop.start_batch = pos.next_batch;
  if (pos.next_batch > 0)
    loop.carried = {.loss_sum = book["epoch_loss_sum"].get<double>(),
                    .correct = book["epoch_correct"].get<int64_t>(),
                    .seen = book["epoch_seen"].get<int64_t>(),
                    .seconds = book["epoch_seconds"].get<double>()};

  int64_t batches_this_process = 0;
  BatchLoopHooks hooks;
  hooks.stop_requested = [&] {
    ++batches_this_process;
    return g_stop_requested ||
           (opt.stop_after_batches > 0 && batches_this_process >= opt.stop_after_batches);
  };
  hooks.on_stop = [&](const LoopState& st) {
    book["epoch_loss_sum"] = st.totals.loss_sum;
    book["epoch_correct"] = st.totals.correct;
    book["epoch_seen"] = st.totals.seen;
    book["epoch_seconds"] = st.totals.seconds;
    add_to_book(st);
    write_checkpoint(st.epoch, st.next_batch);
    std::cout << "\ninterrupted at epoch " << st.epoch + 1 << ", batch " << st.next_batch
              << "; checkpoint written to " << paths.checkpoint
              << "\nresume with: lowbit train <config> --out " << paths.dir << " --resume"
              << std::endl;
  };
  if (ex.val.size() > 0)
    hooks.validate = [&] { return evaluate(*ex.model, ex.val, ex.transforms, cfg.train.eval_batch_size); };
  hooks.end_of_epoch = [&](const LoopState& st, json& line) {
    add_to_book(st);
    if (!line["val_accuracy"].is_null()) {
      const double val_acc = line["val_accuracy"].get<double>();
      if (book["best_val_accuracy"].is_null() || val_acc > book["best_val_accuracy"].get<double>()) {
        book["best_val_accuracy"] = val_acc;
        book["best_epoch"] = st.epoch + 1;
      }
    }
    log.push_back(line);
    write_log(paths.log, log);
    book["epoch_seen"] = 0;
    write_checkpoint(st.epoch + 1, 0);
    if (g_stop_requested && st.epoch + 1 < cfg.train.epochs)
      std::cout << "interrupted after epoch " << st.epoch + 1 << "; resume with --resume" << std::endl;
    return g_stop_requested.load();
  };
  if (run_batch_loop(task, loop, hooks).stopped) return {true, {}};

  // ---- final files
  save_safetensors(paths.model, ex.model->state_tensors(), {{"format", "pt"}});
  const double test_acc = evaluate(*ex.model, ex.test, ex.transforms, cfg.train.eval_batch_size);
  const double train_seconds = book["train_seconds"].get<double>();
  json metrics = {{"test_accuracy", test_acc},
                  {"test_error_percent", 100.0 * (1.0 - test_acc)},
                  {"best_val_accuracy", book["best_val_accuracy"]},
                  {"best_epoch", book["best_epoch"]},
                  {"epochs", cfg.train.epochs},
                  {"params", ex.model->num_parameters()},
                  {"train_seconds", train_seconds},
                  {"images_per_second", train_seconds > 0 ? double(book["images"].get<int64_t>()) / train_seconds : 0.0},
                  {"threads", num_threads()}};
  metrics["summary"] = summary_to_json(summarize(*ex.model, ex.image_shape));
  write_json_atomic(paths.metrics, metrics);
  std::cout << "test accuracy " << format_double("%.2f%%", 100 * test_acc) << "  (" << paths.metrics << ")" << std::endl;
  return {false, metrics};
}

}  // namespace lowbit
