#include "experiment/trainer.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "experiment/batch_loop.h"
#include "experiment/run_files.h"
#include "core/check.h"
#include "core/blas_setup.h"
#include "core/collective.h"
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

// FNV-1a, to compare what the processes of a multi-process run hold.
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

uint64_t dataset_hash(const InMemoryDataset& d) {
  const int64_t n = d.size();
  uint64_t h = fnv1a(&n, sizeof n);
  if (n == 0) return h;
  h = fnv1a(d.pixels(0), size_t(d.size() * d.example_numel()), h);
  for (int64_t i = 0; i < d.size(); ++i) {
    const int64_t label = d.label(i);
    h = fnv1a(&label, sizeof label, h);
  }
  return h;
}

uint64_t weights_hash(const Module& model) {
  uint64_t h = fnv1a(nullptr, 0);
  for (const auto& [name, t] : model.state_tensors()) h = fnv1a(t.data(), sizeof(float) * size_t(t.numel()), h);
  return h;
}

// Every process of a multi-process run must hold the same value (what: "config", ...);
// else every process fails naming the ranks that differ from rank 0. One process: nothing
// is computed.
template <typename Value>
void check_same_on_all_processes(const Value& value_of, const std::string& what) {
  Collective& world = collective();
  if (world.size() == 1) return;
  const std::vector<uint64_t> all = world.allgather(value_of());
  std::string differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  LB_CHECK(differ.empty(), "multi-process training: the ", what, " of rank(s) ", differ,
           " differs from rank 0's; every process must run the same config on the same data "
           "(docs/distributed.md)");
}

// best_val.safetensors: the model's parameters and buffers, with the epoch in the metadata.
void save_best_val_weights(const std::string& path, const Module& model, int64_t epoch) {
  save_safetensors(path, model.state_tensors(), {{"format", "pt"}, {"best_val_epoch", std::to_string(epoch)}});
}

// Test accuracy with the weights of best_val.safetensors, which must be of `epoch`; the
// model's own weights are restored afterwards (lowbit compress goes on with them). A run begun
// or resumed by a lowbit that did not keep the file: nullopt, and `why` says so.
std::optional<double> test_accuracy_with_best_val_weights(Experiment& ex, const std::string& path,
                                                          int64_t epoch, std::string& why) {
  if (!std::filesystem::exists(path)) {
    why = path + " is missing (a run begun by a lowbit that did not keep the best-validation weights)";
    return std::nullopt;
  }
  std::map<std::string, std::string> meta;
  const NamedTensors best = load_safetensors(path, &meta);
  if (!meta.count("best_val_epoch") || meta["best_val_epoch"] != std::to_string(epoch)) {
    why = path + " holds the weights of epoch " + (meta.count("best_val_epoch") ? meta["best_val_epoch"] : "?") +
          ", not of the best validation epoch " + std::to_string(epoch) +
          " (part of the run was trained by a lowbit that did not keep them)";
    return std::nullopt;
  }
  NamedTensors final_weights;
  for (const auto& [name, t] : ex.model->state_tensors()) final_weights.emplace_back(name, t.clone());
  ex.model->load_state_tensors(best, path);
  const double acc = evaluate(*ex.model, ex.test, ex.transforms, ex.config.train.eval_batch_size);
  ex.model->load_state_tensors(final_weights, "the final weights");
  return acc;
}

}  // namespace

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }

