// Experiment: every experiment file builds without data; the whole config is built before
// any data is read; config.json is the resolved config and re-running it is the same run;
// the loss registry sweep.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/serialize.h"
#include "datasets/registry.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/loss_registry.h"
#include "experiment/run_files.h"
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

// A data set made up in memory (so a test trains without files): 1x4x4 images, 3 classes,
// pixels a function of the index and the class.
class SyntheticDataset final : public DatasetSource {
 public:
  std::string_view name() const override { return "synthetic_for_test"; }
  std::string default_root() const override { return "nowhere"; }
  Shape image_shape() const override { return {1, 4, 4}; }
  int64_t num_classes() const override { return 3; }

 protected:
  InMemoryDataset read(const std::string&, const std::string& split) const override {
    const int64_t n = split == "train" ? 60 : 30;
    std::vector<uint8_t> pixels;
    std::vector<int32_t> labels;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t label = static_cast<int32_t>(i % 3);
      labels.push_back(label);
      for (int64_t k = 0; k < 16; ++k)
        pixels.push_back(static_cast<uint8_t>((k % 4 == label ? 200 : 20) + (i * 7 + k) % 30));
    }
    return InMemoryDataset(std::move(pixels), std::move(labels), {1, 4, 4}, {"a", "b", "c"});
  }
};

void register_synthetic() {
  static const bool done = [] {
    register_dataset("synthetic_for_test", [](const json& spec, const std::string& path) {
      JsonArgs a(spec, path);
      a.allow({"name"});
      a.finish();
      return std::make_shared<const SyntheticDataset>();
    });
    return true;
  }();
  (void)done;
}

std::vector<std::string> experiment_files() {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator("experiments"))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

void check_same_state(Module& a, Module& b) {
  const NamedTensors sa = a.state_tensors(), sb = b.state_tensors();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    CHECK(sa[i].first == sb[i].first);
    CHECK(sa[i].second.to_vector() == sb[i].second.to_vector());
  }
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace

TEST_CASE("every experiment file builds without its data, and its resolved config is a fixed point") {
  const std::vector<std::string> files = experiment_files();
  REQUIRE(files.size() > 10);
  for (const std::string& file : files) {
    CAPTURE(file);
    const json raw = load_json_file(file);
    if (!raw.contains("model")) continue;  // a compress config (compress/compress_config.h)
    Experiment a(parse_experiment(raw), /*load_data=*/false);
    CHECK(a.train.size() == 0);  // nothing read
    const json& resolved = a.config.resolved;
    // Rebuilt from its resolved form: the same config and the same initial weights.
    Experiment b(parse_experiment(resolved), /*load_data=*/false);
    CHECK(b.config.resolved == resolved);
    CHECK(parse_experiment(resolved).resolved == resolved);
    check_same_state(*a.model, *b.model);
    // Defaults are written out.
    CHECK(resolved["train"]["optimizer"].contains("lr"));
    CHECK(resolved["data"]["transforms"].is_array());
    for (const json& t : resolved["data"]["transforms"]) CHECK(t.is_object());
  }
}

TEST_CASE("the resolved config fills in the defaults that ran") {
  const json raw = json::parse(R"({
    "name": "t", "data": {"dataset": "mnist", "transforms": ["horizontal_flip", {"type": "scale"}]},
    "model": {"layers": ["flatten", {"type": "linear", "in_features": 784, "out_features": 10}]},
    "train": {"epochs": 2, "optimizer": "adam", "lr_schedule": "cosine", "loss": {"name": "squared_hinge"}}})");
  const Experiment ex(parse_experiment(raw), /*load_data=*/false);
  const json& r = ex.config.resolved;
  CHECK(r["data"]["dataset"] == "mnist");
  CHECK(r["data"]["root"] == "data/mnist");
  CHECK(r["data"]["transforms"] == json::parse(R"([{"type": "horizontal_flip", "p": 0.5},
                                                   {"type": "scale", "range": [0, 1]}])"));
  CHECK(r["model"]["layers"][0] == json{{"type", "flatten"}});
  CHECK(r["model"]["layers"][1]["bias"] == true);
  CHECK(r["train"]["optimizer"]["name"] == "adam");
  CHECK(r["train"]["optimizer"]["beta2"] == 0.999);
  CHECK(r["train"]["lr_schedule"] == json{{"name", "cosine"}, {"lr_min", 0.0}});
  CHECK(r["train"]["loss"] == "squared_hinge");
  CHECK(ex.image_shape == Shape{1, 28, 28});
  CHECK(ex.num_classes == 10);
  // Two spellings of one run resolve alike (what compress compares with a finished run).
  CHECK(resolve_experiment(raw) == r);
  CHECK(resolve_experiment(r) == r);
  json other = raw;
  other["train"]["optimizer"] = {{"name", "adam"}, {"lr", 0.002}};
  CHECK(resolve_experiment(other) != r);
}

