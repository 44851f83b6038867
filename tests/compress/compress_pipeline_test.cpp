#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "compress/compress_config.h"
#include "compress/pipeline.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "core/check.h"
#include "core/serialize.h"
#include "layers/registry.h"
#include "tests/support/error_of.h"
#include "tests/support/temp_dir.h"

using namespace lowbit;
using lowbit::testing::TempDir;
using lowbit::testing::write_text_file;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A small network on real MNIST: 1,000 training images (the rest held out as validation).
json tiny_experiment() {
  return json::parse(R"({
    "name": "tiny_dc", "seed": 3,
    "data": {"dataset": "mnist", "validation": 59000, "transforms": [{"type": "scale", "range": [0, 1]}]},
    "model": {"layers": [{"type": "flatten"},
                         {"type": "linear", "in_features": 784, "out_features": 48},
                         {"type": "relu"},
                         {"type": "linear", "in_features": 48, "out_features": 10}]},
    "train": {"epochs": 2, "batch_size": 50, "eval_batch_size": 5000,
              "optimizer": {"name": "adam", "lr": 0.003}},
    "output": {"dir": "baseline"}})");
}

json tiny_compress(const std::string& experiment_file) {
  json c = json::parse(R"({
    "name": "tiny_dc_compressed",
    "layers": {"1.weight": "fc1", "3.weight": "fc2"},
    "prune": {"default": {"density": 0.2}, "layers": {"fc2": {"quality": 0.5}},
              "retrain": {"epochs": 1, "optimizer": {"name": "adam", "lr": 0.001, "weight_decay": 0.01}}},
    "quantize": {"default": {"bits": 4}, "layers": {"3.weight": {"bits": 5, "init": "density"}},
                 "finetune": {"epochs": 1, "optimizer": {"name": "adam", "lr": 0.0003}}},
    "huffman": {"coding": "smallest", "index_bits": 4},
    "output": {"dir": "compressed"}})");
  c["train"] = experiment_file;
  return c;
}

bool have_mnist() { return fs::exists("data/mnist"); }

std::string error_of(const json& config) {
  return testing::error_of([&] { parse_compress_config(config); });
}

// Every entry of `w` outside the mask is exactly 0.
int64_t nonzero_outside(const Tensor& w, const PruneMask& mask) {
  int64_t bad = 0;
  for (int64_t i = 0; i < w.numel(); ++i) bad += !mask.kept(i) && w.data()[i] != 0.f;
  return bad;
}

}  // namespace

// ---------------------------------------------------------------------------- config errors

TEST_CASE("compress config: errors name the JSON path") {
  const json good = tiny_compress("experiments/x.json");
  CHECK(error_of(good) == "(no error)");

  // path: a JSON pointer ("/prune/layers/1.weight" names the key "1.weight").
  auto with = [&](const std::string& path, const json& value) {
    json c = good;
    c[json::json_pointer(path)] = value;
    return error_of(c);
  };
  CHECK_MESSAGE(
      with("/prnue", json::object()).find("prnue: unknown key (did you mean \"prune\"?)") !=
          std::string::npos,
      with("/prnue", json::object()));
  CHECK(with("/prune/retrain/epocs", 3).find("prune.retrain.epocs: unknown key") !=
        std::string::npos);
  CHECK(with("/prune/layers/fc1", json{{"density", 0.1}, {"quality", 1}})
            .find("prune.layers.fc1: give exactly one") != std::string::npos);
  CHECK(with("/prune/layers/1.weight", json{{"density", 1.5}})
            .find("prune.layers[\"1.weight\"].density") != std::string::npos);
  CHECK(with("/quantize/default/bits", 17).find("quantize.default.bits") != std::string::npos);
  CHECK(with("/quantize/layers/fc2/init", "kmeans++").find("quantize.layers.fc2.init") !=
        std::string::npos);
  CHECK(with("/quantize/finetune/optimizer", 3).find("quantize.finetune.optimizer") !=
        std::string::npos);
  CHECK(with("/huffman/coding", "zip").find("huffman.coding") != std::string::npos);
  CHECK(with("/huffman/layers/fc1/index_bits", 0).find("huffman.layers.fc1.index_bits") !=
        std::string::npos);
  CHECK(with("/layers/fc9", 3).find("layers.fc9") != std::string::npos);
  CHECK(with("/run", "runs/x").find("run: give either") != std::string::npos);
  {
    json c = good;
    c.erase("quantize");
    CHECK(error_of(c).find("quantize: required") != std::string::npos);
  }
  {
    json c = good;
    c.erase("train");
    CHECK(error_of(c).find("\"run\"") != std::string::npos);
  }

  // The resolved config parses to itself (config.json of a compression is a valid config).
  const CompressConfig cfg = parse_compress_config(good);
  CHECK(parse_compress_config(cfg.resolved).resolved == cfg.resolved);
  CHECK(cfg.coding == CodingPolicy::kSmallest);
  CHECK(cfg.index_bits == 4);
}

