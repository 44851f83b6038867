#include <doctest/doctest.h>

#include <filesystem>

#include "experiment/results_table.h"
#include "core/check.h"
#include "core/serialize.h"
#include "tests/support/error_of.h"
#include "tests/support/temp_dir.h"

using namespace lowbit;
using lowbit::testing::error_of;
using lowbit::testing::TempDir;
using lowbit::testing::write_text_file;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json config(const std::string& name, const json& weight_quantizer, const json& input_quantizer,
            int epochs) {
  return {{"name", name},
          {"data", {{"dataset", "mnist"}}},
          {"model",
           {{"layers", json::array({{{"type", "flatten"}},
                                    {{"type", "quant_linear"},
                                     {"in_features", 784},
                                     {"out_features", 10},
                                     {"weight_quantizer", weight_quantizer},
                                     {"input_quantizer", input_quantizer}}})}}},
          {"train", {{"epochs", epochs}}}};
}

// metrics.json as `lowbit train` writes it: one quantized layer (bits wb/ab) and its totals.
json metrics(double test_acc, const json& wq, const json& iq, int wb, int ab, double quantized_bytes,
             double ratio) {
  return {{"test_accuracy", test_acc},
          {"test_error_percent", 100 * (1 - test_acc)},
          {"best_val_accuracy", 0.9812},
          {"best_epoch", 3},
          {"epochs", 4},
          {"params", 7850},
          {"train_seconds", 90.0},
          {"images_per_second", 1000.0},
          {"threads", 2},
          {"summary",
           {{"input_shape", {1, 28, 28}},
            {"layers",
             json::array({{{"name", "0"}, {"type", "flatten"}, {"input_quantizer", nullptr},
                           {"weight_quantizer", nullptr}, {"weight_bits", 32}, {"activation_bits", 32}},
                          {{"name", "1"}, {"type", "quant_linear"}, {"input_quantizer", iq},
                           {"weight_quantizer", wq}, {"weight_bits", wb}, {"activation_bits", ab}}})},
            {"totals",
             {{"params", 7850},
              {"float32_bytes", 31400.0},
              {"quantized_bytes", quantized_bytes},
              {"compression_ratio", ratio}}}}}};
}

// A finished run folder: config.json, log.jsonl, metrics.json.
std::string finished_run(const TempDir& tmp, const std::string& name, double test_acc,
                         const json& wq = "ste_sign", const json& iq = "ste_sign", int wb = 1,
                         int ab = 1) {
  const std::string dir = tmp / name;
  write_text_file(dir + "/config.json", config(name, wq, iq, 4).dump(2));
  write_text_file(dir + "/log.jsonl", R"({"epoch":1,"lr":0.01,"seconds":20.0,"train_accuracy":0.9,"train_loss":0.3,"val_accuracy":0.97})"
                            "\n");
  const double bytes = wq.is_null() ? 31400.0 : 1020.0;
  write_text_file(dir + "/metrics.json", metrics(test_acc, wq, iq, wb, ab, bytes, 31400.0 / bytes).dump(2));
  return dir;
}

// An unfinished run: 2 of 5 epochs logged (epoch 2 twice, as after a resume), no metrics.json.
std::string unfinished_run(const TempDir& tmp, const std::string& name) {
  const std::string dir = tmp / name;
  write_text_file(dir + "/config.json", config(name, "twn", nullptr, 5).dump(2));
  write_text_file(dir + "/log.jsonl",
        R"({"epoch":1,"lr":0.01,"seconds":30.0,"train_accuracy":0.9,"train_loss":0.3,"val_accuracy":0.95})"
        "\n"
        R"({"epoch":2,"lr":0.01,"seconds":99.0,"train_accuracy":0.9,"train_loss":0.3,"val_accuracy":0.5})"
        "\n"
        R"({"epoch":2,"lr":0.01,"seconds":30.0,"train_accuracy":0.95,"train_loss":0.2,"val_accuracy":0.9612})"
        "\n");
  return dir;
}

}  // namespace

