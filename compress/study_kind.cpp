#include "compress/study_kind.h"

#include <cmath>
#include <filesystem>
#include <map>

#include "compress/compress_config.h"
#include "compress/pipeline.h"
#include "core/check.h"
#include "core/format.h"
#include "experiment/config.h"
#include "experiment/run_files.h"
#include "experiment/study_report.h"
#include "experiment/study_run_kind.h"

namespace lowbit {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The compress file's overrides in the order the child applies them: the study's, then the
// seed, the baseline folder and the baseline's overrides.
std::vector<std::string> compress_overrides(const PlannedRun& r) {
  std::vector<std::string> sets = r.compress_sets;
  sets.push_back("seed=" + std::to_string(r.seed));
  sets.push_back("train_out=" + (fs::path(r.run_dir) / "baseline").string());
  sets.push_back("train_set=" + json(r.sets).dump());
  return sets;
}

json resolve_compress(const PlannedRun& r) {
  json raw = load_json_file(r.experiment->file);
  for (const std::string& s : compress_overrides(r)) apply_override(raw, s);
  CompressConfig cfg = parse_compress_config(raw);
  cfg.output_dir = r.run_dir;  // as `lowbit compress --out` sets it
  cfg.resolved["output"]["dir"] = r.run_dir;
  check_compress_config(cfg);  // the experiment parses with its overrides; layer names exist
  return cfg.resolved;
}

std::vector<std::string> compress_args(const PlannedRun& r) {
  std::vector<std::string> args = {"compress", r.experiment->file, "--out", r.run_dir};
  // An interrupted compression starts its stages again from the trained (or resumed)
  // baseline; model.lbc of that attempt may exist already. The folder's config is this run's.
  if (r.state == RunState::resume) args.push_back("--force");
  for (const std::string& s : compress_overrides(r)) {
    args.push_back("--set");
    args.push_back(s);
  }
  return args;
}

bool compress_has_progress(const std::string& dir) {
  const RunPaths baseline((fs::path(dir) / "baseline").string());
  return fs::exists(baseline.checkpoint) || fs::exists(baseline.metrics) ||
         fs::exists(fs::path(dir) / "model.lbc");
}

// ---- the per-stage table

const json* stage_named(const json& report, const std::string& name) {
  for (const json& s : report.at("stages"))
    if (s.at("stage") == name) return &s;
  return nullptr;
}

// Test accuracy (percent) of the first stage in `names` the report has.
std::optional<double> stage_accuracy(const json& report, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const json* s = stage_named(report, n)) return 100.0 - s->at("test_error_percent").get<double>();
  return std::nullopt;
}

struct StageStats {
  std::vector<double> baseline_acc, pruned_acc, quantized_acc, huffman_acc;
  std::vector<double> dense_kb, kept_percent, pruned_kb, pruned_ratio, quantized_kb, quantized_ratio,
      huffman_kb, huffman_ratio;
};

// Adds one finished run's report.json. Sizes are of the compressed (weight) layers, in KB of
// 1000 bytes as the paper's Table 1; pruned = surviving weights + filler zeros at 32 bits
// with their relative indices.
void add_run(StageStats& s, const json& rep) {
  const json& total = rep.at("total");
  const double dense_bits = total.at("dense_bits").get<double>();
  double pruned_bits = 0;
  for (const json& l : rep.at("layers")) {
    const double entries = l.at("num_nonzero").get<double>() + l.at("num_fillers").get<double>();
    pruned_bits += entries * (32.0 + l.value("relative_index_bits", 0.0));
  }
  auto kb = [](double bits) { return bits / 8.0 / 1000.0; };
  if (auto a = stage_accuracy(rep, {"baseline"})) s.baseline_acc.push_back(*a);
  if (auto a = stage_accuracy(rep, {"retrained", "pruned"})) s.pruned_acc.push_back(*a);
  if (auto a = stage_accuracy(rep, {"finetuned", "quantized"})) s.quantized_acc.push_back(*a);
  if (auto a = stage_accuracy(rep, {"decoded"})) s.huffman_acc.push_back(*a);
  s.dense_kb.push_back(kb(dense_bits));
  s.kept_percent.push_back(100.0 * total.at("density").get<double>());
  s.pruned_kb.push_back(kb(pruned_bits));
  s.pruned_ratio.push_back(dense_bits / pruned_bits);
  s.quantized_kb.push_back(kb(total.at("bits_pq").get<double>()));
  s.quantized_ratio.push_back(total.at("ratio_pq").get<double>());
  s.huffman_kb.push_back(kb(total.at("bits_pqh").get<double>()));
  s.huffman_ratio.push_back(total.at("ratio_pqh").get<double>());
}

