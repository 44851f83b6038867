#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "core/check.h"
#include "core/serialize.h"
#include "experiment/budget_override.h"
#include "experiment/config.h"
#include "experiment/run_files.h"
#include "experiment/study.h"
#include "experiment/study_report.h"
#include "experiment/study_svg.h"
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

// A small valid experiment: one quantized layer (its quantizer is what sweeps change).
json experiment_json(const std::string& name) {
  return {{"name", name},
          {"data", {{"dataset", "mnist"}, {"validation", 100}}},
          {"model",
           {{"layers", json::array({{{"type", "flatten"}},
                                    {{"type", "quant_linear"},
                                     {"in_features", 784},
                                     {"out_features", 32},
                                     {"weight_quantizer", "twn"}},
                                    {{"type", "relu"}},
                                    {{"type", "quant_linear"},
                                     {"in_features", 32},
                                     {"out_features", 10},
                                     {"weight_quantizer", "twn"}}})}}},
          {"train", {{"epochs", 2}, {"optimizer", {{"name", "adam"}, {"lr", 0.001}}}}}};
}

struct Fixture {
  TempDir tmp;
  std::string fp, twn;
  Fixture() {
    fp = tmp / "exp/fp.json";
    twn = tmp / "exp/twn.json";
    json f = experiment_json("fp");
    f["model"]["layers"][1].erase("weight_quantizer");
    f["model"]["layers"][3].erase("weight_quantizer");
    write_text_file(fp, f.dump());
    write_text_file(twn, experiment_json("twn").dump());
  }
  json study() const {
    return {{"name", "s"},
            {"seeds", {1, 2}},
            {"set", {"train.epochs=1"}},
            {"experiments", json::array({fp, {{"file", twn}, {"run", "ternary"}, {"label", "TWN"}}})}};
  }
  StudyOptions options() const {
    return {.runs_root = tmp / "runs", .results_root = tmp / "results", .extra_sets = {}, .extra_compress_sets = {}, .only = {}};
  }
};

// metrics.json as lowbit train writes it (the fields the report reads).
json metrics(double test_acc, double best_val, int best_epoch) {
  return {{"test_accuracy", test_acc},
          {"best_val_accuracy", best_val},
          {"best_epoch", best_epoch},
          {"epochs", 1},
          {"train_seconds", 10.0},
          {"threads", 1},
          {"summary",
           {{"layers", json::array({{{"weight_quantizer", "twn"}, {"weight_bits", 2}, {"input_quantizer", nullptr}}})},
            {"totals",
             {{"params", 1000},
              {"quantized_bits", 4000.0},
              {"float32_bits", 32000.0},
              {"quantized_bytes", 500.0},
              {"compression_ratio", 8.0},
              {"macs", {{"binary", 0}, {"ternary", 900}, {"k_bit", 0}, {"float", 100}}}}}}}};
}

// Makes `run` look finished in runs/ (config.json as the trainer writes it + metrics).
void finish_in_runs(const PlannedRun& run, double test_acc) {
  const RunPaths p(run.run_dir);
  fs::create_directories(p.dir);
  write_json_atomic(p.config, run.config);
  write_log(p.log, {json{{"epoch", 1}, {"val_accuracy", test_acc - 0.01}, {"seconds", 10.0}}});
  write_json_atomic(p.metrics, metrics(test_acc, test_acc - 0.01, 1));
}

// Tag balance of an SVG/XML document: every <tag> closed in order, self-closing tags allowed.
bool well_formed(const std::string& xml) {
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = xml.find('<', i)) != std::string::npos) {
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) return false;
    const std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag.back() == '/') continue;
    const std::string name = tag.substr(tag[0] == '/' ? 1 : 0, tag.find_first_of(" \t\n") - (tag[0] == '/' ? 1 : 0));
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != name) return false;
      stack.pop_back();
    } else {
      stack.push_back(name);
    }
  }
  return stack.empty();
}

}  // namespace

