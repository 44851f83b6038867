#include "experiment/study_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "core/check.h"
#include "core/format.h"
#include "core/json_args.h"
#include "core/serialize.h"
#include "experiment/config.h"
#include "experiment/results_table.h"
#include "experiment/run_files.h"
#include "experiment/study_svg.h"

namespace lowbit {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::optional<double> number_at(const json& j, std::initializer_list<const char*> path) {
  const json* v = &j;
  for (const char* k : path) {
    if (!v->is_object() || !v->contains(k)) return std::nullopt;
    v = &(*v)[k];
  }
  if (!v->is_number()) return std::nullopt;
  return v->get<double>();
}

std::string fmt(std::optional<double> v, const char* f) { return v ? format_double(f, *v) : "-"; }

// 1234567 -> "1.23M".
std::string count_text(std::optional<double> v) {
  if (!v) return "-";
  const char* suffix[] = {"", "k", "M", "G", "T"};
  double a = *v;
  int k = 0;
  while (a >= 1000.0 && k < 4) {
    a /= 1000.0;
    ++k;
  }
  return (k == 0 ? format_double("%.0f", a) : format_double("%.3g", a)) + suffix[k];
}

std::string bits_text(const std::vector<int>& b) {
  if (b.empty()) return "?";
  std::string out;
  for (int x : b) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
}

std::vector<std::string> groups_of(const StudyReport& r) {
  std::vector<std::string> g;
  for (const MethodRow& row : r.rows)
    if (std::find(g.begin(), g.end(), row.experiment->group) == g.end()) g.push_back(row.experiment->group);
  return g;
}

// What differs between our row and the paper's setting ("" when nothing is known to differ).
std::string differences(const MethodRow& row, const PaperReference& ref) {
  const std::string& dataset = row.dataset;
  std::vector<std::string> d;
  const StudyExperiment& e = *row.experiment;
  if (!dataset.empty() && !ref.dataset.empty() && dataset != ref.dataset) d.push_back("dataset differs");
  if (e.network.empty())
    d.push_back("our network not stated");
  else if (e.network != ref.network)
    d.push_back("network differs (ours: " + e.network + ")");
  if (e.protocol.empty())
    d.push_back("our protocol not stated");
  else if (e.protocol != ref.protocol)
    d.push_back("protocol differs (ours: " + e.protocol + ")");
  if (ref.evidence == "M") d.push_back("paper number UNCONFIRMED [M]");
  std::string out;
  for (const std::string& s : d) out += (out.empty() ? "" : "; ") + s;
  return out.empty() ? "same network and protocol" : out;
}

// Our number set beside a published one, selected as the paper selects its own: the final
// model's test accuracy, or the test accuracy of the best-validation epoch's weights.
struct OursForPaper {
  Stats stats;
  bool at_best_val = false;
};
OursForPaper ours_for(const MethodRow& row, const PaperReference& ref) {
  if (ref.selection != "best_val") return {row.test_acc, false};
  return {row.test_at_best_val, true};
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string md_row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const std::string& c : cells) out += " " + md_escape(c) + " |";
  return out + "\n";
}

// Markdown alignment row: the first `text_columns` left, the rest right-aligned (numbers).
std::string md_rule(size_t text_columns, size_t columns) {
  std::string out = "|";
  for (size_t c = 0; c < columns; ++c) out += c < text_columns ? "---|" : "---:|";
  return out + "\n";
}

template <class T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// "99.10 ± 0.05", "—" when no finished seed recorded it, " (2/3 seeds)" when only some did;
// `marker` follows the number (the paper comparison's " @ best val").
std::string at_best_val_text(const MethodRow& r, const std::string& marker = "") {
  if (r.test_at_best_val.n == 0) return r.seeds_done.empty() ? "-" : "—" + marker;
  std::string out = mean_std_text(r.test_at_best_val) + marker;
  if (r.seeds_without_test_at_best_val > 0)
    out += " (" + std::to_string(r.test_at_best_val.n) + "/" + std::to_string(r.seeds_done.size()) + " seeds)";
  return out;
}

}  // namespace