std::string opt_num(const std::map<std::string, double>& m, const char* key, const char* f) {
  const auto it = m.find(key);
  return it == m.end() ? "-" : format_double(f, it->second);
}

KindReport compress_report(const Study& study, const StudyPlan& plan,
                           const std::vector<PaperReference>& refs) {
  KindReport out;
  out.json = json::array();
  std::string& o = out.markdown;
  o += "## Deep Compression: per stage (pruned, quantized, Huffman)\n\n";
  o += "| network | seeds | baseline acc % | baseline KB | pruned acc % | weights kept % | pruned KB | "
       "pruned ratio | quantized acc % | P+Q KB | P+Q ratio | Huffman acc % | P+Q+H KB | P+Q+H ratio |\n";
  o += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  std::string paper_rows;
  for (const StudyExperiment& e : study.experiments) {
    if (e.kind->name != "compress") continue;
    StageStats s;
    const EntryRuns runs = entry_runs(plan, e);
    const int64_t total = runs.total, done = static_cast<int64_t>(runs.finished.size());
    for (const PlannedRun* r : runs.finished) {
      const std::string report = (fs::path(r->results_dir) / "report.json").string();
      try {
        add_run(s, load_json_file(report));
      } catch (const json::exception& ex) {
        LB_FAIL(report, ": not a lowbit compress report: ", ex.what());
      }
    }
    o += "| " + e.label + " | " + std::to_string(done) + "/" + std::to_string(total) + " | " +
         mean_std_text(s.baseline_acc) + " | " + mean_std_text(s.dense_kb, "%.1f") + " | " + mean_std_text(s.pruned_acc) + " | " +
         mean_std_text(s.kept_percent, "%.1f") + " | " + mean_std_text(s.pruned_kb, "%.1f") + " | " + mean_std_text(s.pruned_ratio, "%.1fx") +
         " | " + mean_std_text(s.quantized_acc) + " | " + mean_std_text(s.quantized_kb, "%.1f") + " | " + mean_std_text(s.quantized_ratio, "%.1fx") +
         " | " + mean_std_text(s.huffman_acc) + " | " + mean_std_text(s.huffman_kb, "%.1f") + " | " + mean_std_text(s.huffman_ratio, "%.1fx") + " |\n";
    json refs_j = json::array();
    for (const std::string& id : e.references) {
      const PaperReference* ref = &find_reference(study, e, refs, id);
      const std::string fp = ref->fp_accuracy() ? format_double("%.2f", *ref->fp_accuracy()) : "-";
      paper_rows += "| " + e.label + " | " + ref->network + " | " + fp + " | " +
                    opt_num(ref->size_kb, "baseline", "%.0f") + " | " +
                    opt_num(ref->stage_ratios, "pruned", "%.0fx") + " | " +
                    opt_num(ref->stage_ratios, "quantized", "%.0fx") + " | " +
                    format_double("%.2f", ref->accuracy()) + " | " + opt_num(ref->size_kb, "huffman", "%.0f") +
                    " | " + opt_num(ref->stage_ratios, "huffman", "%.0fx") + " | " + mean_std_text(s.huffman_acc) + " | " +
                    (s.huffman_acc.empty() ? "-" : format_double("%+.2f", stats_of(s.huffman_acc).mean - ref->accuracy())) +
                    " | " + ref->paper + ", " + ref->table + " | " + (ref->evidence == "P" ? "paper" : "[" + ref->evidence + "]") +
                    " | " + (e.network == ref->network ? "same network" : "network differs (ours: " + e.network + ")") +
                    (e.protocol == ref->protocol ? "" : "; protocol differs (ours: " + e.protocol + ")") + " |\n";
      refs_j.push_back({{"id", ref->id}, {"accuracy_percent", ref->accuracy()},
                        {"fp_accuracy_percent", ref->fp_accuracy() ? json(*ref->fp_accuracy()) : json(nullptr)},
                        {"stage_ratios", ref->stage_ratios}, {"size_kb", ref->size_kb},
                        {"paper", ref->paper}, {"table", ref->table}, {"evidence", ref->evidence}});
    }
    out.json.push_back({{"run", e.run}, {"label", e.label}, {"file", e.file}, {"seeds_done", done},
                        {"seeds_total", total}, {"network", e.network}, {"protocol", e.protocol},
                        {"baseline", {{"accuracy_percent", stats_json(s.baseline_acc)}, {"kb", stats_json(s.dense_kb)}}},
                        {"pruned", {{"accuracy_percent", stats_json(s.pruned_acc)}, {"weights_kept_percent", stats_json(s.kept_percent)},
                                    {"kb", stats_json(s.pruned_kb)}, {"ratio", stats_json(s.pruned_ratio)}}},
                        {"quantized", {{"accuracy_percent", stats_json(s.quantized_acc)}, {"kb", stats_json(s.quantized_kb)},
                                       {"ratio", stats_json(s.quantized_ratio)}}},
                        {"huffman", {{"accuracy_percent", stats_json(s.huffman_acc)}, {"kb", stats_json(s.huffman_kb)},
                                     {"ratio", stats_json(s.huffman_ratio)}}},
                        {"references", refs_j}});
  }
  o += "\n";
  if (!paper_rows.empty()) {
    o += "The paper's numbers (Table 1 for accuracy and size, Tables 2-3 for the per-stage rates; it gives no "
         "accuracy after pruning or quantization alone for LeNet):\n\n";
    o += "| network | paper network | paper ref acc % | paper ref KB | paper pruned ratio | paper P+Q ratio | "
         "paper compressed acc % | paper compressed KB | paper P+Q+H ratio | ours: Huffman acc % | Δ ours − paper (pp) "
         "| source | read in | differences |\n";
    o += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n";
    o += paper_rows + "\n";
  }
  o += "Per stage: pruned = after pruning and retraining; quantized = after weight sharing and centroid "
       "fine-tuning (P+Q: codebook + fixed-width codes + relative indices with filler zeros); Huffman = the "
       "Huffman-coded file decoded again (lossless: the same accuracy as quantized). Sizes: the compressed weight "
       "layers only (biases are raw float32, as the paper's rates), KB = 1000 bytes; the pruned size stores the "
       "surviving weights (and filler zeros) at 32 bits with their relative indices, and \"weights kept\" is the "
       "paper's \"Weights% (P)\" (its \"12x\" for pruning is 1 / that). Accuracy on the 10,000 test images; baseline "
       "= the uncompressed network each seed trained first.\n\n";
  return out;
}

}  // namespace

void register_compress_run_kind() {
  auto k = std::make_shared<RunKind>();
  k->name = "compress";
  k->finished_file = "report.md";
  k->result_files = {"config.json", "log.jsonl", "report.json", "report.md"};
  k->takes_compress_set = true;
  k->resolve = resolve_compress;
  k->args = compress_args;
  k->has_progress = compress_has_progress;
  k->report = compress_report;
  register_run_kind(k);
}

}  // namespace lowbit
