// TNN's two stages as one run (experiment/tnn_run.h): `lowbit tnn-convert TEACHER.json`,
// and the study kind "tnn" that runs it per seed with its teacher-vs-student table.
#include <doctest/doctest.h>

#include <filesystem>

#include "core/serialize.h"
#include "experiment/run_files.h"
#include "experiment/study.h"
#include "experiment/study_report.h"
#include "experiment/study_run_kind.h"
#include "experiment/tnn_run.h"
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

// A small teacher: trains on 2,000 MNIST images (the rest is validation) in seconds.
const json kTeacher = json::parse(R"({
  "name": "tnn_teacher", "seed": 3,
  "data": {"dataset": "mnist", "validation": 58000, "transforms": [{"type": "scale", "range": [-1, 1]}]},
  "model": {"layers": [
    {"type": "flatten"},
    {"type": "quant_linear", "in_features": 784, "out_features": 32, "bias": false,
     "input_quantizer": {"name": "tnn", "stochastic": true}},
    {"type": "batch_norm1d", "num_features": 32}, {"type": "tanh"},
    {"type": "quant_linear", "in_features": 32, "out_features": 10, "bias": false,
     "input_quantizer": {"name": "tnn", "stochastic": true}},
    {"type": "batch_norm1d", "num_features": 10}]},
  "train": {"epochs": 2, "batch_size": 50, "eval_batch_size": 2000, "optimizer": {"name": "adam", "lr": 0.01},
            "loss": "squared_hinge"}})");

struct Fixture {
  TempDir tmp;
  std::string teacher = tmp / "exp/teacher.json";
  Fixture() {
    register_tnn_run_kind();
    write_text_file(teacher, kTeacher.dump());
  }
  json study() const {
    return {{"name", "tnns"},
            {"seeds", {1, 2}},
            {"set", {"train.epochs=1"}},
            {"experiments", json::array({{{"file", teacher}, {"kind", "tnn"}, {"run", "tnn"}, {"label", "TNN"}}})}};
  }
  StudyOptions options() const {
    return {.runs_root = tmp / "runs", .results_root = tmp / "results", .extra_sets = {}, .extra_compress_sets = {}, .only = {}};
  }
};

// metrics.json as the conversion writes it (the fields the table reads).
json tnn_metrics_of(double teacher, double student, double nonzero0, double nonzero1) {
  return {{"teacher_run", "x"}, {"examples", 1000}, {"teacher_test_accuracy", teacher},
          {"student_test_accuracy", student}, {"student_fit_images_accuracy", 0.9},
          {"layers", json::array({{{"neurons", 30}, {"inputs_per_neuron", 10}, {"mean_nonzero_fraction", nonzero0}},
                                  {{"neurons", 10}, {"inputs_per_neuron", 30}, {"mean_nonzero_fraction", nonzero1}}})}};
}

}  // namespace

TEST_CASE("tnn run config: the teacher's resolved experiment without its output folder, and the fitting size") {
  json resolved = {{"name", "t"}, {"output", {{"dir", "runs/t"}}}, {"seed", 1}};
  const json c = tnn_run_config(resolved, 500);
  CHECK(c == json{{"teacher", {{"name", "t"}, {"seed", 1}}}, {"tnn_convert", {{"examples", 500}}}});
}

TEST_CASE("study kind tnn: one tnn-convert child per seed; resume, finish and results copy with teacher files") {
  Fixture f;
  const Study s = parse_study(f.study(), "s.json");
  REQUIRE(s.experiments[0].kind->name == "tnn");
  const StudyPlan p = plan_study(s, f.options());
  REQUIRE(p.runs.size() == 2);
  const PlannedRun& r = p.runs[1];
  CHECK(r.name == "tnn_s2");
  CHECK(r.state == RunState::fresh);
  CHECK(r.child_args() == std::vector<std::string>{"tnn-convert", f.teacher, "--out", r.run_dir, "--examples",
                                                   "1000", "--set", "train.epochs=1", "--set", "seed=2"});
  CHECK(r.config["teacher"]["seed"] == 2);
  CHECK(r.config["teacher"]["train"]["epochs"] == 1);
  CHECK_FALSE(r.config["teacher"].contains("output"));
  CHECK(r.config["tnn_convert"]["examples"] == 1000);

  // A teacher checkpoint means the run resumes (the same command: the teacher resumes itself).
  write_text_file(fs::path(r.run_dir) / "teacher/checkpoint.safetensors", "x");
  write_json_atomic(RunPaths(r.run_dir).config, r.config);
  CHECK(plan_study(s, f.options()).runs[1].state == RunState::resume);
  // Finished with metrics.json; the copy keeps the teacher's log and metrics in teacher/.
  for (const char* file : {"teacher/log.jsonl", "teacher/metrics.json", "metrics.json"})
    write_text_file(fs::path(r.run_dir) / file, "{}");
  const StudyPlan p3 = plan_study(s, f.options());
  REQUIRE(p3.runs[1].state == RunState::finished);
  record_finished_run(p3.runs[1]);
  for (const char* file : {"config.json", "teacher/log.jsonl", "teacher/metrics.json", "metrics.json"})
    CHECK(fs::exists(fs::path(p3.runs[1].results_dir) / file));
  // Another teacher config for that folder is refused, naming it.
  StudyOptions o = f.options();
  o.extra_sets = {"train.batch_size=20"};
  CHECK(contains(error_of([&] { plan_study(s, o); }), "tnn_s2: holds a finished run of another config"));
}

