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
