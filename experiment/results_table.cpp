#include "experiment/results_table.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "experiment/config.h"
#include "experiment/run_files.h"
#include "core/check.h"
#include "core/format.h"
#include "quant/registry.h"

namespace lowbit {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- typed access that names the file and the JSON path on a wrong type

std::string where(const std::string& file, const std::string& path) {
  return file + ": \"" + path + "\"";
}

const json* member(const json& obj, const std::string& key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::optional<double> opt_number(const json& obj, const std::string& key, const std::string& file,
                                 const std::string& prefix = "") {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  LB_CHECK(v->is_number(), where(file, prefix + key), " should be a number, got ", v->dump());
  return v->get<double>();
}

std::optional<int64_t> opt_integer(const json& obj, const std::string& key, const std::string& file,
                                   const std::string& prefix = "") {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  LB_CHECK(v->is_number_integer(), where(file, prefix + key), " should be an integer, got ",
           v->dump());
  return v->get<int64_t>();
}

std::string opt_string(const json& obj, const std::string& key, const std::string& file,
                       const std::string& prefix = "") {
  const json* v = member(obj, key);
  if (!v) return "";
  LB_CHECK(v->is_string(), where(file, prefix + key), " should be a string, got ", v->dump());
  return v->get<std::string>();
}

std::optional<double> accuracy(const json& obj, const std::string& key, const std::string& file) {
  const std::optional<double> a = opt_number(obj, key, file);
  LB_CHECK(!a || (*a >= 0.0 && *a <= 1.0), where(file, key),
           " should be a fraction in [0, 1], got ", *a);
  return a;
}

// ---- quantizers -> method and bits

struct QuantInfo {
  bool inspectable = false;  // a layer list was found
  std::vector<std::string> weight_names, input_names;  // distinct, first appearance first
  std::set<int> weight_bits, activation_bits;
  bool bits_unknown = false;

  void add(std::vector<std::string>& names, std::set<int>& bits, const std::string& name,
           std::optional<int> b) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    if (b)
      bits.insert(*b);
    else
      bits_unknown = true;
  }
};

// Summary rows: {"weight_quantizer": name|null, "weight_bits": n, "input_quantizer": ...}.
QuantInfo quant_from_summary(const json& layers, const std::string& file) {
  QuantInfo q;
  q.inspectable = true;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string p = "summary.layers[" + std::to_string(i) + "].";
    const std::string wq = opt_string(layers[i], "weight_quantizer", file, p);
    const std::string iq = opt_string(layers[i], "input_quantizer", file, p);
    const std::optional<int64_t> wb = opt_integer(layers[i], "weight_bits", file, p);
    const std::optional<int64_t> ab = opt_integer(layers[i], "activation_bits", file, p);
    if (!wq.empty()) q.add(q.weight_names, q.weight_bits, wq, wb ? std::optional<int>(int(*wb)) : std::nullopt);
    if (!iq.empty()) q.add(q.input_names, q.activation_bits, iq, ab ? std::optional<int>(int(*ab)) : std::nullopt);
  }
  return q;
}

// A quantizer spec in a config, built through the registry: its label names the method
// ("qnn_linear(grid=paper)"), its precision the bits. A spec the registry rejects (an unknown
// name, a bad option) is an error naming the file and the JSON path.
void add_spec(QuantInfo& q, const json& spec, const std::string& path, const std::string& file,
              bool weight) {
  QuantizerPtr p;
  try {
    p = make_quantizer(spec, path);
  } catch (const Error& e) {
    LB_FAIL(file, ": ", e.what());
  }
  if (!p) return;
  if (weight)
    q.add(q.weight_names, q.weight_bits, p->label(), p->precision());
  else
    q.add(q.input_names, q.activation_bits, p->label(), p->precision());
}

// Walks model.layers (and any nested "layers" lists) for weight_/input_quantizer specs.
void walk_layers(const json& v, const std::string& path, const std::string& file, QuantInfo& q) {
  if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i)
      walk_layers(v[i], path + "[" + std::to_string(i) + "]", file, q);
  } else if (v.is_object()) {
    if (const json* s = member(v, "weight_quantizer"))
      add_spec(q, *s, path + ".weight_quantizer", file, true);
    if (const json* s = member(v, "input_quantizer"))
      add_spec(q, *s, path + ".input_quantizer", file, false);
    for (const auto& [key, child] : v.items())
      if (child.is_array() || child.is_object()) walk_layers(child, path + "." + key, file, q);
  }
}

