#include "experiment/study.h"

#include <fnmatch.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "core/check.h"
#include "core/json_args.h"
#include "core/serialize.h"
#include "experiment/budget_override.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/run_files.h"
#include "experiment/study_run_kind.h"
#include "core/registry.h"

namespace lowbit {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Run names become folder names: keep them plain.
void check_run_name(const std::string& name, const std::string& path) {
  LB_CHECK(!name.empty(), path, ": run name is empty");
  for (char c : name)
    LB_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.', path,
             ": run name \"", name, "\" may only hold letters, digits, '_', '-' and '.'");
  LB_CHECK(name != "." && name != "..", path, ": run name \"", name, "\" is not a folder name");
}

// A group's label names its chart files (group_chart_suffix): refuse labels that would give
// an empty or unwieldy name, or the same files as another group's, before anything runs.
// The first `n_listed` experiments come from "experiments", the rest from the "sweep".
void check_group_labels(const std::vector<StudyExperiment>& experiments, size_t n_listed) {
  std::map<std::string, std::string> group_of_suffix;
  for (size_t i = 0; i < experiments.size(); ++i) {
    const std::string& group = experiments[i].group;
    const std::string path = i < n_listed ? json_path("experiments", i) + ".group" : "sweep.group";
    const std::string suffix = group_chart_suffix(group);
    LB_CHECK(group.empty() || !suffix.empty(), path, ": group \"", group,
             "\" needs a letter or digit (its chart files are named after it)");
    LB_CHECK(suffix.size() <= kMaxGroupSlug + 1, path, ": group \"", group, "\" would name its charts \"",
             group_chart_files(group).accuracy_vs_epoch, "\"; keep a group's label to ", kMaxGroupSlug,
             " letters, digits and separators and put the explanation in \"description\"");
    const auto [it, fresh] = group_of_suffix.emplace(suffix, group);
    LB_CHECK(fresh || it->second == group, path, ": groups \"", it->second, "\" and \"", group,
             "\" would both write \"", group_chart_files(group).accuracy_vs_epoch,
             "\"; give them labels that differ in a letter or digit");
  }
}

std::vector<std::string> string_list(JsonArgs& a, std::string_view key) {
  std::vector<std::string> out;
  const json* list = a.array(key);
  if (!list) {
    LB_CHECK(!a.get(key) || a.get(key)->is_null(), a.path_of(key), ": expected a list of strings, got ",
             json_brief(*a.get(key)));
    return out;
  }
  for (size_t i = 0; i < list->size(); ++i) {
    LB_CHECK((*list)[i].is_string(), json_path(a.path_of(key), i), ": expected a string, got ",
             json_brief((*list)[i]));
    out.push_back((*list)[i].get<std::string>());
  }
  return out;
}

void check_file(const std::string& file, const std::string& path) {
  LB_CHECK(!file.empty(), path, ": empty file name");
  LB_CHECK(fs::is_regular_file(file), path, ": experiment file \"", file, "\" not found (paths are ",
           "relative to the working directory, ", fs::current_path().string(), ")");
}

// The descriptive keys shared by listed experiments and the sweep.
void read_description(JsonArgs& a, StudyExperiment& e) {
  e.label = a.string("label", e.label);
  e.group = a.string("group", e.group);
  e.network = a.string("network", e.network);
  e.protocol = a.string("protocol", e.protocol);
  e.references = string_list(a, "reference");
  e.baseline = a.boolean("baseline", false);
}

StudyExperiment parse_listed(const json& v, const std::string& path,
                             const std::vector<std::string>& study_sets,
                             const std::vector<std::string>& study_compress_sets) {
  StudyExperiment e;
  e.sets = study_sets;
  e.kind = &run_kind("train");
  if (v.is_string()) {
    e.file = v.get<std::string>();
    check_file(e.file, path);
    e.run = fs::path(e.file).stem().string();
  } else {
    JsonArgs a(v, path);
    e.file = a.string("file");
    check_file(e.file, a.path_of("file"));
    e.run = a.string("run", fs::path(e.file).stem().string());
    check_run_name(e.run, a.path_of("run"));
    read_description(a, e);
    for (std::string& s : string_list(a, "set")) e.sets.push_back(std::move(s));
    if (a.has("kind")) e.kind = &run_kind(a.string("kind"), a.path_of("kind"));
    if (const json* options = a.object("options")) {
      LB_CHECK(e.kind->check_options, a.path_of("options"), ": kind \"", e.kind->name, "\" takes no options");
      e.kind->check_options(*options, a.path_of("options"));
      e.options = *options;
    }
    const std::vector<std::string> own = string_list(a, "compress_set");
    LB_CHECK(own.empty() || e.kind->takes_compress_set, a.path_of("compress_set"),
             ": only for \"kind\": \"compress\" (this entry is kind \"", e.kind->name, "\")");
    a.finish();
    if (e.kind->takes_compress_set) {
      e.compress_sets = study_compress_sets;
      e.compress_sets.insert(e.compress_sets.end(), own.begin(), own.end());
    }
  }
  if (e.label.empty()) e.label = e.run;
  return e;
}