TEST_CASE(
    "compress config: per-layer settings resolve against the model; unknown layers are named") {
  Rng rng(0);
  const ExperimentConfig ecfg = parse_experiment(tiny_experiment());
  const ModulePtr model = make_module(ecfg.model_layers, rng, "model.layers");
  const json good = tiny_compress("experiments/x.json");

  const std::vector<LayerPlan> plan = plan_layers(parse_compress_config(good), *model);
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].param == "1.weight");
  CHECK(plan[0].label == "fc1");
  REQUIRE(plan[0].prune.has_value());
  CHECK(plan[0].prune->density == 0.2);  // the default
  CHECK(plan[1].prune->quality == 0.5);  // the layer's rule replaces the default
  CHECK(plan[0].sharing.bits == 4);
  CHECK(plan[1].sharing.bits == 5);  // keyed by parameter name, merged over the default
  CHECK(plan[1].sharing.init == CentroidInit::kDensity);
  CHECK(plan[0].index_bits == 4);

  auto plan_error = [&](const std::string& path, const json& value) {
    json c = good;
    c[json::json_pointer(path)] = value;
    try {
      plan_layers(parse_compress_config(c), *model);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string e1 = plan_error("/quantize/layers/fc7", json{{"bits", 3}});
  CHECK_MESSAGE(e1.find("quantize.layers.fc7: not a compressed layer") != std::string::npos, e1);
  CHECK(e1.find("fc1 (1.weight)") != std::string::npos);  // lists the layers
  const std::string e2 = plan_error("/layers/7.weight", "fc3");
  CHECK_MESSAGE(e2.find("layers[\"7.weight\"]: the model has no parameter") != std::string::npos,
                e2);
  const std::string e3 = plan_error("/prune/layers/3.weight", json{{"density", 0.5}});
  CHECK_MESSAGE(e3.find("given twice") != std::string::npos, e3);

  // Without "layers": every parameter with two or more dimensions, named by itself.
  json c = good;
  c.erase("layers");
  c["prune"].erase("layers");
  c["quantize"].erase("layers");
  const std::vector<LayerPlan> all = plan_layers(parse_compress_config(c), *model);
  REQUIRE(all.size() == 2);
  CHECK(all[1].label == "3.weight");
}

TEST_CASE("compress config: a missing experiment file is reported under \"train\"") {
  const CompressConfig cfg =
      parse_compress_config(tiny_compress("no/such/dir/lowbit_dc_no_such_file.json"));
  CHECK_THROWS_WITH_AS(check_compress_config(cfg),
                       doctest::Contains("train: no/such/dir/lowbit_dc_no_such_file.json"), Error);
}

// ---------------------------------------------------------------------------- training stages

TEST_CASE("pipeline: pruned weights stay exactly zero through retraining and fine-tuning") {
  if (!have_mnist()) {
    MESSAGE("data/mnist missing: run scripts/get_data.sh");
    CHECK(false);
    return;
  }
  Experiment ex(parse_experiment(tiny_experiment()));
  const CompressConfig cfg = parse_compress_config(tiny_compress("unused.json"));
  const std::vector<LayerPlan> plan = plan_layers(cfg, *ex.model);
  const std::vector<PruneMask> masks = prune_layers(*ex.model, plan);
  REQUIRE(masks.size() == 2);
  CHECK(masks[0].count() == 7526);  // round(0.2 · 48 · 784)
  std::vector<Var> w;
  std::vector<std::vector<float>> before;
  for (const LayerPlan& l : plan) {
    w.push_back(find_parameter(*ex.model, l.param));
    before.push_back(w.back().data().to_vector());
  }
  for (size_t i = 0; i < w.size(); ++i) CHECK(nonzero_outside(w[i].data(), masks[i]) == 0);

  // Adam with L2 weight decay: its update would move pruned weights without the masks.
  const std::vector<json> log = retrain_pruned(ex, plan, masks, cfg.retrain, 7);
  CHECK(log.size() == 1);
  for (size_t i = 0; i < w.size(); ++i) {
    CHECK(nonzero_outside(w[i].data(), masks[i]) == 0);
    int64_t moved = 0;
    for (int64_t j = 0; j < w[i].numel(); ++j)
      moved += masks[i].kept(j) && w[i].data().data()[j] != before[i][size_t(j)];
    CHECK(moved > masks[i].count() / 2);  // the survivors did train
  }

  std::vector<SharedWeights> shared = share_layers(*ex.model, plan, masks);
  std::vector<std::vector<float>> codebooks;
  for (const SharedWeights& s : shared) codebooks.push_back(s.codebook.to_vector());
  finetune_centroids(ex, plan, shared, cfg.finetune, 8);
  for (size_t i = 0; i < w.size(); ++i) {
    CHECK(nonzero_outside(w[i].data(), masks[i]) == 0);
    CHECK(shared[i].mask().count() == masks[i].count());
    CHECK(w[i].data().to_vector() == shared[i].reconstruct().to_vector());  // W = codebook[I]
    CHECK(shared[i].codebook.data()[0] == 0.f);
    CHECK(shared[i].codebook.to_vector() != codebooks[i]);  // the centroids did train
  }
}

// ---------------------------------------------------------------------------- end to end

TEST_CASE("pipeline: compressed file -> eval gives the fine-tuned model's accuracy exactly") {
  if (!have_mnist()) {
    MESSAGE("data/mnist missing: run scripts/get_data.sh");
    CHECK(false);
    return;
  }
  const TempDir tmp;
  const std::string experiment_file = tmp / "tiny.json";
  json experiment = tiny_experiment();
  experiment["output"]["dir"] = tmp / "baseline";
  write_text_file(experiment_file, experiment.dump(2));

  json compress_spec = tiny_compress(experiment_file);
  compress_spec["output"]["dir"] = tmp / "compressed";
  const CompressConfig cfg = parse_compress_config(compress_spec);
  const std::vector<LayerPlan> plan = check_compress_config(cfg);
  std::unique_ptr<Experiment> ex = prepare_source(cfg, {});  // trains the baseline
  CHECK(fs::exists(tmp / "baseline/model.safetensors"));
  const CompressOutcome out = compress_experiment(*ex, cfg, plan, {});

  // Decoded weights are the fine-tuned ones, bit for bit; accuracy is the same.
  const CompressedNetwork net = load_compressed_network(out.model_path);
  const NamedTensors a = ex->model->state_tensors(), b = net.model->state_tensors();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(std::memcmp(a[i].second.data(), b[i].second.data(),
                      sizeof(float) * size_t(a[i].second.numel())) == 0);
  }
  const double acc_finetuned = evaluate(*ex->model, ex->test, ex->transforms, 5000);
  const double acc_decoded = evaluate(*net.model, ex->test, ex->transforms, 5000);
  CHECK(acc_decoded == acc_finetuned);
  CHECK(acc_decoded > 0.5);
  const json& stages = out.report["stages"];
  REQUIRE(stages.size() == 6);  // baseline, pruned, retrained, quantized, finetuned, decoded
  CHECK(stages[4]["stage"] == "finetuned");
  CHECK(stages[5]["test_error_percent"].get<double>() ==
        stages[4]["test_error_percent"].get<double>());
  CHECK(stages[5]["test_error_percent"].get<double>() ==
        doctest::Approx(100.0 * (1.0 - acc_decoded)));

  // The report has the paper's columns per layer and the totals.
  for (const char* f : {"report.md", "report.json", "config.json", "log.jsonl", "model.lbc"})
    CHECK_MESSAGE(fs::exists(out.dir + "/" + f), f);
  const json r = load_json_file(out.dir + "/report.json");
  REQUIRE(r["layers"].size() == 2);
  CHECK(r["layers"][0]["name"] == "fc1");
  CHECK(r["layers"][0]["parameter"] == "1.weight");
  for (const char* k : {"num_weights", "weight_bits_pq", "weight_bits_pqh", "index_bits_pq",
                        "index_bits_pqh", "rate_pq", "rate_pqh"})
    CHECK_MESSAGE(r["layers"][0].contains(k), k);
  CHECK(r["layers"][0]["weight_bits_pq"] == 4.0);
  CHECK(r["layers"][1]["weight_bits_pq"] == 5.0);
  CHECK(r["total"]["rate_pqh"].get<double>() < r["total"]["rate_pq"].get<double>() + 1e-12);
  CHECK(r["error_before"].is_number());
  CHECK(r["error_after"] == stages[5]["test_error_percent"]);
  CHECK(out.markdown.find("| fc1 | 37632 | 20.00% | 4.00 |") != std::string::npos);

  // The config is recorded; a second run into the same folder is refused without --force.
  CHECK(load_json_file(out.dir + "/config.json") == cfg.resolved);
  CHECK_THROWS_WITH_AS(compress_experiment(*ex, cfg, plan, {}), doctest::Contains("--force"),
                       Error);

  // A corrupted file is rejected, never decoded into other weights.
  std::string bytes = read_file(out.model_path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  write_file_atomic(tmp / "corrupt.lbc", bytes);
  CHECK_THROWS_AS(load_compressed_network(tmp / "corrupt.lbc"), Error);

  // "run" source: the finished baseline folder gives the same baseline error.
  json from_run = tiny_compress(experiment_file);
  from_run.erase("train");
  from_run["run"] = tmp / "baseline";
  from_run["output"]["dir"] = tmp / "from_run";
  from_run["prune"]["retrain"]["epochs"] = 0;
  from_run["quantize"]["finetune"]["epochs"] = 0;
  const CompressConfig cfg2 = parse_compress_config(from_run);
  std::unique_ptr<Experiment> ex2 = prepare_source(cfg2, {});
  const CompressOutcome out2 = compress_experiment(*ex2, cfg2, check_compress_config(cfg2), {});
  CHECK(out2.report["stages"][0]["test_error_percent"] == stages[0]["test_error_percent"]);
  CHECK(out2.report["stages"].size() == 4);  // baseline, pruned, quantized, decoded
}
