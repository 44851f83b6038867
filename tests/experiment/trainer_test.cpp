#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

#include <filesystem>

#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/run_files.h"
#include "experiment/trainer.h"
#include "core/check.h"
#include "core/serialize.h"

using namespace lowbit;
using lowbit::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
// A small run on real MNIST: 1,000 training images (the rest held out as validation),
// dropout so that a module Rng must be restored on resume.
json tiny_config() {
  return json::parse(R"({
    "name": "tiny", "seed": 5,
    "data": {"dataset": "mnist", "validation": 59000, "transforms": [{"type": "scale", "range": [0, 1]}]},
    "model": {"layers": [{"type": "flatten"},
                         {"type": "linear", "in_features": 784, "out_features": 32},
                         {"type": "relu"}, {"type": "dropout", "p": 0.2},
                         {"type": "linear", "in_features": 32, "out_features": 10}]},
    "train": {"epochs": 3, "batch_size": 100, "eval_batch_size": 5000,
              "optimizer": {"name": "adam", "lr": 0.003},
              "lr_schedule": {"name": "step", "step_size": 1, "gamma": 0.5}}})");
}
bool have_mnist() { return fs::exists("data/mnist"); }
}  // namespace

TEST_CASE("trainer: interrupted + resumed run ends with bit-identical weights") {
  if (!have_mnist()) {
    MESSAGE("data/mnist missing: run scripts/get_data.sh; resume test not run");
    CHECK(false);  // CI fetches the data; its absence is a failure, not a skip
    return;
  }
  const TempDir tmp;
  const std::string a = tmp / "run_a", b = tmp / "run_b";
  const ExperimentConfig cfg = parse_experiment(tiny_config());

  Experiment full(cfg);
  const TrainOutcome done = train_experiment(full, {.out_dir = a});
  REQUIRE_FALSE(done.interrupted);
  CHECK(done.metrics["test_accuracy"].get<double>() > 0.5);  // 30 steps on 1,000 images; chance is 0.1

  {  // stop mid-epoch 1 (batch 4 of 10), then after epoch 2, then finish
    Experiment part(cfg);
    CHECK(train_experiment(part, {.out_dir = b, .stop_after_batches = 4}).interrupted);
  }
  {
    Experiment part(cfg);
    CHECK(train_experiment(part, {.out_dir = b, .resume = true, .stop_after_batches = 10}).interrupted);
  }
  // A copy of the interrupted folder elsewhere resumes too (where it lives is not part of the
  // run) and ends with the same weights.
  const std::string moved = tmp / "moved_run";
  fs::copy(b, moved, fs::copy_options::recursive);
  {
    Experiment rest_moved(cfg);
    REQUIRE_FALSE(train_experiment(rest_moved, {.out_dir = moved, .resume = true}).interrupted);
    CHECK(read_file(moved + "/model.safetensors") == read_file(a + "/model.safetensors"));
  }
  Experiment rest(cfg);
  const TrainOutcome resumed = train_experiment(rest, {.out_dir = b, .resume = true});
  REQUIRE_FALSE(resumed.interrupted);

  const NamedTensors wa = load_safetensors(a + "/model.safetensors");
  const NamedTensors wb = load_safetensors(b + "/model.safetensors");
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) {
    CHECK(wa[i].first == wb[i].first);
    CHECK(wa[i].second.to_vector() == wb[i].second.to_vector());
  }
  CHECK(resumed.metrics["test_accuracy"] == done.metrics["test_accuracy"]);
  const auto log_a = read_log(a + "/log.jsonl"), log_b = read_log(b + "/log.jsonl");
  REQUIRE(log_a.size() == 3);
  REQUIRE(log_b.size() == 3);
  for (size_t e = 0; e < 3; ++e) {
    CHECK(log_a[e]["train_loss"] == log_b[e]["train_loss"]);
    CHECK(log_a[e]["val_accuracy"] == log_b[e]["val_accuracy"]);
  }

  // A fresh run into a folder holding a run is refused; so is resuming with another config.
  Experiment again(cfg);
  CHECK_THROWS_WITH_AS(train_experiment(again, {.out_dir = a}), doctest::Contains("--resume"), Error);
  json other = tiny_config();
  other["train"]["epochs"] = 4;
  Experiment changed(parse_experiment(other));
  CHECK_THROWS_WITH_AS(train_experiment(changed, {.out_dir = a, .resume = true}),
                       doctest::Contains("different config (differs in train.epochs"), Error);

  // A corrupt checkpoint gives an error naming the file; the run folder is untouched.
  const std::string ckpt = b + "/checkpoint.safetensors";
  const std::string bytes = read_file(ckpt);
  write_file_atomic(ckpt, bytes.substr(0, bytes.size() / 2));
  Experiment broken(cfg);
  CHECK_THROWS_WITH_AS(train_experiment(broken, {.out_dir = b, .resume = true}),
                       doctest::Contains("checkpoint.safetensors"), Error);
  CHECK(read_file(b + "/model.safetensors") == read_file(b + "/model.safetensors"));
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST_CASE("trainer: test accuracy at the best validation epoch, kept across resume") {
  if (!have_mnist()) {
    MESSAGE("data/mnist missing: run scripts/get_data.sh; best-validation test not run");
    CHECK(false);
    return;
  }
  const TempDir tmp;
  // The learning rate grows 40x per epoch: epoch 3 (lr 4.8) wrecks what epochs 1-2 learned,
  // so the best validation epoch is not the last one.
  json j = tiny_config();
  j["train"]["lr_schedule"]["gamma"] = 40.0;
  const ExperimentConfig cfg = parse_experiment(j);
  const std::string a = tmp / "a", b = tmp / "b", old = tmp / "old";
  Experiment full(cfg);
  const json m = train_experiment(full, {.out_dir = a}).metrics;
  const int64_t best = m["best_val_epoch"].get<int64_t>();
  REQUIRE(best < 3);
  CHECK(m["best_epoch"] == best);
  CHECK(m["test_accuracy_at_best_val"].get<double>() != m["test_accuracy"].get<double>());
  CHECK(m["test_error_percent_at_best_val"].get<double>() ==
        doctest::Approx(100.0 * (1.0 - m["test_accuracy_at_best_val"].get<double>())));
  // The model keeps its final weights (lowbit compress goes on with them).
  const NamedTensors final_w = load_safetensors(a + "/model.safetensors");
  const NamedTensors now = full.model->state_tensors();
  for (size_t i = 0; i < now.size(); ++i) CHECK(now[i].second.to_vector() == final_w[i].second.to_vector());

  // The same number from a run that simply stops at the best epoch (the schedule depends on
  // the epoch only, so its weights are those of the longer run's best epoch).
  json shorter = j;
  shorter["train"]["epochs"] = best;
  Experiment stop_at_best(parse_experiment(shorter));
  const json ms = train_experiment(stop_at_best, {.out_dir = tmp / "short"}).metrics;
  CHECK(ms["test_accuracy"] == m["test_accuracy_at_best_val"]);
  CHECK(ms["test_accuracy_at_best_val"] == ms["test_accuracy"]);  // best = last: no second pass

  // Interrupted mid-epoch 2, then in epoch 3, resumed: the same number.
  {
    Experiment part(cfg);
    CHECK(train_experiment(part, {.out_dir = b, .stop_after_batches = 14}).interrupted);
  }
  // kill -9 after best_val.safetensors of a later epoch was written but before that epoch's
  // checkpoint: a copy of the folder now, with the finished run's best file put in.
  const std::string killed = tmp / "killed";
  fs::copy(b, killed, fs::copy_options::recursive);
  fs::copy_file(a + "/best_val.safetensors", killed + "/best_val.safetensors",
                fs::copy_options::overwrite_existing);
  {
    Experiment part(cfg);
    CHECK(train_experiment(part, {.out_dir = b, .resume = true, .stop_after_batches = 12}).interrupted);
  }
  Experiment rest(cfg);
  const json mb = train_experiment(rest, {.out_dir = b, .resume = true}).metrics;
  CHECK(mb["test_accuracy_at_best_val"] == m["test_accuracy_at_best_val"]);
  CHECK(mb["best_val_epoch"] == best);
  Experiment after_kill(cfg);
  const json mk = train_experiment(after_kill, {.out_dir = killed, .resume = true}).metrics;
  CHECK(mk["test_accuracy_at_best_val"] == m["test_accuracy_at_best_val"]);

  // A run folder without the best file (begun by a lowbit that did not keep it): null and a
  // note, no failure.
  {
    Experiment part(cfg);
    CHECK(train_experiment(part, {.out_dir = old, .stop_after_batches = 25}).interrupted);  // in epoch 3
  }
  fs::remove(old + "/best_val.safetensors");
  Experiment finish_old(cfg);
  const json mo = train_experiment(finish_old, {.out_dir = old, .resume = true}).metrics;
  CHECK(mo["test_accuracy"] == m["test_accuracy"]);
  CHECK(mo["test_accuracy_at_best_val"].is_null());
  CHECK(mo["test_accuracy_at_best_val_note"].get<std::string>().find("is missing") != std::string::npos);
}