TEST_CASE("study: parse a list of experiments and a sweep over every layer's quantizer") {
  Fixture f;
  json j = f.study();
  j["sweep"] = {{"file", f.twn}, {"layer_key", "weight_quantizer"}, {"values", {{"bwn", "bwn"}, {"ttq", {{"name", "ttq"}}}}}};
  const Study s = parse_study(j, "s.json");
  CHECK(s.name == "s");
  CHECK(s.seeds == std::vector<uint64_t>{1, 2});
  REQUIRE(s.experiments.size() == 4);
  CHECK(s.experiments[0].run == "fp");  // file stem
  CHECK(s.experiments[0].label == "fp");
  CHECK(s.experiments[1].run == "ternary");
  CHECK(s.experiments[1].label == "TWN");
  CHECK(s.experiments[1].sets == std::vector<std::string>{"train.epochs=1"});
  CHECK(s.experiments[2].run == "bwn");
  // Both quant_linear layers (indices 1 and 3) get the value; the study's sets come first.
  CHECK(s.experiments[2].sets == std::vector<std::string>{"train.epochs=1", "model.layers[1].weight_quantizer=\"bwn\"",
                                                          "model.layers[3].weight_quantizer=\"bwn\""});
  CHECK(s.experiments[3].sets.back() == "model.layers[3].weight_quantizer={\"name\":\"ttq\"}");
}

TEST_CASE("study: bad input is rejected with the file and the JSON path") {
  Fixture f;
  auto err = [&](const json& j) { return error_of([&] { parse_study(j, "s.json"); }); };
  json j = f.study();
  j["experiments"][1]["file"] = f.tmp / "exp/missing.json";
  CHECK(contains(err(j), "s.json: experiments[1].file: experiment file"));
  CHECK(contains(err(j), "missing.json\" not found"));

  j = f.study();
  j["experiments"].push_back({{"file", f.fp}});
  CHECK(contains(err(j), "duplicate run name \"fp\""));

  j = f.study();
  j["experiments"][1]["run"] = "fp";
  CHECK(contains(err(j), "duplicate run name \"fp\""));

  for (const json& bad : {json(3), json::array(), json("1,2")}) {
    j = f.study();
    j["seeds"] = bad;
    CHECK(contains(err(j), "s.json: \"seeds\": expected a non-empty list of non-negative integers"));
  }
  for (const json& bad : {json::array({1, -2}), json::array({1, 2.5}), json::array({1, "2"})}) {
    j = f.study();
    j["seeds"] = bad;
    CHECK(contains(err(j), "\"seeds\"[1]: expected a non-negative integer"));
  }
  j = f.study();
  j["seeds"] = {4, 4};
  CHECK(contains(err(j), "\"seeds\"[1]: seed 4 is listed twice"));
  j = f.study();
  j.erase("seeds");
  CHECK(contains(err(j), "\"seeds\": missing"));

  j = f.study();
  j["experiment"] = j["experiments"];
  CHECK(contains(err(j), "s.json: experiment: unknown key (did you mean \"experiments\"?)"));

  j = f.study();
  j["experiments"][0] = {{"file", f.fp}, {"run", "a/b"}};
  CHECK(contains(err(j), "experiments[0].run: run name \"a/b\" may only hold"));

  j = f.study();
  j["sweep"] = {{"file", f.twn}, {"layer_key", "input_quantizer"}, {"values", {{"x", "ste_sign"}}}};
  CHECK(contains(err(j), "sweep.layer_key: no layer of"));
  j["sweep"] = {{"file", f.twn}, {"layer_key", "weight_quantizer"}, {"values", {{"ternary", "bwn"}}}};
  CHECK(contains(err(j), "duplicate run name \"ternary\""));

  j = f.study();
  j["experiments"][0] = {{"file", f.fp}, {"baseline", true}};
  j["experiments"][1]["baseline"] = true;
  CHECK(contains(err(j), "more than one \"baseline\""));

  // A group's label names its chart files: same files, no name, or an unwieldy name refused.
  j = f.study();
  j["experiments"][0] = {{"file", f.fp}, {"group", "Crop + flip"}};
  j["experiments"][1]["group"] = "crop/flip";
  CHECK(contains(err(j), "s.json: experiments[1].group: groups \"Crop + flip\" and \"crop/flip\" would both write "
                         "\"accuracy_vs_epoch_crop_flip.svg\""));
  j["experiments"][1]["group"] = "--";
  CHECK(contains(err(j), "experiments[1].group: group \"--\" needs a letter or digit"));
  j["experiments"][1]["group"] = std::string(kMaxGroupSlug, 'a') + " b";
  CHECK(contains(err(j), "experiments[1].group: group \"" + std::string(kMaxGroupSlug, 'a') +
                             " b\" would name its charts"));
  j["experiments"][1]["group"] = std::string(kMaxGroupSlug, 'a');
  CHECK_NOTHROW(parse_study(j, "s.json"));
  CHECK(group_chart_suffix("") == "");
  CHECK(group_chart_suffix(" No-augmentation protocol (2016 papers) ") == "_no_augmentation_protocol_2016_papers");
}