QuantInfo quant_from_config(const json& config, const std::string& file) {
  QuantInfo q;
  const json* model = member(config, "model");
  const json* layers = model ? member(*model, "layers") : nullptr;
  if (!layers || !layers->is_array()) return q;
  q.inspectable = true;
  walk_layers(*layers, "model.layers", file, q);
  return q;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

void set_method(RunResult& r, const QuantInfo& q) {
  if (!q.inspectable) {
    r.method = r.name.empty() ? r.run : r.name;
    return;
  }
  const std::string w = join(q.weight_names, "+"), a = join(q.input_names, "+");
  r.method = a.empty() ? (w.empty() ? "fp" : w) : (w.empty() ? "fp" : w) + "/" + a;
  auto bits = [&](const std::vector<std::string>& names, const std::set<int>& b) {
    if (names.empty()) return std::vector<int>{32};
    if (q.bits_unknown) return std::vector<int>{};
    return std::vector<int>(b.begin(), b.end());
  };
  r.weight_bits = bits(q.weight_names, q.weight_bits);
  r.activation_bits = bits(q.input_names, q.activation_bits);
}

// ---- the files of a run

void read_metrics(RunResult& r, const std::string& file) {
  const json m = load_json_file(file);
  LB_CHECK(m.is_object(), file, ": expected a JSON object, got ", m.type_name());
  r.test_accuracy = accuracy(m, "test_accuracy", file);
  LB_CHECK(r.test_accuracy, file, ": \"test_accuracy\" is missing");
  r.best_val_accuracy = accuracy(m, "best_val_accuracy", file);
  r.best_epoch = opt_integer(m, "best_epoch", file);
  r.train_seconds = opt_number(m, "train_seconds", file);
  if (const std::optional<int64_t> e = opt_integer(m, "epochs", file)) r.epochs = *e;
  const json* s = member(m, "summary");
  if (!s) return;
  LB_CHECK(s->is_object(), where(file, "summary"), " should be an object, got ", s->dump());
  if (const json* totals = member(*s, "totals")) {
    r.quantized_bytes = opt_number(*totals, "quantized_bytes", file, "summary.totals.");
    r.compression_ratio = opt_number(*totals, "compression_ratio", file, "summary.totals.");
  }
  if (const json* layers = member(*s, "layers")) {
    LB_CHECK(layers->is_array(), where(file, "summary.layers"), " should be a list, got ",
             layers->dump());
    set_method(r, quant_from_summary(*layers, file));
  }
}

void read_progress(RunResult& r, const std::string& file) {
  // A resumed run may repeat an epoch's line; the last one counts.
  std::map<int64_t, json> by_epoch;
  const std::vector<json> lines = read_log(file);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string line = file + ":" + std::to_string(i + 1);
    LB_CHECK(lines[i].is_object(), line, ": expected a JSON object, got ", lines[i].dump());
    const std::optional<int64_t> e = opt_integer(lines[i], "epoch", line);
    LB_CHECK(e, line, ": \"epoch\" is missing");
    by_epoch[*e] = lines[i];
  }
  double seconds = 0;
  for (const auto& [epoch, l] : by_epoch) {
    const std::string line = file + " (epoch " + std::to_string(epoch) + ")";
    const std::optional<double> val = accuracy(l, "val_accuracy", line);
    if (val && (!r.best_val_accuracy || *val > *r.best_val_accuracy)) {
      r.best_val_accuracy = val;
      r.best_epoch = epoch;
    }
    r.last_val_accuracy = val;
    r.epochs_done = epoch;
    seconds += opt_number(l, "seconds", line).value_or(0.0);
  }
  if (!by_epoch.empty()) r.train_seconds = seconds;
}