// "sweep": one file; each value a run. Values set `path` or the `layer_key` of every layer
// (of model.layers) that already holds that key.
std::vector<StudyExperiment> parse_sweep(const json& v, const std::string& path,
                                         const std::vector<std::string>& study_sets) {
  JsonArgs a(v, path);
  StudyExperiment base;
  base.sets = study_sets;
  base.kind = &run_kind("train");  // a sweep sets values in a training config
  base.file = a.string("file");
  check_file(base.file, a.path_of("file"));
  read_description(a, base);
  const std::string run_prefix = a.string("run_prefix", "");
  const std::string set_path = a.string("path", "");
  const std::string layer_key = a.string("layer_key", "");
  LB_CHECK(set_path.empty() != layer_key.empty(), path,
           ": give exactly one of \"path\" (a --set path) and \"layer_key\" (set on every layer)");
  const json& values = a.required("values");
  LB_CHECK(values.is_object() && !values.empty(), a.path_of("values"),
           ": expected a non-empty object {run name: value}, got ", json_brief(values));
  for (std::string& s : string_list(a, "set")) base.sets.push_back(std::move(s));
  a.finish();

  std::vector<std::string> layer_paths;
  if (!layer_key.empty()) {
    const json raw = load_json_file(base.file);
    const json* layers = raw.contains("model") && raw["model"].is_object() && raw["model"].contains("layers")
                             ? &raw["model"]["layers"]
                             : nullptr;
    LB_CHECK(layers && layers->is_array(), a.path_of("file"), ": ", base.file, " has no model.layers list");
    for (size_t i = 0; i < layers->size(); ++i)
      if ((*layers)[i].is_object() && (*layers)[i].contains(layer_key))
        layer_paths.push_back("model.layers[" + std::to_string(i) + "]." + layer_key);
    LB_CHECK(!layer_paths.empty(), a.path_of("layer_key"), ": no layer of ", base.file, " has \"",
             layer_key, "\"");
  }
  std::vector<StudyExperiment> out;
  for (const auto& [name, value] : values.items()) {
    StudyExperiment e = base;
    e.run = run_prefix + name;
    check_run_name(e.run, json_path(a.path_of("values"), name));
    e.label = e.run;
    for (const std::string& p : layer_paths.empty() ? std::vector<std::string>{set_path} : layer_paths)
      e.sets.push_back(p + "=" + value.dump());
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<uint64_t> parse_seeds(const json& j) {
  LB_CHECK(j.contains("seeds"), "\"seeds\": missing (a list of non-negative integers, e.g. [1, 2, 3])");
  const json& s = j["seeds"];
  LB_CHECK(s.is_array() && !s.empty(), "\"seeds\": expected a non-empty list of non-negative integers, got ",
           json_brief(s));
  std::vector<uint64_t> seeds;
  for (size_t i = 0; i < s.size(); ++i) {
    const json& v = s[i];
    LB_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
             "\"seeds\"[", i, "]: expected a non-negative integer, got ", json_brief(v));
    const uint64_t seed = v.get<uint64_t>();
    for (uint64_t earlier : seeds) LB_CHECK(earlier != seed, "\"seeds\"[", i, "]: seed ", seed, " is listed twice");
    seeds.push_back(seed);
  }
  return seeds;
}

// Whether a stored config.json describes the run `expected` asks for (resolved, output.dir
// ignored: run_config_differences).
bool files_equal_json(const std::string& file, const json& expected) {
  try {
    return run_config_differences(load_json_file(file), expected).empty();
  } catch (const Error&) {
    return false;  // unreadable: not this run
  }
}

}  // namespace

const char* to_string(RunState s) {
  switch (s) {
    case RunState::finished: return "finished";
    case RunState::resume: return "resume";
    case RunState::fresh: return "fresh";
  }
  return "?";
}

std::string group_chart_suffix(const std::string& group) {
  std::string slug;
  for (char c : group) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      slug += char(std::tolower(static_cast<unsigned char>(c)));
    else if (!slug.empty() && slug.back() != '_')
      slug += '_';
  }
  while (!slug.empty() && slug.back() == '_') slug.pop_back();
  return slug.empty() ? "" : "_" + slug;
}