TrainOutcome train_experiment(Experiment& ex, const TrainOptions& opt) {
  namespace fs = std::filesystem;
  const ExperimentConfig& cfg = ex.config;
  const RunPaths paths(opt.out_dir);
  g_stop_requested = false;
  // Multi-process (docs/distributed.md): every process trains; rank 0 alone prints and writes
  // the run folder. They must agree on the config and the data before anything runs.
  Collective& world = collective();
  const bool writes = world.rank() == 0;
  const auto bytes_hash = [](const std::string& s) { return fnv1a(s.data(), s.size()); };
  check_same_on_all_processes([&] { return bytes_hash(cfg.resolved.dump()); }, "config");
  check_same_on_all_processes([&] { return dataset_hash(ex.train) ^ (dataset_hash(ex.val) * 31); },
                              "training data");

  // ---- the run folder: fresh, or resumed from its checkpoint
  CheckpointState pos;
  json book = {{"best_val_accuracy", nullptr}, {"best_epoch", nullptr}, {"train_seconds", 0.0},
               {"images", 0}, {"epoch_loss_sum", 0.0}, {"epoch_correct", 0}, {"epoch_seen", 0},
               {"epoch_seconds", 0.0}};
  std::vector<json> log;
  if (opt.resume) {
    LB_CHECK(fs::exists(paths.checkpoint), paths.checkpoint,
             ": no checkpoint to resume from (was the run started with this --out folder?)");
    // What matters is the run (model, data, optimizer, seed, ...), not where the folder lives.
    const std::vector<std::string> differ =
        run_config_differences(load_json_file(paths.config), cfg.resolved);
    if (!differ.empty()) {
      std::string keys;
      for (size_t i = 0; i < differ.size() && i < 10; ++i) keys += (i ? ", " : "") + differ[i];
      if (differ.size() > 10) keys += ", ... (" + std::to_string(differ.size()) + " in all)";
      LB_FAIL(paths.config, ": the run was started with a different config (differs in ", keys,
              "); resume with the same config and --set flags, or start a new run with another "
              "--out");
    }
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
    if (writes)
      std::cout << "resuming " << paths.dir << " at epoch " << pos.epoch + 1 << ", batch "
              << pos.next_batch << std::endl;
  } else {
    LB_CHECK(!fs::exists(paths.checkpoint), paths.dir,
             ": already holds a run (checkpoint.safetensors); pass --resume to continue it or "
             "--out to choose another folder");
    if (writes) {
      fs::create_directories(paths.dir);
      write_json_atomic(paths.config, cfg.resolved);
      write_log(paths.log, {});
    }
  }
  check_same_on_all_processes(
      [&] { return uint64_t(pos.epoch) * 1000003u + uint64_t(pos.next_batch); },
      "resume position (checkpoint)");

  auto write_checkpoint = [&](int64_t epoch, int64_t next_batch) {
    if (!writes) return;
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
  loop.shards = cfg.train.shards;
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
    if (writes)
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
        // Before this epoch's checkpoint: a kill in between re-runs the epoch on resume, which
        // rewrites the same weights (resuming is bit-identical).
        if (writes) save_best_val_weights(paths.best_val, *ex.model, st.epoch + 1);
      }
    }
    log.push_back(line);
    if (writes) write_log(paths.log, log);
    book["epoch_seen"] = 0;
    write_checkpoint(st.epoch + 1, 0);
    if (writes && g_stop_requested && st.epoch + 1 < cfg.train.epochs)
      std::cout << "interrupted after epoch " << st.epoch + 1 << "; resume with --resume" << std::endl;
    return g_stop_requested.load();
  };
  if (run_batch_loop(task, loop, hooks).stopped) return {true, {}};

  // ---- final files
  // The processes' weights must still be the same (same sums, same updates): checked once.
  check_same_on_all_processes([&] { return weights_hash(*ex.model); }, "trained weights");
  if (writes) save_safetensors(paths.model, ex.model->state_tensors(), {{"format", "pt"}});
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
  if (world.size() > 1 || cfg.train.shards > 0) {
    // Rank 0's time in collective calls, per training step of this process (resumed runs:
    // since the resume).
    const double steps = double(std::max<int64_t>(batches_this_process, 1));
    metrics["distributed"] = {
        {"processes", world.size()},
        {"shards", cfg.train.shards > 0 ? json(cfg.train.shards) : json(nullptr)},
        {"steps", batches_this_process},
        {"gradient_allreduce_seconds_per_step", world.time(CommKind::kGradients).seconds / steps},
        {"batch_norm_sync_seconds_per_step", world.time(CommKind::kBatchNorm).seconds / steps},
        {"batch_norm_sync_calls_per_step", double(world.time(CommKind::kBatchNorm).calls) / steps},
        {"other_collective_seconds_per_step", world.time(CommKind::kOther).seconds / steps}};
  }
  if (!writes) return {false, metrics};
  // The BNN paper's protocol: the test accuracy of the best-validation epoch's weights.
  std::optional<double> test_at_best;
  std::string why_not = "no validation set (data.validation = 0)";
  if (!book["best_epoch"].is_null()) {
    const int64_t best_epoch = book["best_epoch"].get<int64_t>();
    test_at_best = best_epoch == cfg.train.epochs
                       ? test_acc  // the final weights are the best-validation ones
                       : test_accuracy_with_best_val_weights(ex, paths.best_val, best_epoch, why_not);
  }
  metrics["best_val_epoch"] = book["best_epoch"];
  metrics["test_accuracy_at_best_val"] = test_at_best ? json(*test_at_best) : json(nullptr);
  metrics["test_error_percent_at_best_val"] = test_at_best ? json(100.0 * (1.0 - *test_at_best)) : json(nullptr);
  if (!test_at_best) metrics["test_accuracy_at_best_val_note"] = why_not;
  write_json_atomic(paths.metrics, metrics);
  std::cout << "test accuracy " << format_double("%.2f%%", 100 * test_acc);
  if (test_at_best)
    std::cout << " (at the best validation epoch " << book["best_epoch"].get<int64_t>() << ": "
              << format_double("%.2f%%", 100 * *test_at_best) << ")";
  std::cout << "  (" << paths.metrics << ")" << std::endl;
  return {false, metrics};
}

}  // namespace lowbit
