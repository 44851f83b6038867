#include "experiment/tnn_run.h"

#include <filesystem>
#include <iostream>
#include <memory>

#include "core/check.h"
#include "core/format.h"
#include "core/json_args.h"
#include "core/serialize.h"
#include "experiment/budget_override.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/run_files.h"
#include "experiment/study.h"
#include "experiment/study_report.h"
#include "experiment/study_run_kind.h"
#include "experiment/train_or_reuse.h"

namespace lowbit {

using nlohmann::json;
namespace fs = std::filesystem;

json tnn_run_config(json teacher_resolved, int64_t examples) {
  teacher_resolved.erase("output");
  return {{"teacher", std::move(teacher_resolved)}, {"tnn_convert", {{"examples", examples}}}};
}

json resolve_tnn_teacher(const std::string& file, const std::vector<std::string>& sets) {
  return resolve_experiment(load_experiment_file(file, sets));
}

json tnn_metrics(const TnnConversion& c, const std::string& teacher_run, int64_t examples) {
  return {{"teacher_run", teacher_run},
          {"examples", examples},
          {"teacher_test_accuracy", c.teacher_test_accuracy},
          {"student_test_accuracy", c.student_test_accuracy},
          {"student_fit_images_accuracy", c.student_train_subset_accuracy},
          {"layers", c.layers}};
}

json convert_and_write_tnn(Experiment& teacher, const std::string& teacher_run, const std::string& out_dir,
                           int64_t examples) {
  const int64_t n = std::min<int64_t>(examples, teacher.train.size());
  std::cout << "lowbit tnn-convert: " << teacher_run << " (fitting on the first " << n << " training images)"
            << std::endl;
  const TnnConversion c = convert_tnn(teacher, {.examples = examples});
  for (const json& l : c.layers) std::cout << "  " << l.dump() << '\n';
  std::cout << "teacher test accuracy " << format_double("%.2f%%", 100 * c.teacher_test_accuracy)
            << ", student " << format_double("%.2f%%", 100 * c.student_test_accuracy) << " (fitting images: "
            << format_double("%.2f%%", 100 * c.student_train_subset_accuracy) << ")" << std::endl;
  fs::create_directories(out_dir);
  save_safetensors((fs::path(out_dir) / "student.safetensors").string(), c.student, {{"format", "pt"}});
  const json metrics = tnn_metrics(c, teacher_run, n);
  write_json_atomic((fs::path(out_dir) / "metrics.json").string(), metrics);  // last: marks the run finished
  std::cout << "written: " << out_dir << "/student.safetensors, " << out_dir << "/metrics.json" << std::endl;
  return metrics;
}

json train_and_convert_tnn(const std::string& file, const std::vector<std::string>& sets,
                           const TnnRunOptions& opt) {
  ExperimentConfig teacher = parse_experiment(resolve_tnn_teacher(file, sets));
  if (const std::string w = budget_override_warning(load_json_file(file), sets);
      !w.empty())
    std::cerr << "lowbit tnn-convert: warning: " << file << ": " << w << "\n";
  const std::string out_dir = opt.out_dir.empty() ? teacher.output_dir : opt.out_dir;
  const std::string teacher_dir = (fs::path(out_dir) / "teacher").string();
  const json config = tnn_run_config(teacher.resolved, opt.examples);
  const RunPaths run(out_dir);
  if (fs::exists(run.config)) {
    const json stored = load_json_file(run.config);
    LB_CHECK(stored == config, run.config, ": holds another run (another teacher config or --examples); it is "
             "never overwritten: remove the folder or choose another --out");
  }
  teacher.output_dir = teacher_dir;
  teacher.resolved["output"]["dir"] = teacher_dir;
  // Everything is checked before the hours of training: the teacher parsed, DIR is this run's.
  fs::create_directories(out_dir);
  write_json_atomic(run.config, config);
  std::unique_ptr<Experiment> ex =
      train_or_reuse(teacher, {.source = file, .again = "lowbit tnn-convert", .interactive = opt.interactive});
  return convert_and_write_tnn(*ex, teacher_dir, out_dir, opt.examples);
}

// ---- the study kind "tnn"

namespace {

// "options": {"examples": N}: the training images the student is fitted on (default 1000,
// as `lowbit tnn-convert`; more fit better and cost time and memory linearly).
int64_t tnn_examples(const json& options, const std::string& path = "options") {
  JsonArgs a(options, path);
  const int64_t n = a.positive_int("examples", 1000);
  a.finish();
  return n;
}

json resolve_tnn_run(const PlannedRun& r) {
  return tnn_run_config(resolve_tnn_teacher(r.experiment->file, r.sets), tnn_examples(r.experiment->options));
}

std::vector<std::string> tnn_args(const PlannedRun& r) {
  std::vector<std::string> args = {"tnn-convert", r.experiment->file, "--out", r.run_dir, "--examples",
                                   std::to_string(tnn_examples(r.experiment->options))};
  for (const std::string& s : r.sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  return args;  // a started teacher resumes by itself (train_or_reuse)
}

bool tnn_has_progress(const std::string& dir) {
  const RunPaths teacher((fs::path(dir) / "teacher").string());
  return fs::exists(teacher.checkpoint) || fs::exists(teacher.metrics);
}

// Weighted over layers: nonzero student weights / all student weights.
double nonzero_fraction(const json& layers) {
  double kept = 0, total = 0;
  for (const json& l : layers) {
    const double w = l.at("neurons").get<double>() * l.at("inputs_per_neuron").get<double>();
    kept += w * l.at("mean_nonzero_fraction").get<double>();
    total += w;
  }
  return total > 0 ? kept / total : 0;
}

KindReport tnn_report(const Study& study, const StudyPlan& plan, const std::vector<PaperReference>& refs) {
  KindReport out;
  out.json = json::array();
  std::string rows;
  for (const StudyExperiment& e : study.experiments) {
    if (e.kind->name != "tnn") continue;
    std::vector<double> teacher, student, delta, nonzero;
    const EntryRuns runs = entry_runs(plan, e);
    const int64_t total = runs.total, done = static_cast<int64_t>(runs.finished.size());
    int64_t examples = 0;
    for (const PlannedRun* r : runs.finished) {
      const std::string file = (fs::path(r->results_dir) / e.kind->finished_file).string();
      try {
        const json m = load_json_file(file);
        teacher.push_back(100 * m.at("teacher_test_accuracy").get<double>());
        student.push_back(100 * m.at("student_test_accuracy").get<double>());
        delta.push_back(student.back() - teacher.back());
        nonzero.push_back(100 * nonzero_fraction(m.at("layers")));
        examples = m.at("examples").get<int64_t>();
      } catch (const json::exception& ex) {
        LB_FAIL(file, ": not a lowbit tnn-convert metrics.json: ", ex.what());
      }
    }
    std::string paper = "-";
    json refs_j = json::array();
    for (const std::string& id : e.references) {
      const PaperReference* ref = &find_reference(study, e, refs, id);
      paper = format_double("%.2f", ref->accuracy()) + " (" + ref->paper + ", " + ref->table + "; [" +
              ref->evidence + "]" + (ref->network == e.network ? "" : "; network differs: " + ref->network) + ")";
      refs_j.push_back({{"id", ref->id}, {"accuracy_percent", ref->accuracy()}, {"evidence", ref->evidence}});
    }
    rows += "| " + e.label + " | " + std::to_string(done) + "/" + std::to_string(total) + " | " + mean_std_text(teacher) +
            " | " + mean_std_text(student) + " | " + (delta.empty() ? "-" : format_double("%+.2f", stats_of(delta).mean)) +
            " | " + mean_std_text(nonzero) + " | " + (done ? std::to_string(examples) : "-") + " | " + paper + " |\n";
    out.json.push_back({{"run", e.run}, {"label", e.label}, {"file", e.file}, {"seeds_done", done},
                        {"seeds_total", total}, {"network", e.network}, {"protocol", e.protocol},
                        {"teacher_test_accuracy_percent", stats_json(teacher)},
                        {"student_test_accuracy_percent", stats_json(student)},
                        {"student_minus_teacher_pp", stats_json(delta)},
                        {"student_nonzero_weights_percent", stats_json(nonzero)},
                        {"fitting_images", done ? json(examples) : json(nullptr)}, {"references", refs_j}});
  }
  if (rows.empty()) return out;
  std::string& o = out.markdown;
  o += "## TNN as in the paper: teacher → ternary student (`lowbit tnn-convert`)\n\n";
  o += "| method | seeds | teacher test acc % | student test acc % | Δ student − teacher (pp) | "
       "student nonzero weights % | fitted on (images) | paper |\n";
  o += "|---|---|---:|---:|---:|---:|---:|---|\n";
  o += rows + "\n";
  o += "Teacher: float weights, ternary activations (stochastic firing in training; tested with the "
       "deterministic firing round(clamp(x))). Student: the same network with ternary weights {−1, 0, +1} "
       "and ternary activations, built neuron by neuron to mimic the teacher (docs/tnn.md), fitted on the "
       "first training images (column \"fitted on\"); the layers before the first ternary-input layer stay float, as the "
       "authors' FP \"prep\" layer. mean ± sample std over seeds; Δ is the mean of the per-seed "
       "differences. The TNN paper's own error table is not confirmed in papers.md (§5): no paper "
       "number unless a reference is listed.\n\n";
  return out;
}

}  // namespace

void register_tnn_run_kind() {
  auto k = std::make_shared<RunKind>();
  k->name = "tnn";
  k->finished_file = "metrics.json";
  k->result_files = {"config.json", "teacher/log.jsonl", "teacher/metrics.json", "metrics.json"};
  k->check_options = [](const json& options, const std::string& path) { tnn_examples(options, path); };
  k->resolve = resolve_tnn_run;
  k->args = tnn_args;
  k->has_progress = tnn_has_progress;
  k->warning = experiment_file_warning;
  k->report = tnn_report;
  register_run_kind(k);
}

}  // namespace lowbit