TEST_CASE("results table: a finished run's row is parsed from config, metrics and summary") {
  TempDir tmp;
  const RunResult r = read_run(finished_run(tmp, "mnist_bnn", 0.9734));
  CHECK(r.run == "mnist_bnn");
  CHECK(r.name == "mnist_bnn");
  CHECK(r.dataset == "mnist");
  CHECK(r.method == "ste_sign/ste_sign");
  CHECK(r.weight_bits == std::vector<int>{1});
  CHECK(r.activation_bits == std::vector<int>{1});
  CHECK(r.finished);
  CHECK(r.epochs == 4);
  CHECK(*r.test_accuracy == doctest::Approx(0.9734));
  CHECK(*r.best_val_accuracy == doctest::Approx(0.9812));
  CHECK(*r.best_epoch == 3);
  CHECK(*r.quantized_bytes == doctest::Approx(1020.0));
  CHECK(*r.compression_ratio == doctest::Approx(31400.0 / 1020.0));
  CHECK(*r.train_seconds == doctest::Approx(90.0));
  CHECK(r.status() == "done");

  ResultsTable t;
  t.rows = {r};
  CHECK(t.header() == std::vector<std::string>{"run", "dataset", "method", "W/A bits", "epochs",
                                               "test acc %", "test err %", "best val %", "size KiB",
                                               "compr.", "train min", "status"});
  CHECK(t.cells().at(0) == std::vector<std::string>{"mnist_bnn", "mnist", "ste_sign/ste_sign", "1/1",
                                                    "4", "97.34", "2.66", "98.12", "1.0", "30.8x",
                                                    "1.5", "done"});

  // Full precision (null quantizers) reads as "fp" at 32/32; a trailing slash changes nothing.
  const RunResult fp = read_run(finished_run(tmp, "mnist_fp", 0.99, nullptr, nullptr, 32, 32) + "/");
  CHECK(fp.run == "mnist_fp");
  CHECK(fp.method == "fp");
  CHECK(fp.weight_bits == std::vector<int>{32});
  CHECK(fp.activation_bits == std::vector<int>{32});
  CHECK(*fp.compression_ratio == doctest::Approx(1.0));

  // Weights only: the weight quantizer's name, activations at 32 bits.
  const RunResult bc = read_run(finished_run(tmp, "mnist_bc", 0.98, "binary_connect", nullptr, 1, 32));
  CHECK(bc.method == "binary_connect");
  CHECK(ResultsTable{{bc}, ""}.cells().at(0).at(3) == "1/32");
}

TEST_CASE("results table: an unfinished run shows its progress from log.jsonl") {
  TempDir tmp;
  const RunResult r = read_run(unfinished_run(tmp, "mnist_twn"));
  CHECK_FALSE(r.finished);
  CHECK(r.method == "twn");  // from config.json: no summary yet
  CHECK(r.weight_bits == std::vector<int>{2});
  CHECK(r.activation_bits == std::vector<int>{32});
  CHECK(r.epochs == 5);
  CHECK(r.epochs_done == 2);
  CHECK_FALSE(r.test_accuracy);
  CHECK(*r.last_val_accuracy == doctest::Approx(0.9612));  // the repeated epoch's last line wins
  CHECK(*r.best_val_accuracy == doctest::Approx(0.9612));
  CHECK(*r.train_seconds == doctest::Approx(60.0));
  CHECK(r.status() == "running: epoch 2/5, val 96.12%");

  ResultsTable t;
  t.rows = {r};
  CHECK(t.cells().at(0) == std::vector<std::string>{"mnist_twn", "mnist", "twn", "2/32", "5", "-", "-",
                                                    "96.12", "-", "-", "1.0",
                                                    "running: epoch 2/5, val 96.12%"});
  const json j = t.to_json();
  REQUIRE(j.is_array());
  CHECK(j[0]["finished"] == false);
  CHECK(j[0]["test_accuracy_percent"].is_null());
  CHECK(j[0]["epochs_done"] == 2);

  // No epoch logged yet.
  const std::string fresh = tmp / "fresh";
  write_text_file(fresh + "/config.json", config("fresh", "twn", nullptr, 7).dump());
  CHECK(read_run(fresh).status() == "running: epoch 0/7");
}