std::vector<PaperReference> parse_references(const json& j, const std::string& source) {
  std::vector<PaperReference> out;
  try {
    JsonArgs top(j, "");
    top.allow({"comment", "source"});
    const json* list = top.array("references");
    LB_CHECK(list, "\"references\": missing (a list of published numbers)");
    top.finish();
    std::set<std::string> ids;
    for (size_t i = 0; i < list->size(); ++i) {
      JsonArgs a((*list)[i], json_path("references", i));
      PaperReference r;
      r.id = a.string("id");
      LB_CHECK(ids.insert(r.id).second, a.path_of("id"), ": id \"", r.id, "\" is used twice");
      r.method = a.string("method");
      r.dataset = a.string("dataset");
      r.network = a.string("network");
      r.protocol = a.string("protocol");
      r.metric = a.choice("metric", {"accuracy", "error"});
      r.value = a.number_in("value", 0.0, 100.0);
      if (a.has("fp_value")) r.fp_value = a.number_in("fp_value", 0.0, 100.0);
      r.paper = a.string("paper");
      r.table = a.string("table");
      r.evidence = a.choice("evidence", {"P", "S", "C", "M"});
      r.note = a.string("note", "");
      r.selection = a.choice("selection", {"final", "best_val"}, "final");
      for (auto [key, field] : {std::pair{"stage_ratios", &r.stage_ratios}, {"size_kb", &r.size_kb}})
        if (const json* o = a.object(key))
          for (const auto& [k, v] : o->items()) {
            LB_CHECK(v.is_number() && v.get<double>() > 0, json_path(a.path_of(key), k),
                     ": expected a positive number, got ", json_brief(v));
            (*field)[k] = v.get<double>();
          }
      a.finish();
      out.push_back(std::move(r));
    }
  } catch (const Error& e) {
    LB_FAIL(source, ": ", e.what());
  }
  return out;
}

std::vector<PaperReference> load_references(const std::string& path) {
  return parse_references(load_json_file(path), path);
}