TEST_CASE("study kind tnn: \"options\": {\"examples\": N} reaches the child and the config; bad options are rejected") {
  Fixture f;
  json j = f.study();
  j["experiments"][0]["options"] = {{"examples", 5000}};
  const Study s = parse_study(j, "s.json");
  const StudyPlan p = plan_study(s, f.options());
  CHECK(p.runs[0].child_args()[5] == "5000");
  CHECK(p.runs[0].config["tnn_convert"]["examples"] == 5000);
  j["experiments"][0]["options"] = {{"examples", 0}};
  CHECK(contains(error_of([&] { parse_study(j, "s.json"); }), "experiments[0].options.examples"));
  j["experiments"][0]["options"] = {{"exemples", 10}};
  CHECK(contains(error_of([&] { parse_study(j, "s.json"); }), "exemples"));
  // A training entry takes no options.
  j = f.study();
  j["experiments"][1] = {{"file", f.teacher}, {"run", "plain"}, {"options", {{"examples", 5}}}};
  CHECK(contains(error_of([&] { parse_study(j, "s.json"); }),
                 "experiments[1].options: kind \"train\" takes no options"));
}

TEST_CASE("study kind tnn: teacher vs student table, mean ± std over seeds") {
  Fixture f;
  const Study s = parse_study(f.study(), "s.json");
  const StudyPlan p = plan_study(s, f.options());
  const json metrics[] = {tnn_metrics_of(0.990, 0.980, 0.5, 0.2), tnn_metrics_of(0.992, 0.976, 0.5, 0.2)};
  for (size_t i = 0; i < 2; ++i) {
    fs::create_directories(p.runs[i].results_dir);
    write_json_atomic(RunPaths(p.runs[i].results_dir).config, p.runs[i].config);
    write_json_atomic(RunPaths(p.runs[i].results_dir).metrics, metrics[i]);
  }
  const StudyReport rep = build_study_report(s, p, {});
  CHECK(rep.rows.empty());  // the tnn entry has its own table, not a training row
  REQUIRE(rep.kinds.size() == 1);
  const json& row = rep.kinds[0].second.json[0];
  CHECK(row["seeds_done"] == 2);
  CHECK(row["teacher_test_accuracy_percent"]["mean"].get<double>() == doctest::Approx(99.1));
  CHECK(row["student_test_accuracy_percent"]["mean"].get<double>() == doctest::Approx(97.8));
  CHECK(row["student_test_accuracy_percent"]["std"].get<double>() == doctest::Approx(0.2828427).epsilon(1e-5));
  CHECK(row["student_minus_teacher_pp"]["mean"].get<double>() == doctest::Approx(-1.3));
  // Nonzero weights weighted by layer size: (300·0.5 + 300·0.2) / 600.
  CHECK(row["student_nonzero_weights_percent"]["mean"].get<double>() == doctest::Approx(35.0));
  const std::string md = rep.to_markdown();
  CHECK(contains(md, "## TNN as in the paper: teacher → ternary student"));
  CHECK(contains(md, "| TNN | 2/2 | 99.10 ± 0.14 | 97.80 ± 0.28 | -1.30 | 35.00 ± 0.00 | 1000 | - |"));
}

TEST_CASE("tnn-convert of an experiment file: trains the teacher, converts, reuses it; refuses another run's folder") {
  if (!fs::exists("data/mnist")) {
    MESSAGE("data/mnist missing: run scripts/get_data.sh");
    CHECK(false);
    return;
  }
  Fixture f;
  const std::string out = f.tmp / "run";
  const json m = train_and_convert_tnn(f.teacher, {"train.epochs=1"}, {.out_dir = out, .examples = 200});
  CHECK(m["examples"] == 200);
  CHECK(m["teacher_test_accuracy"].get<double>() > 0.5);
  CHECK(m["student_test_accuracy"].get<double>() > 0.3);  // chance is 0.1
  CHECK(load_json_file(RunPaths(out).metrics) == m);
  CHECK(fs::exists(fs::path(out) / "student.safetensors"));
  CHECK(load_json_file(RunPaths(out).config) ==
        tnn_run_config(resolve_tnn_teacher(f.teacher, {"train.epochs=1"}), 200));
  const std::string teacher_log = RunPaths(out + "/teacher").log;
  REQUIRE(read_log(teacher_log).size() == 1);
  // Again: the finished teacher is reused, not trained again; the student is the same.
  const json again = train_and_convert_tnn(f.teacher, {"train.epochs=1"}, {.out_dir = out, .examples = 200});
  CHECK(read_log(teacher_log).size() == 1);
  CHECK(again["student_test_accuracy"] == m["student_test_accuracy"]);
  // Another teacher config (or fitting size) into that folder: refused before any training.
  const std::string e = error_of([&] {
    train_and_convert_tnn(f.teacher, {"train.epochs=1", "seed=4"}, {.out_dir = out, .examples = 200});
  });
  CHECK(contains(e, "holds another run"));
  CHECK(contains(e, RunPaths(out).config));
  CHECK(read_log(teacher_log).size() == 1);
}