TEST_CASE("results table: --baseline adds test accuracy differences in percentage points") {
  TempDir tmp;
  ResultsTable t;
  t.rows = read_runs({finished_run(tmp, "fp", 0.9912, nullptr, nullptr, 32, 32),
                      finished_run(tmp, "bnn", 0.9734), unfinished_run(tmp, "twn")});
  t.set_baseline(read_run(tmp / "fp"));
  CHECK(t.baseline == "fp");
  CHECK(*t.rows[0].delta_pp == doctest::Approx(0.0));
  CHECK(*t.rows[1].delta_pp == doctest::Approx(-1.78));
  CHECK_FALSE(t.rows[2].delta_pp);
  const std::vector<std::string> h = t.header();
  REQUIRE(h.size() == 13);
  CHECK(h[11] == "Δ vs baseline (pp)");
  const auto c = t.cells();
  CHECK(c[0][11] == "+0.00");
  CHECK(c[1][11] == "-1.78");
  CHECK(c[2][11] == "-");
  CHECK(t.to_json()[1]["delta_vs_baseline_pp"].get<double>() == doctest::Approx(-1.78));

  // Text: every line of the table has the same column starts (Δ counts as one column).
  const std::string text = t.to_text();
  CHECK(text.find("Δ: test accuracy minus fp's") != std::string::npos);
  const size_t status_col = text.substr(0, text.find('\n')).find("status");
  const size_t second = text.find('\n', text.find('\n') + 1) + 1;  // first row, after the rule
  CHECK(text.substr(second).find("done") == status_col - 1);  // "Δ" is 2 bytes, 1 column

  // An unfinished baseline has no test accuracy to compare with.
  CHECK(error_of([&] { t.set_baseline(read_run(tmp / "twn")); }).find("not finished") !=
        std::string::npos);
}

TEST_CASE("results table: folders that are not runs and malformed files give one clear error") {
  TempDir tmp;
  const std::string empty = tmp / "empty";
  fs::create_directories(empty);
  CHECK(error_of([&] { read_run(empty); }) ==
        empty + ": not a run folder (no config.json); lowbit table expects folders written by lowbit train");
  CHECK(error_of([&] { read_runs({empty}); }).find(empty + ": not a run folder") == 0);
  CHECK(error_of([&] { read_runs({tmp / "nope"}); }) == tmp / "nope" + ": no such folder");

  // The parent of run folders: the message suggests the glob.
  finished_run(tmp, "a", 0.9);
  CHECK(error_of([&] { read_run(tmp.path()); }).find("did you mean " + tmp / "*") !=
        std::string::npos);

  // Malformed metrics.json: file, line and column.
  const std::string bad = finished_run(tmp, "bad", 0.9);
  write_text_file(bad + "/metrics.json", "{\"test_accuracy\": 0.9,\n \"epochs\": }\n");
  const std::string e = error_of([&] { read_runs({tmp / "a", bad}); });
  CHECK(e.find(bad + "/metrics.json:2:") == 0);
  CHECK(e.find("invalid JSON") != std::string::npos);

  // Well-formed JSON with a wrong value names the file and key.
  write_text_file(bad + "/metrics.json", R"({"test_accuracy": "97%"})");
  CHECK(error_of([&] { read_run(bad); }) ==
        bad + "/metrics.json: \"test_accuracy\" should be a number, got \"97%\"");
  write_text_file(bad + "/metrics.json", R"({"test_accuracy": 97.3})");
  CHECK(error_of([&] { read_run(bad); }).find("should be a fraction in [0, 1]") != std::string::npos);
  write_text_file(bad + "/metrics.json", R"({"epochs": 4})");
  CHECK(error_of([&] { read_run(bad); }) == bad + "/metrics.json: \"test_accuracy\" is missing");

  // Malformed log.jsonl of an unfinished run: file and line.
  const std::string running = unfinished_run(tmp, "running");
  write_text_file(running + "/log.jsonl", "{\"epoch\": 1}\n{oops\n");
  CHECK(error_of([&] { read_run(running); }).find(running + "/log.jsonl:2: not a JSON line") == 0);
}