// Reads a folder that has config.json; nullopt (with the reason) when the config is not a
// training experiment (a `lowbit compress` folder has "prune"/"quantize" and no "model").
std::optional<RunResult> read_run_or_reason(const std::string& dir, std::string& reason) {
  const RunPaths paths(dir);
  LB_CHECK(fs::is_directory(dir), dir, ": not a folder");
  if (!fs::exists(paths.config)) {
    std::string hint = "lowbit table expects folders written by lowbit train";
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && fs::exists(e.path() / "config.json")) {
        hint = "did you mean " + (fs::path(dir) / "*").string() + " ?";
        break;
      }
    LB_FAIL(dir, ": not a run folder (no config.json); ", hint);
  }
  const json config = load_json_file(paths.config);
  LB_CHECK(config.is_object(), paths.config, ": expected a JSON object, got ", config.type_name());
  if (!config.contains("model")) {
    reason = config.contains("prune") || config.contains("quantize")
                 ? "a lowbit compress folder, not a training run"
                 : "config.json has no \"model\": not a training run";
    return std::nullopt;
  }
  RunResult r;
  r.dir = dir;
  // The name as given ("runs/x/" -> "x"; a symlink keeps its own name); "." and ".." resolved.
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  if (p.empty() || p.filename() == "." || p.filename() == "..") p = fs::weakly_canonical(dir);
  if (!p.has_filename()) p = p.parent_path();
  r.run = p.filename().string();
  r.name = opt_string(config, "name", paths.config);
  if (const json* data = member(config, "data"))
    r.dataset = opt_string(*data, "dataset", paths.config, "data.");
  if (const json* train = member(config, "train"))
    r.epochs = opt_integer(*train, "epochs", paths.config, "train.").value_or(0);
  set_method(r, quant_from_config(config, paths.config));
  r.finished = fs::exists(paths.metrics);
  if (r.finished)
    read_metrics(r, paths.metrics);  // the summary (if any) replaces the config's method
  else
    read_progress(r, paths.log);
  return r;
}

// ---- formatting

std::string bits_text(const std::vector<int>& bits) {
  if (bits.empty()) return "?";
  std::string out;
  for (int b : bits) {
    if (!out.empty()) out += ',';
    out += std::to_string(b);
  }
  return out;
}

std::optional<double> percent(std::optional<double> fraction) {
  if (!fraction) return std::nullopt;
  return 100.0 * *fraction;
}

template <class T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// Display columns of a UTF-8 string ("Δ" is two bytes, one column).
size_t width(const std::string& s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Columns from "epochs" on are numbers (right-aligned); the last one (status) is text.
bool numeric_column(const std::vector<std::string>& header, size_t c) {
  return c >= 4 && c + 1 < header.size();
}

}  // namespace

std::string RunResult::status() const {
  if (finished) return "done";
  std::string s = "running: epoch " + std::to_string(epochs_done) + "/" + std::to_string(epochs);
  if (last_val_accuracy) s += ", val " + format_double("%.2f%%", 100.0 * *last_val_accuracy);
  return s;
}

RunResult read_run(const std::string& dir) {
  LB_CHECK(fs::exists(dir), dir, ": no such folder");
  std::string reason;
  std::optional<RunResult> r = read_run_or_reason(dir, reason);
  LB_CHECK(r, dir, ": ", reason);
  return *r;
}

std::vector<RunResult> read_runs(const std::vector<std::string>& paths,
                                 std::vector<std::string>* skipped) {
  std::vector<RunResult> rows;
  std::set<fs::path> seen;
  std::vector<std::string> notes;
  for (const std::string& p : paths) {
    LB_CHECK(fs::exists(p), p, ": no such folder");
    if (!fs::is_directory(p)) {
      notes.push_back(p + " (not a folder)");
      continue;
    }
    if (!seen.insert(fs::weakly_canonical(p)).second) continue;
    std::string reason;
    if (std::optional<RunResult> r = read_run_or_reason(p, reason))
      rows.push_back(std::move(*r));
    else
      notes.push_back(p + " (" + reason + ")");
  }
  if (rows.empty()) {
    std::string msg = "no training run folders among the given paths";
    if (!notes.empty()) msg += "; skipped: " + join(notes, ", ");
    LB_FAIL(msg);
  }
  if (skipped) skipped->insert(skipped->end(), notes.begin(), notes.end());
  return rows;
}

void ResultsTable::set_baseline(const RunResult& base) {
  LB_CHECK(base.finished && base.test_accuracy, "--baseline ", base.dir,
           ": the baseline run is not finished (no metrics.json); ", base.status());
  baseline = base.run;
  for (RunResult& r : rows)
    r.delta_pp = r.test_accuracy
                     ? std::optional<double>(100.0 * (*r.test_accuracy - *base.test_accuracy))
                     : std::nullopt;
}

std::vector<std::string> ResultsTable::header() const {
  std::vector<std::string> h = {"run",        "dataset",    "method",     "W/A bits",
                                "epochs",     "test acc %", "test err %", "best val %",
                                "size KiB",   "compr.",     "train min"};
  if (!baseline.empty()) h.push_back("Δ vs baseline (pp)");
  h.push_back("status");
  return h;
}