TEST_CASE("study: planning resolves each run's config, in folders <run>_s<seed>, seeds outer") {
  Fixture f;
  const Study s = parse_study(f.study(), "s.json");
  const StudyPlan p = plan_study(s, f.options());
  REQUIRE(p.runs.size() == 4);
  CHECK(p.runs[0].name == "fp_s1");
  CHECK(p.runs[1].name == "ternary_s1");
  CHECK(p.runs[2].name == "fp_s2");
  CHECK(p.runs[0].run_dir == f.tmp / "runs/s/fp_s1");
  CHECK(p.runs[0].results_dir == f.tmp / "results/s/runs/fp_s1");
  CHECK(p.runs[3].config["seed"] == 2);
  CHECK(p.runs[3].config["train"]["epochs"] == 1);  // the study's --set
  CHECK(p.runs[3].config["output"]["dir"] == p.runs[3].run_dir);
  for (const PlannedRun& r : p.runs) CHECK(r.state == RunState::fresh);
  CHECK(p.runs[1].child_args() == std::vector<std::string>{"train", f.twn, "--out", p.runs[1].run_dir, "--set",
                                                           "train.epochs=1", "--set", "seed=1"});
  // An experiment that does not parse with its overrides fails the plan, naming the run.
  StudyOptions o = f.options();
  o.extra_sets = {"train.epochs=0"};
  CHECK(contains(error_of([&] { plan_study(s, o); }), "run fp_s1"));
}

TEST_CASE("study --only: shell globs over run names select what starts; a glob matching nothing is refused") {
  Fixture f;
  const Study s = parse_study(f.study(), "s.json");
  const auto selected = [&](std::vector<std::string> only) {
    StudyOptions o = f.options();
    o.only = std::move(only);
    std::vector<std::string> names;
    for (const PlannedRun& r : plan_study(s, o).runs)
      if (r.selected) names.push_back(r.name);
    return names;
  };
  CHECK(selected({}) == std::vector<std::string>{"fp_s1", "ternary_s1", "fp_s2", "ternary_s2"});
  CHECK(selected({"*_s2"}) == std::vector<std::string>{"fp_s2", "ternary_s2"});
  CHECK(selected({"fp_s?", "ternary_s1"}) == std::vector<std::string>{"fp_s1", "ternary_s1", "fp_s2"});
  CHECK(selected({"fp_s1"}) == std::vector<std::string>{"fp_s1"});  // exact name, no partial match
  // Unselected runs stay in the plan (the report covers them), only marked.
  StudyOptions o = f.options();
  o.only = {"fp_*"};
  const StudyPlan p = plan_study(s, o);
  REQUIRE(p.runs.size() == 4);
  CHECK_FALSE(p.runs[1].selected);
  o.only = {"fp_*", "bnn_*"};
  const std::string e = error_of([&] { plan_study(s, o); });
  CHECK(contains(e, "--only 'bnn_*': matches no run of study s"));
  CHECK(contains(e, "fp_s1, ternary_s1, fp_s2, ternary_s2"));
  o.only = {"fp"};  // a run's name without its seed matches nothing
  CHECK(contains(error_of([&] { plan_study(s, o); }), "--only 'fp'"));
}