Stats stats_of(const std::vector<double>& v) {
  Stats s;
  s.n = static_cast<int64_t>(v.size());
  if (v.empty()) {
    s.mean = s.std = s.min = s.max = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.std = v.size() > 1 ? std::sqrt(sq / double(v.size() - 1)) : 0.0;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

std::string mean_std_text(const Stats& s, const char* f) {
  if (s.n == 0) return "-";
  std::string out = format_double(f, s.mean);
  if (s.n > 1) out += " ± " + format_double(f, s.std);
  return out;
}

json stats_json(const Stats& s) {
  if (s.n == 0) return nullptr;
  return {{"n", s.n}, {"mean", s.mean}, {"std", s.n > 1 ? json(s.std) : json(nullptr)}, {"min", s.min}, {"max", s.max}};
}

std::string mean_std_text(const std::vector<double>& values, const char* f) {
  return mean_std_text(stats_of(values), f);
}

json stats_json(const std::vector<double>& values) { return stats_json(stats_of(values)); }

EntryRuns entry_runs(const StudyPlan& plan, const StudyExperiment& e) {
  EntryRuns out;
  for (const PlannedRun& r : plan.runs) {
    if (r.experiment != &e) continue;
    ++out.total;
    if (fs::exists(fs::path(r.results_dir) / e.kind->finished_file)) out.finished.push_back(&r);
  }
  return out;
}

const PaperReference& find_reference(const Study& study, const StudyExperiment& e,
                                     const std::vector<PaperReference>& refs, const std::string& id) {
  for (const PaperReference& r : refs)
    if (r.id == id) return r;
  LB_FAIL(study.file.empty() ? study.name : study.file, ": run \"", e.run, "\": reference \"", id,
          "\" is not in ", study.references);
}

StudyReport build_study_report(const Study& study, const StudyPlan& plan, std::vector<PaperReference> references) {
  StudyReport rep;
  rep.study = &study;
  rep.references = std::move(references);

  for (const PlannedRun& pr : plan.runs) {
    ++rep.runs_total;
    rep.runs_done += fs::exists(fs::path(pr.results_dir) / pr.experiment->kind->finished_file);
  }
  std::vector<const RunKind*> other_kinds;
  for (const StudyExperiment& e : study.experiments) {
    if (e.kind->report) {  // a kind with its own table
      if (std::find(other_kinds.begin(), other_kinds.end(), e.kind) == other_kinds.end())
        other_kinds.push_back(e.kind);
      continue;
    }
    MethodRow row;
    row.experiment = &e;
    for (const std::string& id : e.references) row.references.push_back(&find_reference(study, e, rep.references, id));
    std::vector<double> test, val, spe, at_best;
    const EntryRuns runs = entry_runs(plan, e);
    row.seeds_total = runs.total;
    for (const PlannedRun* pr : runs.finished) {
      const RunPaths files(pr->results_dir);
      const RunResult r = read_run(pr->results_dir);
      const json m = load_json_file(files.metrics);
      row.seeds_done.push_back(pr->seed);
      row.quantizers = r.method;
      row.dataset = r.dataset;
      row.weight_bits = r.weight_bits;
      row.activation_bits = r.activation_bits;
      row.epochs = r.epochs;
      if (r.test_accuracy) test.push_back(100.0 * *r.test_accuracy);
      if (r.best_val_accuracy) val.push_back(100.0 * *r.best_val_accuracy);
      if (r.best_epoch) row.best_epochs.push_back(*r.best_epoch);
      if (const auto t = number_at(m, {"test_accuracy_at_best_val"}))
        at_best.push_back(100.0 * *t);
      else
        ++row.seeds_without_test_at_best_val;
      if (r.train_seconds && r.epochs > 0) spe.push_back(*r.train_seconds / double(r.epochs));
      row.params = number_at(m, {"summary", "totals", "params"});
      row.quantized_bits = number_at(m, {"summary", "totals", "quantized_bits"});
      row.float32_bits = number_at(m, {"summary", "totals", "float32_bits"});
      row.compression = r.compression_ratio;
      row.macs_binary = number_at(m, {"summary", "totals", "macs", "binary"});
      row.macs_ternary = number_at(m, {"summary", "totals", "macs", "ternary"});
      row.macs_kbit = number_at(m, {"summary", "totals", "macs", "k_bit"});
      row.macs_float = number_at(m, {"summary", "totals", "macs", "float"});
      if (const auto t = number_at(m, {"threads"})) row.threads = int64_t(*t);
      std::vector<double> curve;
      for (const json& line : read_log(files.log))
        if (line.is_object() && line.contains("val_accuracy") && line["val_accuracy"].is_number())
          curve.push_back(100.0 * line["val_accuracy"].get<double>());
      if (!curve.empty()) row.val_curves.push_back(std::move(curve));
    }
    row.test_acc = stats_of(test);
    row.best_val_acc = stats_of(val);
    row.test_at_best_val = stats_of(at_best);
    row.seconds_per_epoch = stats_of(spe);
    rep.rows.push_back(std::move(row));
  }
  for (const RunKind* k : other_kinds) rep.kinds.emplace_back(k->name, k->report(study, plan, rep.references));
  // Gaps to each group's baseline.
  for (MethodRow& row : rep.rows) {
    for (const MethodRow& base : rep.rows)
      if (base.experiment->baseline && base.experiment->group == row.experiment->group && base.test_acc.n > 0 &&
          row.test_acc.n > 0)
        row.gap_to_baseline = row.test_acc.mean - base.test_acc.mean;
  }
  return rep;
}

std::string StudyReport::to_markdown() const {
  const Study& st = *study;
  const int64_t done = runs_done, total = runs_total;
  std::string o = "# Study `" + st.name + "`\n\n";
  if (!st.description.empty()) o += st.description + "\n\n";
  o += "Written by `lowbit study " + (st.file.empty() ? st.name : st.file) + " --report` from the results copies in `runs/` beside this file. ";
  o += std::to_string(done) + " of " + std::to_string(total) + " runs finished; seeds:";
  for (uint64_t s : st.seeds) o += " " + std::to_string(s);
  o += ".\n\n";
  double seconds = 0;
  for (const MethodRow& r : rows)
    if (r.seconds_per_epoch.n > 0) seconds += r.seconds_per_epoch.mean * double(r.epochs) * double(r.seconds_per_epoch.n);
  o += "Reproduce (from the repository root; resumes, skips finished runs): `lowbit study " +
       (st.file.empty() ? st.name : st.file) + "` (`--jobs N` runs N at a time)." +
       (rows.empty() ? std::string()
                     : " Training time of the finished training runs: " + format_double("%.1f", seconds / 3600.0) +
                           " h in total (sum over runs; the machine was shared).") +
       "\n\n";

  for (const std::string& group : groups_of(*this)) {
    if (!group.empty()) o += "## " + group + "\n\n";
    const GroupChartFiles charts = group_chart_files(group);
    o += "![validation accuracy per epoch](" + charts.accuracy_vs_epoch + ")\n";
    o += "![test accuracy vs model size](" + charts.accuracy_vs_size + ")\n\n";

    o += md_row({"method", "quantizers (W/A)", "W/A bits", "seeds", "epochs", "test acc %", "test err %",
                 "best val acc %", "best epoch", "test acc @ best val %", "size KiB", "vs FP32", "binary MACs", "ternary MACs", "k-bit MACs",
                 "float MACs", "s/epoch"});
    o += md_rule(3, 17);
    for (const MethodRow& r : rows) {
      if (r.experiment->group != group) continue;
      const Stats err = r.test_acc.n ? Stats{r.test_acc.n, 100.0 - r.test_acc.mean, r.test_acc.std,
                                              100.0 - r.test_acc.max, 100.0 - r.test_acc.min}
                                     : Stats{};
      std::string epochs;
      for (int64_t e : r.best_epochs) epochs += (epochs.empty() ? "" : ",") + std::to_string(e);
      o += md_row({r.experiment->label + (r.experiment->baseline ? " (baseline)" : ""),
                   r.quantizers.empty() ? "-" : r.quantizers,
                   r.seeds_done.empty() ? "-" : bits_text(r.weight_bits) + "/" + bits_text(r.activation_bits),
                   std::to_string(r.seeds_done.size()) + "/" + std::to_string(r.seeds_total),
                   r.epochs ? std::to_string(r.epochs) : "-", mean_std_text(r.test_acc), mean_std_text(err),
                   mean_std_text(r.best_val_acc), epochs.empty() ? "-" : epochs, at_best_val_text(r),
                   fmt(r.quantized_bits ? std::optional<double>(*r.quantized_bits / 8.0 / 1024.0) : std::nullopt, "%.1f"),
                   fmt(r.compression, "%.1fx"), count_text(r.macs_binary), count_text(r.macs_ternary),
                   count_text(r.macs_kbit), count_text(r.macs_float), mean_std_text(r.seconds_per_epoch, "%.1f")});
    }
    o += "\n";

    // Paper comparison: one line per (row, reference).
    bool any = false;
    for (const MethodRow& r : rows) any = any || (r.experiment->group == group && !r.references.empty());
    if (any) {
      o += md_row({"method", "ours: test acc % (selected as the paper selects)", "paper: method", "paper acc %", "Δ ours − paper (pp)",
                   "ours: gap to FP (pp)", "paper: gap to FP (pp)", "paper network", "paper protocol", "source",
                   "read in", "differences"});
      o += "|---|---:|---|---:|---:|---:|---:|---|---|---|---|---|\n";
      for (const MethodRow& r : rows) {
        if (r.experiment->group != group) continue;
        for (const PaperReference* ref : r.references) {
          const OursForPaper sel = ours_for(r, *ref);
          const std::optional<double> ours = sel.stats.n ? std::optional<double>(sel.stats.mean) : std::nullopt;
          const std::string ours_text = sel.at_best_val ? at_best_val_text(r, " @ best val") : mean_std_text(r.test_acc);
          const std::optional<double> fp_gap =
              ref->fp_accuracy() ? std::optional<double>(ref->accuracy() - *ref->fp_accuracy()) : std::nullopt;
          const char* read_in = ref->evidence == "P"   ? "paper"
                                : ref->evidence == "S" ? "secondary copy of the paper's table"
                                : ref->evidence == "C" ? "authors' code/README"
                                                       : "[M] recalled, unconfirmed";
          o += md_row({r.experiment->label, ours_text, ref->method,
                       format_double("%.2f", ref->accuracy()) + (ref->metric == "error" ? " (err " + format_double("%.2f", ref->value) + ")" : ""),
                       fmt(ours ? std::optional<double>(*ours - ref->accuracy()) : std::nullopt, "%+.2f"),
                       fmt(r.gap_to_baseline, "%+.2f"), fmt(fp_gap, "%+.2f"), ref->network, ref->protocol,
                       ref->paper + ", " + ref->table, read_in,
                       differences(r, *ref) + (ref->note.empty() ? "" : "; " + ref->note)});
        }
      }
      o += "\n";
    }
  }
  for (const auto& [kind, section] : kinds) o += section.markdown;
  if (rows.empty()) return o;  // the notes are on the training table
  o += "Notes:\n";
  o += "- mean ± sample standard deviation (n − 1) over the finished seeds; one seed shows no ±.\n";
  o += "- test acc: the final model (after the last epoch). best val acc: the best validation accuracy over "
       "epochs (best epoch per seed listed). test acc @ best val: the test accuracy of the weights of the "
       "best-validation epoch (the BNN paper's protocol; `lowbit train` keeps those weights in "
       "best_val.safetensors and tests them once, at the end).\n";
  int64_t without = 0;
  for (const MethodRow& r : rows) without += r.seeds_without_test_at_best_val;
  if (without > 0)
    o += "- test acc @ best val: " + std::to_string(without) +
         " finished run(s) were trained by a lowbit that did not record it (their metrics.json has no "
         "test_accuracy_at_best_val): they count as missing there (— when no seed of the row has it, "
         "\"k/n\" when only k of n seeds do).\n";
  o += "- MACs per image by precision as quant/summary classifies them: binary or ternary only when both the "
       "weights and the layer's inputs are (a ternary-weight layer with float inputs counts as float).\n";
  o += "- size: weights at their quantized bits plus float parameters (quant/summary); vs FP32: float32 size of "
       "the same network / that size.\n";
  o += "- s/epoch: wall time per training epoch on this machine (2 cores shared with other work, "
       "LOWBIT_NUM_THREADS as recorded in metrics.json): indicative only.\n";
  o += "- gaps to FP: test accuracy minus the group's baseline row (ours) and the paper's FP32 number on its own "
       "network (paper). Rows of different groups are never compared.\n";
  o += "- paper comparison: our number is selected as the paper selects its own (studies/references.json "
       "\"selection\"): the final model's test accuracy, or, marked \"@ best val\", the test accuracy of the "
       "best-validation epoch's weights (the BNN papers); Δ ours − paper compares the two. The gap columns "
       "use the final models.\n";
  return o;
}

json StudyReport::to_json() const {
  json rows_j = json::array();
  for (const MethodRow& r : rows) {
    json refs = json::array();
    for (const PaperReference* ref : r.references) {
      const OursForPaper sel = ours_for(r, *ref);
      const std::optional<double> fp_gap =
          ref->fp_accuracy() ? std::optional<double>(ref->accuracy() - *ref->fp_accuracy()) : std::nullopt;
      refs.push_back({{"id", ref->id},
                      {"method", ref->method},
                      {"dataset", ref->dataset},
                      {"network", ref->network},
                      {"protocol", ref->protocol},
                      {"metric", ref->metric},
                      {"value", ref->value},
                      {"accuracy_percent", ref->accuracy()},
                      {"paper_gap_to_fp_pp", or_null(fp_gap)},
                      {"paper", ref->paper},
                      {"table", ref->table},
                      {"evidence", ref->evidence},
                      {"selection", ref->selection},
                      {"ours_accuracy_percent", stats_json(sel.stats)},
                      {"delta_ours_minus_paper_pp",
                       sel.stats.n ? json(sel.stats.mean - ref->accuracy()) : json(nullptr)},
                      {"differences", differences(r, *ref)}});
    }
    const StudyExperiment& e = *r.experiment;
    rows_j.push_back({{"run", e.run},
                      {"label", e.label},
                      {"group", e.group},
                      {"baseline", e.baseline},
                      {"file", e.file},
                      {"network", e.network},
                      {"protocol", e.protocol},
                      {"quantizers", r.quantizers},
                      {"weight_bits", r.weight_bits},
                      {"activation_bits", r.activation_bits},
                      {"seeds_done", r.seeds_done},
                      {"seeds_total", r.seeds_total},
                      {"epochs", r.epochs},
                      {"test_accuracy_percent", stats_json(r.test_acc)},
                      {"best_val_accuracy_percent", stats_json(r.best_val_acc)},
                      {"best_epochs", r.best_epochs},
                      {"test_accuracy_at_best_val_epoch", stats_json(r.test_at_best_val)},
                      {"seeds_without_test_accuracy_at_best_val", r.seeds_without_test_at_best_val},
                      {"params", or_null(r.params)},
                      {"quantized_bits", or_null(r.quantized_bits)},
                      {"float32_bits", or_null(r.float32_bits)},
                      {"compression_vs_fp32", or_null(r.compression)},
                      {"macs",
                       {{"binary", or_null(r.macs_binary)},
                        {"ternary", or_null(r.macs_ternary)},
                        {"k_bit", or_null(r.macs_kbit)},
                        {"float", or_null(r.macs_float)}}},
                      {"seconds_per_epoch", stats_json(r.seconds_per_epoch)},
                      {"threads", or_null(r.threads)},
                      {"gap_to_baseline_pp", or_null(r.gap_to_baseline)},
                      {"references", refs}});
  }
  json kinds_j = json::object();
  for (const auto& [kind, section] : kinds) kinds_j[kind] = section.json;
  return {{"study", study->name},
          {"file", study->file},
          {"seeds", study->seeds},
          {"statistics", "mean and sample std (n-1) over finished seeds, accuracies in percent"},
          {"test_accuracy_at_best_val_epoch",
           "rows' test_accuracy_at_best_val_epoch (percent): the test accuracy of the best-validation epoch's "
           "weights, over the seeds whose metrics.json records it (runs of an older lowbit do not)"},
          {"rows", rows_j},
          {"kinds", kinds_j}};
}

std::vector<std::string> write_study_report(const StudyReport& report, const std::string& dir) {
  fs::create_directories(dir);
  std::vector<std::string> written;
  auto put = [&](const std::string& name, const std::string& text) {
    const std::string path = (fs::path(dir) / name).string();
    write_file_atomic(path, text);
    written.push_back(path);
  };
  put("table.md", report.to_markdown());
  put("table.json", report.to_json().dump(2) + "\n");

  for (const std::string& group : groups_of(report)) {
    const GroupChartFiles charts = group_chart_files(group);
    const std::string title = report.study->name + (group.empty() ? "" : " — " + group);
    SvgChart epochs, size;
    epochs.title = size.title = title;
    epochs.subtitle = "validation accuracy per epoch: mean over seeds, band = min–max over seeds";
    epochs.x_label = "epoch";
    epochs.integer_x = true;
    epochs.y_label = "validation accuracy (%)";
    size.subtitle = "final test accuracy (mean, bars = ±1 std over seeds) vs model size";
    size.x_label = "model size (bits, log scale)";
    size.y_label = "test accuracy (%)";
    size.log_x = true;
    // Keep the last epochs readable: the axis starts at most 3 pp under the lowest final mean.
    for (const MethodRow& r : report.rows)
      if (r.experiment->group == group && !r.val_curves.empty() && !r.val_curves[0].empty()) {
        const double floor = r.val_curves[0].back() - 3.0;
        epochs.y_floor = epochs.y_floor ? std::min(*epochs.y_floor, floor) : floor;
      }
    size_t k = 0;
    for (const MethodRow& r : report.rows) {
      if (r.experiment->group != group) continue;
      const std::string color = r.experiment->baseline ? std::string("#222222") : palette_color(k++);
      const bool says_fp = r.experiment->label.find("FP") != std::string::npos;
      const std::string name = r.experiment->label + (r.experiment->baseline && !says_fp ? " (FP32)" : "");
      if (!r.val_curves.empty()) {
        size_t n = r.val_curves[0].size();
        for (const auto& c : r.val_curves) n = std::min(n, c.size());
        SvgSeries s;
        s.name = name;
        s.color = color;
        s.dashed = r.experiment->baseline;
        for (size_t i = 0; i < n; ++i) {
          std::vector<double> at;
          for (const auto& c : r.val_curves) at.push_back(c[i]);
          const Stats st = stats_of(at);
          s.x.push_back(double(i + 1));
          s.y.push_back(st.mean);
          s.lo.push_back(st.min);
          s.hi.push_back(st.max);
        }
        epochs.series.push_back(std::move(s));
      }
      if (r.test_acc.n > 0 && r.quantized_bits && *r.quantized_bits > 0) {
        SvgSeries s;
        s.name = name;
        s.line = false;
        s.label_points = true;
        s.color = color;
        s.x = {*r.quantized_bits};
        s.y = {r.test_acc.mean};
        s.lo = {r.test_acc.mean - r.test_acc.std};
        s.hi = {r.test_acc.mean + r.test_acc.std};
        size.series.push_back(std::move(s));
      }
    }
    if (!epochs.series.empty()) put(charts.accuracy_vs_epoch, epochs.to_svg());
    if (!size.series.empty()) put(charts.accuracy_vs_size, size.to_svg());
  }
  return written;
}

}  // namespace lowbit