std::vector<std::vector<std::string>> ResultsTable::cells() const {
  auto num = [](std::optional<double> v, const char* f) { return v ? format_double(f, *v) : "-"; };
  std::vector<std::vector<std::string>> out;
  for (const RunResult& r : rows) {
    std::vector<std::string> c = {
        r.run,
        r.dataset.empty() ? "-" : r.dataset,
        r.method,
        bits_text(r.weight_bits) + "/" + bits_text(r.activation_bits),
        r.epochs > 0 ? std::to_string(r.epochs) : "-",
        num(percent(r.test_accuracy), "%.2f"),
        num(r.test_accuracy ? std::optional<double>(100.0 * (1.0 - *r.test_accuracy)) : std::nullopt, "%.2f"),
        num(percent(r.best_val_accuracy), "%.2f"),
        num(r.quantized_bytes ? std::optional<double>(*r.quantized_bytes / 1024.0) : std::nullopt, "%.1f"),
        num(r.compression_ratio, "%.1fx"),
        num(r.train_seconds ? std::optional<double>(*r.train_seconds / 60.0) : std::nullopt, "%.1f")};
    if (!baseline.empty()) c.push_back(num(r.delta_pp, "%+.2f"));
    c.push_back(r.status());
    out.push_back(std::move(c));
  }
  return out;
}

std::string ResultsTable::to_text() const {
  const std::vector<std::string> h = header();
  const std::vector<std::vector<std::string>> body = cells();
  std::vector<size_t> w(h.size());
  for (size_t c = 0; c < h.size(); ++c) {
    w[c] = width(h[c]);
    for (const auto& row : body) w[c] = std::max(w[c], width(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(w[c] - width(cells[c]), ' ');
      if (c) out += "  ";
      out += numeric_column(h, c) ? pad + cells[c] : cells[c] + pad;
    }
    out.erase(out.find_last_not_of(' ') + 1);
    return out + "\n";
  };
  std::string out = line(h);
  size_t total = 0;
  for (size_t c = 0; c < w.size(); ++c) total += w[c] + (c ? 2 : 0);
  out += std::string(total, '-') + "\n";
  for (const auto& row : body) out += line(row);
  if (!baseline.empty()) out += "Δ: test accuracy minus " + baseline + "'s, in percentage points\n";
  return out;
}

std::string ResultsTable::to_markdown() const {
  auto escape = [](const std::string& s) {
    std::string out;
    for (char ch : s) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
    return out;
  };
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (const std::string& c : cells) {
      out += ' ';
      out += escape(c);
      out += " |";
    }
    return out + "\n";
  };
  const std::vector<std::string> h = header();
  std::string out = line(h) + "|";
  for (size_t c = 0; c < h.size(); ++c) out += numeric_column(h, c) ? "---:|" : "---|";
  out += "\n";
  for (const auto& row : cells()) out += line(row);
  if (!baseline.empty())
    out += "\nΔ vs baseline: test accuracy minus that of `" + baseline +
           "`, in percentage points.\n";
  return out;
}

json ResultsTable::to_json() const {
  json out = json::array();
  for (const RunResult& r : rows) {
    json j = {{"run", r.run},
              {"dir", r.dir},
              {"name", r.name},
              {"dataset", r.dataset.empty() ? json(nullptr) : json(r.dataset)},
              {"method", r.method},
              {"weight_bits", r.weight_bits.empty() ? json(nullptr) : json(r.weight_bits)},
              {"activation_bits", r.activation_bits.empty() ? json(nullptr) : json(r.activation_bits)},
              {"epochs", r.epochs},
              {"finished", r.finished},
              {"status", r.status()},
              {"test_accuracy_percent", or_null(percent(r.test_accuracy))},
              {"test_error_percent",
               r.test_accuracy ? json(100.0 * (1.0 - *r.test_accuracy)) : json(nullptr)},
              {"best_val_accuracy_percent", or_null(percent(r.best_val_accuracy))},
              {"best_epoch", or_null(r.best_epoch)},
              {"quantized_kib", r.quantized_bytes ? json(*r.quantized_bytes / 1024.0) : json(nullptr)},
              {"compression_ratio", or_null(r.compression_ratio)},
              {"train_minutes", r.train_seconds ? json(*r.train_seconds / 60.0) : json(nullptr)},
              {"epochs_done", r.finished ? json(r.epochs) : json(r.epochs_done)},
              {"last_val_accuracy_percent", or_null(percent(r.last_val_accuracy))}};
    if (!baseline.empty()) {
      j["baseline"] = baseline;
      j["delta_vs_baseline_pp"] = or_null(r.delta_pp);
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace lowbit