TEST_CASE("budget overrides that leave an epoch-counting lr schedule behind are warned about") {
  json file = experiment_json("twn");
  file["train"]["epochs"] = 12;
  file["train"]["lr_schedule"] = {{"name", "multistep"}, {"milestones", {7, 10}}};
  const std::string w = budget_override_warning(file, {"train.epochs=20", "seed=3"});
  CHECK(contains(w, "train.epochs is 20 but the file was written for 12"));
  CHECK(contains(w, "counts absolute epochs"));
  CHECK(budget_override_warning(file, {"seed=3"}).empty());           // same budget
  CHECK(budget_override_warning(file, {"train.epochs=12"}).empty());  // same budget, set
  // The overrides assign the schedule too (even to the file's own value): the user's curve.
  CHECK(budget_override_warning(file, {"train.epochs=20", "train.lr_schedule.milestones=[12, 17]"}).empty());
  CHECK(budget_override_warning(file, {"train.epochs=20", "train.lr_schedule.milestones=[7, 10]"}).empty());
  json cosine = file;
  cosine["train"]["lr_schedule"] = "cosine";
  CHECK(budget_override_warning(cosine, {"train.epochs=20"}).empty());  // stretches by itself
  CHECK(budget_override_warning(file, {"train.epochs=-1"}).empty());    // left to the caller's parse

  // A study: one warning per experiment (not per seed), naming the run and the file.
  Fixture f;
  write_text_file(f.twn, file.dump());
  const StudyPlan p = plan_study(parse_study(f.study(), "s.json"), f.options());
  REQUIRE(p.warnings.size() == 1);
  CHECK(contains(p.warnings[0], "run ternary (" + f.twn + "): train.epochs is 1 but the file was written for 12"));
}

TEST_CASE("study: finished runs are skipped, interrupted ones resumed, foreign folders never touched") {
  Fixture f;
  const Study s = parse_study(f.study(), "s.json");
  StudyPlan p = plan_study(s, f.options());

  // fp_s1 finished in runs/ (not yet copied); ternary_s1 interrupted with a checkpoint;
  // fp_s2 started (config.json) but killed before its first checkpoint.
  finish_in_runs(p.runs[0], 0.99);
  {
    const RunPaths r(p.runs[1].run_dir);
    fs::create_directories(r.dir);
    write_json_atomic(r.config, p.runs[1].config);
    write_text_file(r.checkpoint, "x");
    const RunPaths q(p.runs[2].run_dir);
    fs::create_directories(q.dir);
    write_json_atomic(q.config, p.runs[2].config);
  }
  p = plan_study(s, f.options());
  CHECK(p.runs[0].state == RunState::finished);
  CHECK(p.runs[0].needs_copy);
  CHECK(p.runs[1].state == RunState::resume);
  CHECK(p.runs[1].child_args()[4] == "--resume");
  CHECK(p.runs[2].state == RunState::fresh);
  CHECK(p.runs[3].state == RunState::fresh);

  // The results copy is what counts: with runs/ gone the run is still finished.
  record_finished_run(p.runs[0]);
  for (const char* file : {"config.json", "log.jsonl", "metrics.json"})
    CHECK(fs::exists(fs::path(p.runs[0].results_dir) / file));
  fs::remove_all(f.tmp / "runs");
  p = plan_study(s, f.options());
  CHECK(p.runs[0].state == RunState::finished);
  CHECK_FALSE(p.runs[0].needs_copy);
  CHECK(p.runs[1].state == RunState::fresh);

  // A folder holding another config (another study, or this one changed) is refused.
  {
    json other = p.runs[1].config;
    other["train"]["epochs"] = 5;
    fs::create_directories(p.runs[1].run_dir);
    write_json_atomic(RunPaths(p.runs[1].run_dir).config, other);
    const std::string e = error_of([&] { plan_study(s, f.options()); });
    CHECK(contains(e, "ternary_s1: holds a run of another study or config"));
    CHECK(load_json_file(RunPaths(p.runs[1].run_dir).config)["train"]["epochs"] == 5);  // untouched
    fs::remove_all(p.runs[1].run_dir);
  }
  {
    StudyOptions o = f.options();
    o.extra_sets = {"train.batch_size=7"};  // fp_s1's results copy now has another config
    CHECK(contains(error_of([&] { plan_study(s, o); }), "fp_s1: holds a finished run of another config"));
  }
  // Run files without config.json are not ours to overwrite either.
  write_text_file(RunPaths(p.runs[3].run_dir).checkpoint, "x");
  CHECK(contains(error_of([&] { plan_study(s, f.options()); }), "holds run files but no config.json"));
}

