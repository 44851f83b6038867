// train_or_reuse (experiment/train_or_reuse.h): the first stage of lowbit compress and
// lowbit tnn-convert trains, resumes or reuses its run folder, and never overwrites a
// finished run of another config.
#include <doctest/doctest.h>

#include <filesystem>

#include "core/serialize.h"
#include "experiment/config.h"
#include "experiment/run_files.h"
#include "experiment/train_or_reuse.h"
#include "experiment/trainer.h"
#include "tests/support/error_of.h"
#include "tests/support/temp_dir.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;
using lowbit::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
// 1,000 MNIST training images (the rest is validation): a second per epoch.
ExperimentConfig tiny(const std::string& out, double lr = 0.003) {
  json j = json::parse(R"({
    "name": "tiny", "seed": 5,
    "data": {"dataset": "mnist", "validation": 59000, "transforms": [{"type": "scale", "range": [0, 1]}]},
    "model": {"layers": [{"type": "flatten"}, {"type": "linear", "in_features": 784, "out_features": 10}]},
    "train": {"epochs": 2, "batch_size": 100, "eval_batch_size": 5000, "optimizer": {"name": "adam", "lr": 0.003}}})");
  j["train"]["optimizer"]["lr"] = lr;
  j["output"] = {{"dir", out}};
  return parse_experiment(j);
}
}  // namespace

TEST_CASE("train_or_reuse: trains, resumes an interrupted run, reuses a finished one, refuses another config") {
  if (!fs::exists("data/mnist")) {
    MESSAGE("data/mnist missing: run scripts/get_data.sh");
    CHECK(false);
    return;
  }
  const TempDir tmp;
  const std::string out = tmp / "run";
  const RunPaths paths(out);
  // An interrupted first attempt: one batch, then a checkpoint.
  {
    Experiment ex(tiny(out));
    REQUIRE(train_experiment(ex, {.out_dir = out, .stop_after_batches = 1}).interrupted);
  }
  REQUIRE(fs::exists(paths.checkpoint));
  REQUIRE_FALSE(fs::exists(paths.metrics));
  // Resumed to the end.
  train_or_reuse(tiny(out), {.source = "tiny.json", .again = "lowbit x"});
  REQUIRE(fs::exists(paths.metrics));
  CHECK(read_log(paths.log).size() == 2);
  const std::string weights = read_file(paths.model);
  // Finished with the same config: loaded, not trained again.
  auto again = train_or_reuse(tiny(out), {.source = "tiny.json", .again = "lowbit x"});
  CHECK(read_log(paths.log).size() == 2);
  CHECK(read_file(paths.model) == weights);
  // ... with the trained weights in the model.
  const NamedTensors saved = load_safetensors(paths.model);
  const NamedTensors loaded = again->model->state_tensors();
  REQUIRE(loaded.size() == saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    CHECK(loaded[i].first == saved[i].first);
    CHECK(loaded[i].second.to_vector() == saved[i].second.to_vector());
  }
  // Another config for that folder: refused, the folder untouched.
  const std::string e =
      error_of([&] { train_or_reuse(tiny(out, 0.01), {.source = "tiny.json", .again = "lowbit x"}); });
  CHECK(contains(e, "holds a finished run of another config than tiny.json"));
  CHECK(read_file(paths.model) == weights);

  // The same folder read back as a finished run (lowbit tnn-convert RUN_DIR, compress's "run"):
  // the trained weights; a missing weights file or a bad config.json named.
  const auto finished = load_finished_run(out);
  CHECK(finished->model->state_tensors()[0].second.to_vector() == saved[0].second.to_vector());
  const std::string bare = tmp / "bare";
  fs::create_directories(bare);
  fs::copy_file(paths.config, bare + "/config.json");
  CHECK(contains(error_of([&] { load_finished_run(bare, "teacher run"); }),
                 "teacher run " + bare + ": not a finished training run (" + bare + "/model.safetensors not found"));
  fs::copy_file(paths.model, bare + "/model.safetensors");
  json bad = load_json_file(bare + "/config.json");
  bad["train"]["epochs"] = -1;
  write_file_atomic(bare + "/config.json", bad.dump());
  CHECK(contains(error_of([&] { load_finished_run(bare); }), bare + "/config.json: "));
}
