// The "compress" run kind of lowbit study: a study entry that runs `lowbit compress`, with its
// own baseline per seed, and the per-stage table.
#include <doctest/doctest.h>

#include <filesystem>

#include "compress/study_kind.h"
#include "core/check.h"
#include "core/serialize.h"
#include "experiment/config.h"
#include "experiment/run_files.h"
#include "experiment/study.h"
#include "experiment/study_report.h"
#include "experiment/study_run_kind.h"
#include "tests/support/error_of.h"
#include "tests/support/temp_dir.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;
using lowbit::testing::TempDir;
using lowbit::testing::write_text_file;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  TempDir tmp;
  std::string exp, dc, fp;
  Fixture() {
    register_compress_run_kind();
    exp = tmp / "exp/mlp.json";
    dc = tmp / "exp/dc.json";
    fp = tmp / "exp/fp.json";
    const json e = {{"name", "mlp"},
                    {"data", {{"dataset", "mnist"}, {"validation", 100}}},
                    {"model", {{"layers", json::array({{{"type", "flatten"}},
                                                       {{"type", "linear"}, {"in_features", 784}, {"out_features", 16}},
                                                       {{"type", "relu"}},
                                                       {{"type", "linear"}, {"in_features", 16}, {"out_features", 10}}})}}},
                    {"train", {{"epochs", 3}, {"optimizer", {{"name", "sgd"}, {"lr", 0.1}}}}}};
    write_text_file(exp, e.dump());
    write_text_file(fp, e.dump());
    const json c = {{"name", "dc"},
                    {"train", exp},
                    {"layers", {{"1.weight", "ip1"}, {"3.weight", "ip2"}}},
                    {"prune", {{"default", {{"density", 0.1}}}, {"retrain", {{"epochs", 2}}}}},
                    {"quantize", {{"default", {{"bits", 4}}}, {"finetune", {{"epochs", 1}}}}}};
    write_text_file(dc, c.dump());
  }
  json study() const {
    return {{"name", "dcs"},
            {"seeds", {1, 2}},
            {"set", {"train.epochs=1"}},
            {"compress_set", {"prune.retrain.epochs=1"}},
            {"experiments", json::array({{{"file", dc}, {"kind", "compress"}, {"run", "mlp"}, {"label", "MLP"},
                                          {"network", "N"}, {"reference", {"dc_ref"}}},
                                         fp})}};
  }
  StudyOptions options() const {
    return {.runs_root = tmp / "runs", .results_root = tmp / "results", .extra_sets = {}, .extra_compress_sets = {}, .only = {}};
  }
};

// report.json as lowbit compress writes it (the fields the per-stage table reads).
json compress_report(double base_err, double retrained_err, double finetuned_err, double ratio_pqh) {
  return {{"stages", json::array({{{"stage", "baseline"}, {"test_error_percent", base_err}},
                                  {{"stage", "pruned"}, {"test_error_percent", 50.0}},
                                  {{"stage", "retrained"}, {"test_error_percent", retrained_err}},
                                  {{"stage", "quantized"}, {"test_error_percent", 40.0}},
                                  {{"stage", "finetuned"}, {"test_error_percent", finetuned_err}},
                                  {{"stage", "decoded"}, {"test_error_percent", finetuned_err}}})},
          {"layers", json::array({{{"num_nonzero", 1000}, {"num_fillers", 24}, {"relative_index_bits", 5}},
                                  {{"num_nonzero", 16}, {"num_fillers", 0}, {"relative_index_bits", 5}}})},
          {"total", {{"dense_bits", 32.0 * 12704}, {"density", 0.08}, {"bits_pq", 20000.0}, {"ratio_pq", 20.0},
                     {"bits_pqh", 16000.0}, {"ratio_pqh", ratio_pqh}}}};
}

}  // namespace

TEST_CASE("study kind compress: each seed trains its own baseline; overrides reach the right file") {
  Fixture f;
  const Study s = parse_study(f.study(), "s.json");
  REQUIRE(s.experiments.size() == 2);
  CHECK(s.experiments[0].kind->name == "compress");
  CHECK(s.experiments[1].kind->name == "train");
  CHECK(s.experiments[0].compress_sets == std::vector<std::string>{"prune.retrain.epochs=1"});
  CHECK(s.experiments[1].compress_sets.empty());

  StudyOptions o = f.options();
  o.extra_compress_sets = {"quantize.finetune.epochs=0"};
  const StudyPlan p = plan_study(s, o);
  REQUIRE(p.runs.size() == 4);
  const PlannedRun& r = p.runs[2];  // seeds outer: mlp_s2
  CHECK(r.name == "mlp_s2");
  CHECK(r.state == RunState::fresh);
  const std::string baseline = (fs::path(r.run_dir) / "baseline").string();
  CHECK(r.child_args() == std::vector<std::string>{
                              "compress", f.dc, "--out", r.run_dir,
                              "--set", "prune.retrain.epochs=1", "--set", "quantize.finetune.epochs=0",
                              "--set", "seed=2", "--set", "train_out=" + baseline,
                              "--set", R"(train_set=["train.epochs=1","seed=2"])"});
  // The config the compress run folder holds: what `lowbit compress` resolves from those.
  CHECK(r.config["seed"] == 2);
  CHECK(r.config["train_out"] == baseline);
  CHECK(r.config["train_set"] == json{"train.epochs=1", "seed=2"});
  CHECK(r.config["prune"]["retrain"]["epochs"] == 1);
  CHECK(r.config["quantize"]["finetune"]["epochs"] == 0);
  CHECK(r.config["output"]["dir"] == r.run_dir);
  // The training entry is unchanged: lowbit train with the experiment overrides.
  CHECK(p.runs[3].child_args()[0] == "train");

  // A baseline checkpoint means resume: the same command with --force (model.lbc of the
  // interrupted attempt may exist).
  fs::create_directories(baseline);
  write_json_atomic(RunPaths(r.run_dir).config, r.config);
  write_text_file(RunPaths(baseline).checkpoint, "x");
  const StudyPlan p2 = plan_study(s, o);
  CHECK(p2.runs[2].state == RunState::resume);
  CHECK(p2.runs[2].child_args()[4] == "--force");
  // Finished when report.md is there; the results copy has the kind's files.
  for (const char* file : {"log.jsonl", "report.json", "report.md"}) write_text_file(fs::path(r.run_dir) / file, "{}");
  const StudyPlan p3 = plan_study(s, o);
  CHECK(p3.runs[2].state == RunState::finished);
  CHECK(p3.runs[2].needs_copy);
  record_finished_run(p3.runs[2]);
  for (const char* file : {"config.json", "log.jsonl", "report.json", "report.md"})
    CHECK(fs::exists(fs::path(p3.runs[2].results_dir) / file));
  // Another compress config in that folder is never overwritten.
  o.extra_compress_sets = {"quantize.finetune.epochs=2"};
  CHECK(contains(error_of([&] { plan_study(s, o); }), "holds a finished run of another config"));
}