GroupChartFiles group_chart_files(const std::string& group) {
  const std::string suffix = group_chart_suffix(group);
  return {"accuracy_vs_epoch" + suffix + ".svg", "accuracy_vs_size" + suffix + ".svg"};
}

Study parse_study(const json& j, const std::string& source) {
  Study st;
  try {
    JsonArgs a(j, "");
    st.name = a.string("name");
    check_run_name(st.name, "\"name\"");
    st.description = a.string("description", "");
    st.references = a.string("references", st.references);
    a.allow({"seeds"});
    st.seeds = parse_seeds(j);
    const std::vector<std::string> study_sets = string_list(a, "set");
    const std::vector<std::string> study_compress_sets = string_list(a, "compress_set");
    size_t n_listed = 0;
    if (const json* list = a.array("experiments")) {
      n_listed = list->size();
      for (size_t i = 0; i < list->size(); ++i)
        st.experiments.push_back(
            parse_listed((*list)[i], json_path("experiments", i), study_sets, study_compress_sets));
    }
    if (const json* sweep = a.object("sweep"))
      for (StudyExperiment& e : parse_sweep(*sweep, "sweep", study_sets)) st.experiments.push_back(std::move(e));
    a.finish();
    LB_CHECK(!st.experiments.empty(), "the study has no runs: give \"experiments\" or a \"sweep\"");
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < st.experiments.size(); ++i) {
      const auto [it, fresh] = seen.emplace(st.experiments[i].run, i);
      LB_CHECK(fresh, "duplicate run name \"", st.experiments[i].run, "\" (experiments ", it->second,
               " and ", i, "); give one a different \"run\"");
    }
    std::map<std::string, int> baselines;
    for (const StudyExperiment& e : st.experiments)
      LB_CHECK(!e.baseline || ++baselines[e.group] == 1, "group \"", e.group,
               "\" has more than one \"baseline\": true");
    check_group_labels(st.experiments, n_listed);
  } catch (const Error& e) {
    LB_FAIL(source, ": ", e.what());
  }
  return st;
}

Study load_study(const std::string& path) {
  Study s = parse_study(load_json_file(path), path);
  s.file = path;
  return s;
}

std::vector<std::string> PlannedRun::child_args() const { return experiment->kind->args(*this); }

bool PlannedRun::finished_in_runs() const {
  return fs::exists(fs::path(run_dir) / experiment->kind->finished_file);
}

// ---- run kinds