TEST_CASE("study report: mean and sample std over seeds, gaps to the baseline and to the paper") {
  CHECK(stats_of({}).n == 0);
  CHECK(std::isnan(stats_of({}).mean));
  const Stats one = stats_of({99.0});
  CHECK(one.mean == 99.0);
  CHECK(one.std == 0.0);
  const Stats four = stats_of({1, 2, 3, 4});
  CHECK(four.mean == doctest::Approx(2.5));
  CHECK(four.std == doctest::Approx(std::sqrt(5.0 / 3.0)));
  CHECK(four.min == 1.0);
  CHECK(four.max == 4.0);

  Fixture f;
  json j = f.study();
  j["seeds"] = {1, 2, 3};
  j["experiments"][0] = {{"file", f.fp}, {"baseline", true}, {"label", "FP32"}, {"network", "N"}, {"protocol", "P"}};
  j["experiments"][1]["reference"] = {"twn_ref"};
  j["experiments"][1]["network"] = "N";
  const Study s = parse_study(j, "s.json");
  StudyPlan p = plan_study(s, f.options());
  // fp: 99.0, 99.2, 99.4 -> mean 99.2, std 0.2; ternary: 98.5, 98.9 (third seed unfinished).
  const double acc[] = {0.990, 0.985, 0.992, 0.989, 0.994};
  for (int i = 0; i < 5; ++i) {
    finish_in_runs(p.runs[size_t(i)], acc[i]);
    // fp_s1 and fp_s2 record the test accuracy at the best validation epoch (99.1, 99.4);
    // fp_s3 and the ternary runs are as an older lowbit wrote them, without it.
    if (i == 0 || i == 2) {
      const RunPaths rp(p.runs[size_t(i)].run_dir);
      json m = load_json_file(rp.metrics);
      m["best_val_epoch"] = 1;
      m["test_accuracy_at_best_val"] = i == 0 ? 0.991 : 0.994;
      write_json_atomic(rp.metrics, m);
    }
    record_finished_run(p.runs[size_t(i)]);
  }
  const json refs = {{"references",
                      {{{"id", "twn_ref"}, {"method", "TWN"}, {"dataset", "mnist"}, {"network", "N"},
                        {"protocol", "Q"}, {"metric", "error"}, {"value", 0.65}, {"fp_value", 0.59},
                        {"paper", "TWN"}, {"table", "Table 2"}, {"evidence", "S"}}}}};
  const StudyReport rep = build_study_report(s, p, parse_references(refs, "refs.json"));
  REQUIRE(rep.rows.size() == 2);
  const MethodRow& fp = rep.rows[0];
  const MethodRow& tw = rep.rows[1];
  CHECK(fp.seeds_done.size() == 3);
  CHECK(fp.test_acc.mean == doctest::Approx(99.2));
  CHECK(fp.test_acc.std == doctest::Approx(0.2));
  CHECK(tw.seeds_done == std::vector<uint64_t>{1, 2});
  CHECK(tw.seeds_total == 3);
  CHECK(tw.test_acc.mean == doctest::Approx(98.7));
  CHECK(tw.test_acc.std == doctest::Approx(std::sqrt(0.08)));
  CHECK(*tw.gap_to_baseline == doctest::Approx(-0.5));
  CHECK(*tw.compression == 8.0);
  CHECK(*tw.macs_ternary == 900.0);
  CHECK(tw.seconds_per_epoch.mean == 10.0);
  CHECK(tw.val_curves.size() == 2);

  const json out = rep.to_json();
  const json& r = out["rows"][1]["references"][0];
  CHECK(r["accuracy_percent"].get<double>() == doctest::Approx(99.35));
  CHECK(r["delta_ours_minus_paper_pp"].get<double>() == doctest::Approx(98.7 - 99.35));
  CHECK(r["paper_gap_to_fp_pp"].get<double>() == doctest::Approx(-0.06));
  CHECK(contains(r["differences"].get<std::string>(), "protocol"));  // ours not stated
  CHECK(out["rows"][1]["test_accuracy_at_best_val_epoch"].is_null());  // no ternary seed has it
  CHECK(out["rows"][1]["seeds_without_test_accuracy_at_best_val"] == 2);
  CHECK(out["rows"][0]["test_accuracy_at_best_val_epoch"]["n"] == 2);
  CHECK(out["rows"][0]["test_accuracy_at_best_val_epoch"]["mean"].get<double>() == doctest::Approx(99.25));
  CHECK(fp.test_at_best_val.std == doctest::Approx(std::sqrt(0.045)));
  CHECK(fp.seeds_without_test_at_best_val == 1);
  const std::string md = rep.to_markdown();
  CHECK(contains(md, "| 98.70 ± 0.28 |"));
  CHECK(contains(md, "| 2/3 |"));
  CHECK(contains(md, "FP32 (baseline)"));
  CHECK(contains(md, "| 99.25 ± 0.21 (2/3 seeds) |"));  // fp: two of its three seeds
  CHECK(contains(md, "| — |"));                           // ternary: none of its seeds
  CHECK(contains(md, "3 finished run(s) were trained by a lowbit that did not record it"));

  const std::vector<std::string> files = write_study_report(rep, f.tmp / "results/s");
  CHECK(files.size() == 4);
  for (const std::string& file : files) {
    CHECK(fs::exists(file));
    if (file.ends_with(".svg")) CHECK(well_formed(read_file(file)));
  }
  // A paper that reports its best-validation epoch's test number is compared with ours of the
  // same kind: fp's two seeds that record it (99.1, 99.4), not its final models' 99.2.
  json j3 = j;
  j3["experiments"][0]["reference"] = {"bnn_ref"};
  json refs3 = refs;
  refs3["references"].push_back({{"id", "bnn_ref"}, {"method", "BNN"}, {"dataset", "mnist"}, {"network", "N"},
                                 {"protocol", "P"}, {"metric", "error"}, {"value", 1.40}, {"paper", "BNN"},
                                 {"table", "Table 1"}, {"evidence", "S"}, {"selection", "best_val"}});
  const Study s3 = parse_study(j3, "s.json");
  const StudyReport rep3 = build_study_report(s3, plan_study(s3, f.options()), parse_references(refs3, "refs.json"));
  const json out3 = rep3.to_json();
  const json& b = out3["rows"][0]["references"][0];
  CHECK(b["selection"] == "best_val");
  CHECK(b["ours_accuracy_percent"]["n"] == 2);
  CHECK(b["delta_ours_minus_paper_pp"].get<double>() == doctest::Approx(99.25 - 98.60));
  CHECK(contains(rep3.to_markdown(), "| 99.25 ± 0.21 @ best val (2/3 seeds) | BNN | 98.60 (err 1.40) | +0.65 |"));
  CHECK(out3["rows"][1]["references"][0]["selection"] == "final");  // the default
  json bad_sel = refs3;
  bad_sel["references"][1]["selection"] = "best";
  CHECK(contains(error_of([&] { parse_references(bad_sel, "refs.json"); }), "references[1].selection"));

  // A row naming a reference that the file lacks fails the report.
  json bad = j;
  bad["experiments"][1]["reference"] = {"nope"};
  const Study s2 = parse_study(bad, "s.json");
  const StudyPlan p2 = plan_study(s2, f.options());
  CHECK(contains(error_of([&] { build_study_report(s2, p2, {}); }), "reference \"nope\" is not in"));
}