TEST_CASE("study kind compress: bad entries are rejected with the JSON path") {
  Fixture f;
  json j = f.study();
  j["experiments"][0]["kind"] = "compres";
  std::string e = error_of([&] { parse_study(j, "s.json"); });
  CHECK(contains(e, "experiments[0].kind"));
  CHECK(contains(e, "did you mean \"compress\""));
  j = f.study();
  j["experiments"][1] = {{"file", f.fp}, {"compress_set", {"seed=1"}}};
  e = error_of([&] { parse_study(j, "s.json"); });
  CHECK(contains(e, "experiments[1].compress_set: only for \"kind\": \"compress\""));
  // A compress override that does not parse fails the plan, naming the run.
  j = f.study();
  j["compress_set"] = {"prune.retrain.epochz=1"};
  const Study s = parse_study(j, "s.json");
  e = error_of([&] { plan_study(s, f.options()); });
  CHECK(contains(e, "run mlp_s1"));
  CHECK(contains(e, "epochz"));
}

TEST_CASE("study kind compress: per-stage table, mean ± std over seeds, paper numbers beside") {
  Fixture f;
  const Study s = parse_study(f.study(), "s.json");
  const StudyPlan p = plan_study(s, f.options());
  // mlp_s1 and mlp_s2 finished: baseline 98.0 / 98.2 %, retrained 97.9 / 98.1, quantized 97.8 / 98.0.
  const double base[] = {2.0, 1.8}, retr[] = {2.1, 1.9}, fine[] = {2.2, 2.0}, ratio[] = {38.0, 40.0};
  for (size_t i = 0; i < 2; ++i) {
    const PlannedRun& r = p.runs[i * 2];
    fs::create_directories(r.results_dir);
    write_json_atomic(RunPaths(r.results_dir).config, r.config);
    write_json_atomic((fs::path(r.results_dir) / "report.json").string(), compress_report(base[i], retr[i], fine[i], ratio[i]));
    write_text_file(fs::path(r.results_dir) / "report.md", "# report");
  }
  const json refs = {{"references",
                      {{{"id", "dc_ref"}, {"method", "DC"}, {"dataset", "mnist"}, {"network", "N"},
                        {"protocol", "Q"}, {"metric", "error"}, {"value", 1.58}, {"fp_value", 1.64},
                        {"paper", "Deep Compression"}, {"table", "Table 1"}, {"evidence", "P"},
                        {"stage_ratios", {{"pruned", 12}, {"quantized", 32}, {"huffman", 40}}},
                        {"size_kb", {{"baseline", 1070}, {"huffman", 27}}}}}}};
  const StudyReport rep = build_study_report(s, p, parse_references(refs, "refs.json"));
  REQUIRE(rep.rows.size() == 1);  // the training entry; the compress entry has its own table
  REQUIRE(rep.kinds.size() == 1);
  const json& row = rep.kinds[0].second.json[0];
  CHECK(row["seeds_done"] == 2);
  CHECK(row["baseline"]["accuracy_percent"]["mean"].get<double>() == doctest::Approx(98.1));
  CHECK(row["pruned"]["accuracy_percent"]["mean"].get<double>() == doctest::Approx(98.0));  // retrained, not pruned
  CHECK(row["quantized"]["accuracy_percent"]["mean"].get<double>() == doctest::Approx(97.9));
  CHECK(row["huffman"]["ratio"]["mean"].get<double>() == doctest::Approx(39.0));
  CHECK(row["huffman"]["ratio"]["std"].get<double>() == doctest::Approx(std::sqrt(2.0)));
  // Pruned: 1024 + 16 entries at 32 + 5 bits against 12704 dense weights.
  CHECK(row["pruned"]["ratio"]["mean"].get<double>() == doctest::Approx(32.0 * 12704 / (1040.0 * 37)));
  CHECK(row["huffman"]["kb"]["mean"].get<double>() == doctest::Approx(2.0));
  const std::string md = rep.to_markdown();
  CHECK(contains(md, "## Deep Compression: per stage"));
  CHECK(contains(md, "| MLP | 2/2 | 98.10 ± 0.14 |"));
  CHECK(contains(md, "| 39.0x ± 1.4x |"));
  CHECK(contains(md, "| 12x | 32x | 98.42 | 27 | 40x | 97.90 ± 0.14 | -0.52 |"));
  CHECK(rep.to_json()["kinds"]["compress"].size() == 1);
  CHECK(contains(md, "2 of 4 runs finished"));
}