TEST_CASE("results table: glob-expanded lists skip files and compress folders, once per folder") {
  TempDir tmp;
  const std::string run = finished_run(tmp, "mnist_bnn", 0.97);
  write_text_file(tmp / "mnist_bnn.out", "training log\n");
  write_text_file(tmp / "deep_compression/config.json",
        R"({"name": "dc", "train": "experiments/mnist/lenet5.json", "prune": {}, "quantize": {}})");
  std::vector<std::string> skipped;
  const std::vector<RunResult> rows =
      read_runs({run, tmp / "mnist_bnn.out", tmp / "deep_compression", run + "/"}, &skipped);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].run == "mnist_bnn");
  CHECK(skipped == std::vector<std::string>{
                       tmp / "mnist_bnn.out" + " (not a folder)",
                       tmp / "deep_compression" + " (a lowbit compress folder, not a training run)"});
  CHECK(error_of([&] { read_runs({tmp / "mnist_bnn.out"}); }) ==
        "no training run folders among the given paths; skipped: " + tmp / "mnist_bnn.out" +
            " (not a folder)");
}

TEST_CASE("results table: markdown output") {
  TempDir tmp;
  ResultsTable t;
  t.rows = read_runs({finished_run(tmp, "fp", 0.9912, nullptr, nullptr, 32, 32),
                      finished_run(tmp, "bnn", 0.9734), unfinished_run(tmp, "twn")});
  t.set_baseline(t.rows[0]);
  const std::string path = tmp / "out/table.md";
  fs::create_directories(tmp / "out");
  write_file_atomic(path, t.to_markdown());
  CHECK(read_file(path) ==
        "| run | dataset | method | W/A bits | epochs | test acc % | test err % | best val % | "
        "size KiB | compr. | train min | Δ vs baseline (pp) | status |\n"
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        "| fp | mnist | fp | 32/32 | 4 | 99.12 | 0.88 | 98.12 | 30.7 | 1.0x | 1.5 | +0.00 | done |\n"
        "| bnn | mnist | ste_sign/ste_sign | 1/1 | 4 | 97.34 | 2.66 | 98.12 | 1.0 | 30.8x | 1.5 | -1.78 | done |\n"
        "| twn | mnist | twn | 2/32 | 5 | - | - | 96.12 | - | - | 1.0 | - | running: epoch 2/5, val 96.12% |\n"
        "\nΔ vs baseline: test accuracy minus that of `fp`, in percentage points.\n");
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("results table: quantizers are built through the registry; a bad spec is an error") {
  TempDir tmp;
  // The label says which grid a qnn_linear row used.
  const std::string qnn = tmp / "qnn";
  write_text_file(qnn + "/config.json",
        config("qnn", {{"name", "qnn_linear"}, {"bits", 2}},
               {{"name", "qnn_linear"}, {"bits", 3}, {"grid", "min_max"}}, 2)
            .dump());
  const RunResult r = read_run(qnn);
  CHECK(r.method == "qnn_linear(grid=paper)/qnn_linear(grid=min_max)");
  CHECK(r.weight_bits == std::vector<int>{2});
  CHECK(r.activation_bits == std::vector<int>{3});

  // An unknown quantizer or option is reported with the file and the JSON path.
  const std::string bad = tmp / "bad";
  write_text_file(bad + "/config.json", config("bad", "ste_sing", nullptr, 2).dump());
  std::string e = error_of([&] { read_run(bad); });
  CHECK(e.find(bad + "/config.json: model.layers[1].weight_quantizer") == 0);
  CHECK(e.find("did you mean \"ste_sign\"") != std::string::npos);
  write_text_file(bad + "/config.json", config("bad", {{"name", "dorefa"}, {"bitz", 2}}, nullptr, 2).dump());
  e = error_of([&] { read_run(bad); });
  CHECK(e.find(bad + "/config.json: model.layers[1].weight_quantizer") == 0);
  CHECK(e.find("bitz") != std::string::npos);
}