TEST_CASE("study references: bad entries are rejected with the JSON path") {
  const json good = {{"id", "a"}, {"method", "m"}, {"dataset", "mnist"}, {"network", "n"}, {"protocol", "p"},
                     {"metric", "accuracy"}, {"value", 99.0}, {"paper", "x"}, {"table", "t"}, {"evidence", "M"}};
  CHECK(parse_references({{"references", {good}}}, "r.json").size() == 1);
  CHECK(contains(error_of([&] { parse_references({{"references", {good, good}}}, "r.json"); }),
                 "r.json: references[1].id: id \"a\" is used twice"));
  json bad = good;
  bad["evidence"] = "X";
  CHECK(contains(error_of([&] { parse_references({{"references", {bad}}}, "r.json"); }), "references[0].evidence"));
  bad = good;
  bad["value"] = 120;
  CHECK(contains(error_of([&] { parse_references({{"references", {bad}}}, "r.json"); }), "references[0].value"));
}

TEST_CASE("svg chart: well-formed, escaped, nice ticks, log axis") {
  CHECK(nice_ticks(0, 10, 6) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(nice_ticks(97.3, 99.6, 6) == std::vector<double>{97.0, 97.5, 98.0, 98.5, 99.0, 99.5, 100.0});
  SvgChart c;
  c.title = "a < b & \"c\"";
  c.x_label = "epoch";
  c.y_label = "acc";
  SvgSeries line;
  line.name = "TWN";
  line.x = {1, 2, 3};
  line.y = {98, 99, 99.2};
  line.lo = {97.5, 98.8, 99.0};
  line.hi = {98.5, 99.1, 99.4};
  c.series.push_back(line);
  const std::string svg = c.to_svg();
  CHECK(svg.starts_with("<?xml"));
  CHECK(well_formed(svg));
  CHECK(contains(svg, "a &lt; b &amp; &quot;c&quot;"));
  CHECK(contains(svg, "<polygon"));  // the band
  CHECK(contains(svg, "<polyline"));
  CHECK_FALSE(contains(svg, "nan"));

  SvgChart size;
  size.log_x = true;
  SvgSeries pt;
  pt.name = "FP32";
  pt.line = false;
  pt.label_points = true;
  pt.x = {18.6e6};
  pt.y = {99.2};
  pt.lo = {99.0};
  pt.hi = {99.4};
  size.series.push_back(pt);
  pt.name = "BNN";
  pt.x = {0.6e6};
  size.series.push_back(pt);
  const std::string s2 = size.to_svg();
  CHECK(well_formed(s2));
  CHECK(contains(s2, ">1M</text>"));
  CHECK(contains(s2, ">10M</text>"));
  pt.x = {0.0};
  size.series.push_back(pt);
  CHECK(contains(error_of([&] { size.to_svg(); }), "log x axis needs x > 0"));
}
