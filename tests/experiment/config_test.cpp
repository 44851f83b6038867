#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

#include "experiment/config.h"
#include "experiment/experiment.h"
#include "core/check.h"
#include "core/serialize.h"

using namespace lowbit;
using nlohmann::json;

namespace {
json minimal() {
  return json::parse(R"({
    "name": "t", "data": {"dataset": "mnist"},
    "model": {"layers": [{"type": "flatten"}, {"type": "linear", "in_features": 784, "out_features": 10}]},
    "train": {"epochs": 1, "optimizer": {"name": "sgd", "lr": 0.1}}})");
}
std::string error_of(const json& j, bool build = false) {
  try {
    ExperimentConfig c = parse_experiment(j);
    if (build) Experiment ex(c, /*load_data=*/false);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("config: defaults are filled in and the resolved config re-parses to itself") {
  const ExperimentConfig c = parse_experiment(minimal());
  CHECK(c.seed == 0);
  CHECK(c.data.root == "data/mnist");
  CHECK(c.train.batch_size == 100);
  CHECK(c.train.loss == "cross_entropy");
  CHECK(c.output_dir == "runs/t");
  CHECK(parse_experiment(c.resolved).resolved == c.resolved);
}

TEST_CASE("config: train.shards is off by default, validated, and resolved only when set") {
  const ExperimentConfig plain = parse_experiment(minimal());
  CHECK(plain.train.shards == 0);
  CHECK_FALSE(plain.resolved["train"].contains("shards"));  // old run folders stay resumable
  json j = minimal();
  j["train"]["shards"] = 6;
  const ExperimentConfig c = parse_experiment(j);
  CHECK(c.train.shards == 6);
  CHECK(c.resolved["train"]["shards"] == 6);
  CHECK(parse_experiment(c.resolved).resolved == c.resolved);
  j["train"]["shards"] = nullptr;
  CHECK(parse_experiment(j).train.shards == 0);
  for (const json bad : {json(0), json(-2), json(2000), json("4"), json(2.5)}) {
    j["train"]["shards"] = bad;
    CHECK(error_of(j).find("train.shards") == 0);
  }
}

TEST_CASE("config: errors name the JSON path and the reason") {
  json j = minimal();
  j["model"]["layers"][1]["out_features"] = "64";
  CHECK(error_of(j, true) == "model.layers[1].out_features: expected a positive integer, got \"64\"");

  j = minimal();
  j["train"]["epochs"] = 0;
  CHECK(error_of(j).find("train.epochs") == 0);

  j = minimal();
  j["train"]["epochz"] = 3;
  CHECK(error_of(j).find("epochz") != std::string::npos);

  j = minimal();
  j["data"]["dataset"] = "imagenet";
  const std::string e = error_of(j);
  CHECK(e.find("data.dataset") == 0);
  CHECK(e.find("cifar10") != std::string::npos);  // lists the choices

  j = minimal();
  j["model"]["layers"][0]["type"] = "lineer";
  CHECK(error_of(j, true).find("model.layers[0].type") == 0);

  j = minimal();
  j["train"]["optimizer"]["name"] = "adamm";
  CHECK(error_of(j, true).find("train.optimizer") == 0);

  j = minimal();
  j["data"]["transforms"] = json::parse(R"([{"type": "scale", "range": [1, 0]}])");
  CHECK(error_of(j, true).find("data.transforms[0].range") == 0);

  j = minimal();
  j.erase("train");
  CHECK(error_of(j).find("train") == 0);
}

TEST_CASE("config: --set overrides values, creates keys, parses JSON or strings") {
  json j = minimal();
  apply_override(j, "train.epochs=7");
  apply_override(j, "model.layers[1].out_features=12");
  apply_override(j, "data.root=/tmp/x");
  apply_override(j, "output.dir=\"runs/y\"");
  CHECK(j["train"]["epochs"] == 7);
  CHECK(j["model"]["layers"][1]["out_features"] == 12);
  CHECK(j["data"]["root"] == "/tmp/x");
  CHECK(parse_experiment(j).output_dir == "runs/y");
  CHECK_THROWS_WITH_AS(apply_override(j, "model.layers[9].bias=false"), doctest::Contains("[9]"), Error);
  CHECK_THROWS_AS(apply_override(j, "noequals"), Error);
}

TEST_CASE("config: a malformed file names the file, line and column") {
  const lowbit::testing::TempDir tmp;
  const std::string path = tmp / "lowbit_bad_config.json";
  write_file_atomic(path, "{\n  \"name\": \"x\",\n  \"seed\": ,\n}\n");
  CHECK_THROWS_WITH_AS(load_json_file(path), doctest::Contains("lowbit_bad_config.json:3:"), Error);
  CHECK_THROWS_WITH_AS(load_json_file(tmp / "does/not/exist.json"), doctest::Contains("exist.json"), Error);
}
