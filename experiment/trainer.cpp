#include "experiment/trainer.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "experiment/progress.h"
#include "experiment/run_files.h"
#include "core/check.h"
#include "core/blas_setup.h"
#include "core/format.h"
#include "core/threads.h"
#include "datasets/data_loader.h"
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

  DataLoader loader(ex.train, ex.transforms,
                    {.batch_size = cfg.train.batch_size, .shuffle = true, .augment = true,
                     .seed = cfg.seed});
  const int64_t batches = loader.num_batches();
  Progress progress(cfg.train.epochs, batches, opt.interactive);

  auto write_checkpoint = [&](int64_t epoch, int64_t next_batch) {
    CheckpointState s{epoch, next_batch, book};
    s.extra["module_rngs"] = module_rng_states(*ex.model);
    save_checkpoint(paths.checkpoint, checkpoint_tensors(ex), s);
  };

  int64_t batches_this_process = 0;
  using Clock = std::chrono::steady_clock;
  ex.model->train();
  for (int64_t epoch = pos.epoch; epoch < cfg.train.epochs; ++epoch) {
    const double lr = ex.schedule ? ex.schedule->lr_at(epoch) : ex.base_lr;
    ex.optimizer->set_lr(lr);
    loader.set_epoch(epoch);
    const int64_t first = epoch == pos.epoch ? pos.next_batch : 0;
    if (first == 0) {
      book["epoch_loss_sum"] = 0.0;
      book["epoch_correct"] = 0;
      book["epoch_seen"] = 0;
      book["epoch_seconds"] = 0.0;
    }
    double loss_sum = book["epoch_loss_sum"].get<double>();
    int64_t correct = book["epoch_correct"].get<int64_t>(), seen = book["epoch_seen"].get<int64_t>();
    const double seconds_before = book["epoch_seconds"].get<double>();
    const int64_t seen_before = seen;
    progress.start_epoch(epoch + 1, first);
    const auto t0 = Clock::now();
    for (int64_t b = first; b < batches; ++b) {
      const Batch batch = loader.batch(b);
      const Var logits = (*ex.model)(Var(batch.images));
      const Var loss = ex.loss(logits, batch.labels);
      const float loss_value = loss.data().item();
      LB_CHECK(std::isfinite(loss_value), "train: loss became ", loss_value, " at epoch ", epoch + 1,
               ", batch ", b, "; lower train.optimizer.lr or check the model");
      ex.optimizer->zero_grad();
      loss.backward();
      ex.optimizer->step();
      ex.model->apply_after_step();

      const Tensor& out = logits.data();
      const int64_t n = out.size(0), c = out.size(1);
      for (int64_t i = 0; i < n; ++i) {
        const float* row = out.data() + i * c;
        correct += (std::max_element(row, row + c) - row) == static_cast<int64_t>(batch.labels.data()[i]);
      }
      seen += n;
      loss_sum += double(loss_value) * double(n);
      progress.batch_done(b, loss_sum / double(seen), seen);
      ++batches_this_process;
      const bool stop = g_stop_requested ||
                        (opt.stop_after_batches > 0 && batches_this_process >= opt.stop_after_batches);
      if (stop && b + 1 < batches) {
        book["epoch_loss_sum"] = loss_sum;
        book["epoch_correct"] = correct;
        book["epoch_seen"] = seen;
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        book["epoch_seconds"] = seconds_before + secs;
        book["train_seconds"] = book["train_seconds"].get<double>() + secs;
        book["images"] = book["images"].get<int64_t>() + (seen - seen_before);
        write_checkpoint(epoch, b + 1);
        std::cout << "\ninterrupted at epoch " << epoch + 1 << ", batch " << b + 1
                  << "; checkpoint written to " << paths.checkpoint
                  << "\nresume with: lowbit train <config> --out " << paths.dir << " --resume"
                  << std::endl;
        return {true, {}};
      }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double epoch_seconds = seconds_before + secs;
    book["train_seconds"] = book["train_seconds"].get<double>() + secs;
    book["images"] = book["images"].get<int64_t>() + (seen - seen_before);

    json line = {{"epoch", epoch + 1},
                 {"lr", lr},
                 {"train_loss", loss_sum / double(std::max<int64_t>(seen, 1))},
                 {"train_accuracy", double(correct) / double(std::max<int64_t>(seen, 1))},
                 {"val_accuracy", nullptr},
                 {"seconds", epoch_seconds}};
    line["loader_seconds"] = loader.stats().wait_seconds;  // this process's share (not resumed parts)
    std::string summary = "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg.train.epochs) +
                          "  lr " + format_double("%.3g", lr) + "  loss " + format_double("%.4f", line["train_loss"]) +
                          "  train " + format_double("%.2f%%", 100 * line["train_accuracy"].get<double>());
    if (ex.val.size() > 0) {
      const double val_acc = evaluate(*ex.model, ex.val, ex.transforms, cfg.train.eval_batch_size);
      line["val_accuracy"] = val_acc;
      summary += "  val " + format_double("%.2f%%", 100 * val_acc);
      if (book["best_val_accuracy"].is_null() || val_acc > book["best_val_accuracy"].get<double>()) {
        book["best_val_accuracy"] = val_acc;
        book["best_epoch"] = epoch + 1;
      }
    }
    summary += "  " + format_double("%.1fs", epoch_seconds) + "  " + format_double("%.0f img/s", double(seen) / epoch_seconds);
    progress.end_epoch(summary);
    log.push_back(line);
    write_log(paths.log, log);
    book["epoch_seen"] = 0;
    write_checkpoint(epoch + 1, 0);
    if (g_stop_requested && epoch + 1 < cfg.train.epochs) {
      std::cout << "interrupted after epoch " << epoch + 1 << "; resume with --resume" << std::endl;
      return {true, {}};
    }
  }

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
                  {"threads", num_threads()},
                  {"openblas_core", blas_core_name()}};
  metrics["summary"] = summary_to_json(summarize(*ex.model, ex.image_shape));
  write_json_atomic(paths.metrics, metrics);
  std::cout << "test accuracy " << format_double("%.2f%%", 100 * test_acc) << "  (" << paths.metrics << ")" << std::endl;
  return {false, metrics};
}

}  // namespace lowbit