namespace {

// "train": `lowbit train FILE --out DIR [--resume] --set ...`.
std::shared_ptr<const RunKind> make_train_kind() {
  auto k = std::make_shared<RunKind>();
  k->name = "train";
  k->finished_file = "metrics.json";
  k->result_files = {"config.json", "log.jsonl", "metrics.json"};
  k->resolve = [](const PlannedRun& r) {
    // As `lowbit train FILE --out DIR --set ...` resolves it.
    json config = resolve_experiment(load_experiment_file(r.experiment->file, r.sets));
    config["output"]["dir"] = r.run_dir;
    return config;
  };
  k->args = [](const PlannedRun& r) {
    std::vector<std::string> args = {"train", r.experiment->file, "--out", r.run_dir};
    if (r.state == RunState::resume) args.push_back("--resume");
    for (const std::string& s : r.sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    return args;
  };
  k->has_progress = [](const std::string& dir) { return fs::exists(RunPaths(dir).checkpoint); };
  k->warning = experiment_file_warning;
  return k;
}

Registry<std::shared_ptr<const RunKind>()>& run_kinds() {
  static Registry<std::shared_ptr<const RunKind>()> r = [] {
    Registry<std::shared_ptr<const RunKind>()> reg("run kind");
    const auto train = make_train_kind();
    reg.add(train->name, [train] { return train; });
    return reg;
  }();
  return r;
}

}  // namespace

std::string experiment_file_warning(const PlannedRun& run) {
  const std::string& file = run.experiment->file;
  return budget_override_warning(load_json_file(file), run.sets);
}

void register_run_kind(std::shared_ptr<const RunKind> kind) {
  LB_CHECK(kind && kind->resolve && kind->args && kind->has_progress && !kind->finished_file.empty(),
           "register_run_kind: incomplete run kind");
  if (run_kinds().contains(kind->name)) return;  // registered once per process
  run_kinds().add(kind->name, [kind] { return kind; });
}

const RunKind& run_kind(const std::string& name, const std::string& path) {
  const ResolvedSpec spec = run_kinds().resolve(json(name), path);
  return *run_kinds().make(spec.name);  // registered kinds live as long as the registry
}

namespace {
// Marks the runs that match one of `patterns` (all when there are none). A pattern that
// matches nothing is a typo: fail before anything runs, listing the names it could match.
void select_runs(StudyPlan& plan, const std::vector<std::string>& patterns, const std::string& where) {
  if (patterns.empty()) return;
  for (PlannedRun& r : plan.runs) r.selected = false;
  for (const std::string& pattern : patterns) {
    bool matched = false;
    for (PlannedRun& r : plan.runs)
      if (::fnmatch(pattern.c_str(), r.name.c_str(), 0) == 0) r.selected = matched = true;
    if (!matched) {
      std::string names;
      for (const PlannedRun& r : plan.runs) names += (names.empty() ? "" : ", ") + r.name;
      LB_FAIL("--only '", pattern, "': matches no run of ", where, " (its runs: ", names, ")");
    }
  }
}
}  // namespace

StudyPlan plan_study(const Study& study, const StudyOptions& opt) {
  StudyPlan plan;
  plan.study_runs_dir = (fs::path(opt.runs_root) / study.name).string();
  plan.study_results_dir = (fs::path(opt.results_root) / study.name).string();
  const std::string where = study.file.empty() ? "study " + study.name : study.file;
  for (const uint64_t seed : study.seeds) {
    for (size_t ei = 0; ei < study.experiments.size(); ++ei) {
      const StudyExperiment& e = study.experiments[ei];
      const RunKind& kind = *e.kind;
      PlannedRun r;
      r.experiment = &e;
      r.seed = seed;
      r.name = e.run + "_s" + std::to_string(seed);
      r.run_dir = (fs::path(plan.study_runs_dir) / r.name).string();
      r.results_dir = (fs::path(plan.study_results_dir) / "runs" / r.name).string();
      r.sets = e.sets;
      r.sets.insert(r.sets.end(), opt.extra_sets.begin(), opt.extra_sets.end());
      r.sets.push_back("seed=" + std::to_string(seed));
      if (kind.takes_compress_set) {
        r.compress_sets = e.compress_sets;
        r.compress_sets.insert(r.compress_sets.end(), opt.extra_compress_sets.begin(),
                               opt.extra_compress_sets.end());
      }
      // The config exactly as the child command resolves it.
      try {
        r.config = kind.resolve(r);
      } catch (const Error& err) {
        LB_FAIL(where, ": run ", r.name, " (", e.file, "): ", err.what());
      }

      const RunPaths runs(r.run_dir), results(r.results_dir);
      const fs::path finished_copy = fs::path(r.results_dir) / kind.finished_file;
      if (fs::exists(finished_copy)) {
        LB_CHECK(fs::exists(results.config) && files_equal_json(results.config, r.config), results.dir,
                 ": holds a finished run of another config (config.json differs from what ", where,
                 " now asks for); move it away or rename the run");
        r.state = RunState::finished;
      } else if (fs::exists(runs.config)) {
        LB_CHECK(files_equal_json(runs.config, r.config), runs.dir,
                 ": holds a run of another study or config (config.json differs); it is never "
                 "overwritten: move it away, or give this study another name or --runs folder");
        if (r.finished_in_runs()) {
          r.state = RunState::finished;
          r.needs_copy = true;
        } else {
          r.state = kind.has_progress(r.run_dir) ? RunState::resume : RunState::fresh;
        }
      } else {
        LB_CHECK(!kind.has_progress(r.run_dir) && !r.finished_in_runs(), runs.dir,
                 ": holds run files but no config.json; it is never overwritten: move it away");
        r.state = RunState::fresh;
      }
      if (seed == study.seeds.front() && kind.warning)
        if (const std::string w = kind.warning(r); !w.empty())
          plan.warnings.push_back("run " + e.run + " (" + e.file + "): " + w);
      plan.runs.push_back(std::move(r));
    }
  }
  select_runs(plan, opt.only, where);
  return plan;
}

void record_finished_run(const PlannedRun& run) {
  const RunKind& kind = *run.experiment->kind;
  const fs::path finished = fs::path(run.run_dir) / kind.finished_file;
  LB_CHECK(fs::exists(finished), finished.string(), ": missing; the run is not finished");
  fs::create_directories(run.results_dir);
  // The finished file last (result_files ends with it): its presence marks the copy complete.
  for (const std::string& f : kind.result_files) {
    fs::create_directories((fs::path(run.results_dir) / f).parent_path());  // "teacher/log.jsonl"
    write_file_atomic((fs::path(run.results_dir) / f).string(), read_file((fs::path(run.run_dir) / f).string()));
  }
}

}  // namespace lowbit