TEST_CASE("a bad model is reported before any data is read or cached") {
  TempDir dir;
  // An image folder that loading would decode and cache.
  fs::create_directories(dir / "train/a");
  fs::create_directories(dir / "train/b");
  json raw = json::parse(R"({
    "name": "t",
    "data": {"dataset": {"name": "image_folder", "image_shape": [3, 8, 8], "num_classes": 2}},
    "model": {"layers": [{"type": "flatten"}, {"type": "lineer", "in_features": 192, "out_features": 2}]},
    "train": {"epochs": 1, "optimizer": {"name": "sgd", "lr": 0.1}}})");
  raw["data"]["root"] = dir.path();
  const ExperimentConfig cfg = parse_experiment(raw);
  const std::string e = error_of([&] { Experiment ex(cfg); });
  CHECK(e.starts_with("model.layers[1].type: unknown layer type \"lineer\" (did you mean \"linear\"?)"));
  CHECK_FALSE(fs::exists(dir / "train.lowbit-cache"));
  std::vector<std::string> left;
  for (const auto& f : fs::recursive_directory_iterator(dir.path())) left.push_back(f.path().string());
  CHECK(left.size() == 3);  // train, train/a, train/b: nothing added
  // A root that does not exist: the optimizer error, not a missing file.
  raw["data"]["root"] = dir / "does/not/exist";
  raw["model"]["layers"][1]["type"] = "linear";
  raw["train"]["optimizer"]["name"] = "sgdd";
  const std::string e2 = error_of([&] { Experiment ex(parse_experiment(raw)); });
  CHECK(e2.starts_with("train.optimizer.name: unknown optimizer \"sgdd\" (did you mean \"sgd\"?)"));
  CHECK_FALSE(fs::exists(dir / "does"));
  // The loss and the transforms likewise.
  raw["train"]["optimizer"]["name"] = "sgd";
  raw["train"]["loss"] = "hinge";
  CHECK(error_of([&] { Experiment ex(parse_experiment(raw)); }).starts_with("train.loss: unknown loss \"hinge\""));
  raw["train"].erase("loss");
  raw["data"]["transforms"] = json::parse(R"([{"type": "random_crop", "size": 20}])");
  CHECK(error_of([&] { Experiment ex(parse_experiment(raw)); }).starts_with("data.transforms: transform 0 (random_crop): size 20"));
  // With everything right, loading reads the (empty) folder and says so.
  raw["data"].erase("transforms");
  CHECK(error_of([&] { Experiment ex(parse_experiment(raw)); }) != "(no error)");
}

TEST_CASE("data set errors in the config name the JSON path") {
  json raw = json::parse(R"({"name": "t", "data": {"dataset": "image_folder"},
    "model": {"layers": ["flatten"]}, "train": {"epochs": 1, "optimizer": "adam"}})");
  CHECK(error_of([&] { parse_experiment(raw); }).starts_with("data.dataset.image_shape: missing required key"));
  raw["data"]["dataset"] = json::parse(R"({"name": "image_folder", "image_shape": [1, 2, 2], "num_classes": 2})");
  CHECK(error_of([&] { parse_experiment(raw); }).starts_with("data.root: required for the data set \"image_folder\""));
  raw["data"]["dataset"] = "cifar100";
  CHECK(error_of([&] { parse_experiment(raw); }).starts_with("data.dataset: unknown dataset \"cifar100\" (did you mean \"cifar10\"?)"));
}

TEST_CASE("re-running a run's config.json gives the same run") {
  register_synthetic();
  TempDir dir;
  const json raw = json::parse(R"({
    "name": "synthetic", "seed": 3,
    "data": {"dataset": "synthetic_for_test", "validation": 12, "transforms": ["scale"]},
    "model": {"layers": ["flatten", {"type": "linear", "in_features": 16, "out_features": 8},
                         "relu", {"type": "dropout", "p": 0.1},
                         {"type": "linear", "in_features": 8, "out_features": 3}]},
    "train": {"epochs": 2, "batch_size": 8, "eval_batch_size": 16, "optimizer": "adam",
              "lr_schedule": {"name": "step", "step_size": 1}, "loss": "squared_hinge"}})");
  Experiment first(parse_experiment(raw));
  CHECK(first.train.size() == 48);
  REQUIRE_FALSE(train_experiment(first, {.out_dir = dir / "a"}).interrupted);
  const json stored = load_json_file(dir / "a/config.json");
  CHECK(stored == first.config.resolved);

  Experiment again(parse_experiment(stored));
  CHECK(again.config.resolved == stored);  // what --resume compares
  REQUIRE_FALSE(train_experiment(again, {.out_dir = dir / "b"}).interrupted);
  CHECK(load_json_file(dir / "b/config.json") == stored);
  const std::string wa = file_bytes(dir / "a/model.safetensors");
  CHECK(wa.size() > 100);
  CHECK(wa == file_bytes(dir / "b/model.safetensors"));
}

TEST_CASE("loss registry sweep: every loss builds from its name and round-trips") {
  const std::vector<std::string> names = loss_names();
  REQUIRE(!names.empty());
  Rng rng(4);
  const Var logits(Tensor::normal({5, 3}, rng), true);
  const Tensor labels = Tensor::from_vector({5}, {0.f, 1.f, 2.f, 1.f, 0.f});
  for (const std::string& name : names) {
    CAPTURE(name);
    const LossPtr loss = make_loss(name, "train.loss");
    CHECK(loss->name() == name);
    const json j = loss_to_json(*loss);
    CHECK(loss_to_json(*make_loss(j, "train.loss")) == j);
    CHECK(make_loss(json{{"name", name}}, "train.loss")->name() == name);
    const Var l = (*loss)(logits, labels);
    CHECK(l.data().numel() == 1);
    CHECK(std::isfinite(l.data().data()[0]));
    CHECK(contains(error_of([&] { make_loss(json{{"name", name}, {"margin", 1}}, "train.loss"); }),
                   "train.loss.margin: unknown key"));
  }
  CHECK(contains(error_of([] { make_loss("cross_entropi", "train.loss"); }),
                 "train.loss: unknown loss \"cross_entropi\" (did you mean \"cross_entropy\"?)"));
}
