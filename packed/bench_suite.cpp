#include "packed/bench_suite.h"

#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <map>
#include <sstream>

#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/run_files.h"
#include "packed/bench_timing.h"
#include "packed/convert.h"
#include "core/check.h"
#include "packed/kernels/binary_gemm.h"
#include "packed/cpu_features.h"
#include "core/random.h"
#include "core/threads.h"
#include "datasets/data_loader.h"
#include "datasets/registry.h"
#include "layers/registry.h"
#include "quant/registry.h"

namespace lowbit::packed {

using nlohmann::json;
using bench::best_seconds;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string(fallback);
}

double macs(const json& row) {
  return row["M"].get<double>() * row["N"].get<double>() * row["K"].get<double>();
}

std::string row_key(const std::string& shape, int threads) {
  return shape + "/" + std::to_string(threads);
}

// Ternary test data: about a third zeros, as TWN's Δ = 0.7·E|W| leaves on Gaussian weights.
Tensor with_zeros(const Tensor& x) {
  Tensor t = x.clone();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (t.data()[i] > -0.43f && t.data()[i] < 0.43f) t.data()[i] = 0.f;
  return t;
}

// ---- end-to-end models

struct E2eModel {
  std::string name;
  ModulePtr model;
  ConvertOptions convert;
  Tensor images;  // (100, C, H, W) inputs
  Shape input;    // (C, H, W)
  std::string inputs_from;
};

Shape dataset_image_shape(const std::string& dataset) {
  return dataset == "cifar10" ? Shape{3, 32, 32} : Shape{1, 28, 28};
}

/// A model from an experiment config, randomly initialised from its seed (trained = false)
/// or from a run folder; inputs are the first 100 test images as evaluation sees them, or
/// Gaussian images when the data set is not on disk.
E2eModel load_e2e_model(const std::string& path, bool run_dir) {
  E2eModel m;
  json resolved;
  if (run_dir) {
    const RunPaths paths(path);
    resolved = load_json_file(paths.config);
    m.model = load_trained_model(resolved, paths.model);
  } else {
    resolved = load_json_file(path);
  }
  ExperimentConfig cfg;
  try {
    cfg = parse_experiment(resolved);
  } catch (const Error& e) {
    LB_FAIL(path, ": ", e.what());
  }
  if (!run_dir) {
    register_quant_modules();
    Rng init(cfg.seed);
    m.model = make_module(cfg.model_layers, init, "model.layers");
  }
  m.name = cfg.name + (run_dir ? " (trained)" : "");
  m.convert.input_lut =
      input_lut_from_transforms(make_transforms(cfg.data.transforms, "data.transforms"));
  try {
    const InMemoryDataset test = load_dataset(cfg.data.dataset, cfg.data.root, "test");
    DataLoader loader(test, make_transforms(cfg.data.transforms, "data.transforms"),
                      {.batch_size = 100, .shuffle = false, .augment = false});
    m.images = loader.batch(0).images;
    m.inputs_from = cfg.data.dataset + " test images";
  } catch (const Error&) {
    const Shape s = dataset_image_shape(cfg.data.dataset);
    Rng rng(7);
    m.images = Tensor::normal({100, s[0], s[1], s[2]}, rng);
    m.inputs_from = "Gaussian images (" + cfg.data.dataset + " not found under " +
                    cfg.data.root + ")";
  }
  m.input = Shape(m.images.shape().begin() + 1, m.images.shape().end());
  return m;
}

std::vector<E2eModel> e2e_models(const BenchOptions& o) {
  std::vector<E2eModel> out;
  for (const std::string& cfg : o.models) out.push_back(load_e2e_model(cfg, false));
  for (const std::string& dir : o.runs) out.push_back(load_e2e_model(dir, true));
  return out;
}

std::vector<int64_t> argmax_rows(const Tensor& y) {
  std::vector<int64_t> out;
  const int64_t n = y.size(0), c = y.numel() / n;
  for (int64_t i = 0; i < n; ++i) {
    const float* r = y.data() + i * c;
    out.push_back(std::max_element(r, r + c) - r);
  }
  return out;
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

}  // namespace

std::vector<std::string> default_bench_models() {
  return {"experiments/mnist/bnn_mlp.json", "experiments/cifar10/vgg_small_bnn.json",
          "experiments/cifar10/vgg_small_xnor.json"};
}

std::vector<int> bench_threads(const BenchOptions& o) {
  if (!o.threads.empty()) return o.threads;
  std::vector<int> t{1};
  if (num_threads() > 1) t.push_back(num_threads());
  return t;
}

// ---- (a) GEMM

json bench_sgemm(const BenchOptions& o) {
  json rows = json::array();
  const int saved = num_threads();
  for (const bench::GemmShape& p : bench::gemm_shapes(o.quick)) {
    Rng rng(1);
    const Tensor a = Tensor::normal({p.M, p.K}, rng), b = Tensor::normal({p.N, p.K}, rng);
    Tensor c = Tensor::empty({p.M, p.N});
    const int M = static_cast<int>(p.M), N = static_cast<int>(p.N), K = static_cast<int>(p.K);
    for (int t : bench_threads(o)) {
      set_num_threads(t);
      const double s = best_seconds(
          [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, a.data(), K,
                        b.data(), K, 0.f, c.data(), N);
          },
          t, o.min_seconds);
      rows.push_back({{"shape", p.name}, {"M", p.M}, {"N", p.N}, {"K", p.K}, {"threads", t},
                      {"seconds", s}});
    }
  }
  set_num_threads(saved);
  return {{"openblas_core", openblas_get_corename()},
          {"OPENBLAS_CORETYPE", env_or("OPENBLAS_CORETYPE", "(unset)")},
          {"OPENBLAS_L2_SIZE", env_or("OPENBLAS_L2_SIZE", "(unset)")},
          {"rows", rows}};
}

json bench_gemm(const BenchOptions& o, const json& local_sgemm,
                const std::vector<json>& other_sgemm, double ghz) {
  using namespace lowbit::kernels;
  json rows = json::array();
  // sgemm rows of every OpenBLAS setting; the fastest per shape and thread count.
  std::map<std::string, double> local, best;
  auto add_sgemm = [&](const json& env, const std::string& label, bool is_local) {
    for (const json& r : env.at("rows")) {
      const std::string key = row_key(r["shape"], r["threads"].get<int>());
      const double s = r["seconds"].get<double>();
      if (is_local) local[key] = s;
      if (!best.count(key) || s < best[key]) best[key] = s;
      json row = r;
      row["kernel"] = "sgemm";
      row["isa"] = "openblas " + env.value("openblas_core", std::string("?"));
      row["env"] = label;
      rows.push_back(row);
    }
  };
  add_sgemm(local_sgemm, "as set", true);
  for (const json& e : other_sgemm) add_sgemm(e, e.value("env", std::string("child")), false);

  const Isa saved_isa = active_isa();
  const int saved_threads = num_threads();
  for (const bench::GemmShape& p : bench::gemm_shapes(o.quick)) {
    Rng rng(2);
    const Tensor a = Tensor::normal({p.M, p.K}, rng), w = Tensor::normal({p.N, p.K}, rng);
    const PackedMatrix a_bin = pack_binary(a, PackLayout::Rows);
    const PackedMatrix a_ter = pack_ternary(with_zeros(a), PackLayout::Rows);
    const PackedMatrix w_bin = pack_binary(w, PackLayout::Panels);
    const PackedMatrix w_ter = pack_ternary(with_zeros(w), PackLayout::Panels);
    const Tensor alpha = Tensor::uniform({p.N}, rng, 0.5f, 1.5f);
    Tensor c = Tensor::empty({p.M, p.N});
    struct Kind {
      const char* name;
      const PackedMatrix* a;
      const PackedMatrix* b;
    };
    const Kind kinds[] = {{"binary", &a_bin, &w_bin},
                          {"ternary_w", &a_bin, &w_ter},
                          {"ternary_wx", &a_ter, &w_ter}};
    for (int t : bench_threads(o)) {
      set_num_threads(t);
      for (Isa isa : supported_isas()) {
        set_isa(isa);
        for (const Kind& k : kinds) {
          const double s = best_seconds(
              [&] {
                packed_gemm(*k.a, *k.b, c.data(), p.N, {.col_scale = alpha.data()});
              },
              t, o.min_seconds);
          json row = {{"shape", p.name}, {"M", p.M},         {"N", p.N},
                      {"K", p.K},        {"threads", t},     {"kernel", k.name},
                      {"isa", isa_name(isa)}, {"env", ""},   {"seconds", s}};
          rows.push_back(row);
        }
      }
    }
  }
  set_isa(saved_isa);
  set_num_threads(saved_threads);
  for (json& row : rows) {
    const double s = row["seconds"].get<double>();
    row["macs_per_s"] = macs(row) / s;
    if (ghz > 0) row["macs_per_cycle"] = macs(row) / s / (ghz * 1e9);
    const std::string key = row_key(row["shape"], row["threads"].get<int>());
    if (local.count(key)) row["x_sgemm"] = local[key] / s;
    if (best.count(key)) row["x_sgemm_best"] = best[key] / s;
  }
  return rows;
}

// ---- (b) end to end

json bench_e2e(const BenchOptions& o) {
  json rows = json::array(), models = json::array();
  const int saved = num_threads();
  for (E2eModel& m : e2e_models(o)) {
    m.model->eval();
    PackedModel pm = convert_model(*m.model, nullptr, m.convert);
    const int64_t file_bytes =
        static_cast<int64_t>(serialize_packed_file(pm.to_file()).size());
    // Agreement of the packed engine with the float model on the batch of 100.
    Tensor y_float;
    {
      NoGradGuard ng;
      y_float = m.model->forward(Var(m.images)).data();
    }
    pm.set_compute(Compute::Packed);
    const std::vector<int64_t> a = argmax_rows(pm.forward(m.images)), b = argmax_rows(y_float);
    int64_t agree = 0;
    for (size_t i = 0; i < a.size(); ++i) agree += a[i] == b[i];
    models.push_back({{"model", m.name},
                      {"input", m.input},
                      {"inputs_from", m.inputs_from},
                      {"float32_bytes", pm.meta["memory"]["float32_bytes"]},
                      {"packed_file_bytes", file_bytes},
                      {"argmax_agreement", static_cast<double>(agree) / static_cast<double>(a.size())}});
    for (int t : bench_threads(o)) {
      set_num_threads(t);
      for (int64_t batch : {int64_t{1}, int64_t{100}}) {
        const Tensor x = m.images.rows(0, batch).clone();
        auto measure = [&](const char* path, auto&& fn) {
          const double s = best_seconds(fn, t, o.min_seconds, batch == 1 ? 10 : 3);
          rows.push_back({{"model", m.name},
                          {"threads", t},
                          {"batch", batch},
                          {"path", path},
                          {"env", ""},
                          {"seconds", s},
                          {"latency_ms", 1e3 * s},
                          {"images_per_s", static_cast<double>(batch) / s}});
        };
        if (!o.float_only) {
          pm.set_compute(Compute::Packed);
          measure("packed", [&] { pm.forward(x); });
        }
        pm.set_compute(Compute::Float);
        measure("float_graph", [&] { pm.forward(x); });
        measure("float_module", [&] {
          NoGradGuard ng;
          m.model->forward(Var(x));
        });
        pm.set_compute(Compute::Packed);
      }
    }
  }
  set_num_threads(saved);
  return {{"models", models}, {"rows", rows}};
}

void merge_e2e(json& e2e, const std::vector<json>& others) {
  for (const json& other : others)
    for (json r : other.at("rows")) {
      if (r["path"] == "packed") continue;
      r["env"] = other.value("env", std::string("child"));
      e2e["rows"].push_back(r);
    }
  // Speed-ups of packed (this process) over each float path.
  auto key = [](const json& r) {
    return r["model"].get<std::string>() + "/" + std::to_string(r["threads"].get<int>()) + "/" +
           std::to_string(r["batch"].get<int64_t>());
  };
  std::map<std::string, double> packed_s;
  for (const json& r : e2e["rows"])
    if (r["path"] == "packed") packed_s[key(r)] = r["seconds"].get<double>();
  for (json& r : e2e["rows"])
    if (packed_s.count(key(r))) r["packed_speedup"] = r["seconds"].get<double>() / packed_s[key(r)];
}

// ---- goals and tables

json bench_goals(const json& result) {
  json goals = json::array();
  if (result.contains("gemm")) {
    for (const json& r : result["gemm"]) {
      if (r["kernel"] != "binary" || r["threads"] != 1) continue;
      if (r["shape"] != "sq2048" && r["shape"] != "mlp2048") continue;
      const std::string isa = r["isa"];
      if (isa == "scalar") continue;
      const double target = isa == "avx512" ? 20.0 : 6.0;
      const double x = r.value("x_sgemm_best", 0.0);
      goals.push_back({{"goal", "binary GEMM " + isa + " >= " + fixed(target, 0) +
                                    "x the fastest OpenBLAS sgemm, single thread, " +
                                    r["shape"].get<std::string>()},
                       {"measured", x},
                       {"met", x >= target}});
    }
  }
  if (result.contains("e2e")) {
    // Per thread count: packed vs the fastest float path of any OpenBLAS setting.
    std::map<int, double> packed, best_float;
    std::map<int, std::string> best_name;
    for (const json& r : result["e2e"]["rows"]) {
      if (r["batch"] != 100 || r["model"] != "mnist_bnn_mlp") continue;
      const int t = r["threads"].get<int>();
      const double sec = r["seconds"].get<double>();
      if (r["path"] == "packed") {
        packed[t] = sec;
      } else if (!best_float.count(t) || sec < best_float[t]) {
        best_float[t] = sec;
        best_name[t] = r["path"].get<std::string>() +
                       (r["env"].get<std::string>().empty() ? "" : " [" + r["env"].get<std::string>() + "]");
      }
    }
    for (const auto& [t, sec] : packed) {
      if (!best_float.count(t)) continue;
      const double x = best_float[t] / sec;
      goals.push_back({{"goal", "end to end mnist_bnn_mlp packed >= 10x the fastest float path (" +
                                    best_name[t] + ") at batch 100, " + std::to_string(t) +
                                    " thread(s)"},
                       {"measured", x},
                       {"met", x >= 10.0}});
    }
  }
  return goals;
}

std::string format_bench_tables(const json& result) {
  std::ostringstream os;
  if (result.contains("context")) {
    os << "context:";
    for (const auto& [k, v] : result["context"].items())
      os << "  " << k << "=" << (v.is_string() ? v.get<std::string>() : v.dump());
    os << "\n\n";
  }
  if (result.contains("gemm")) {
    os << "(a) GEMM C(M,N) = A(M,K)·B(N,K)^T; time = fastest call (1 thread: thread CPU time, "
          "else wall)\n";
    os << std::left << std::setw(11) << "shape" << std::right << std::setw(6) << "M"
       << std::setw(6) << "N" << std::setw(6) << "K" << std::setw(4) << "thr" << "  "
       << std::left << std::setw(11) << "kernel" << std::setw(26) << "isa / OpenBLAS core"
       << std::right << std::setw(10) << "ms" << std::setw(10) << "GMAC/s" << std::setw(9)
       << "MAC/cyc" << std::setw(9) << "x_sgemm" << std::setw(9) << "x_best" << "\n";
    for (const json& r : result["gemm"]) {
      std::string isa = r["isa"].get<std::string>();
      if (!r["env"].get<std::string>().empty()) {
        isa += " [";
        isa += r["env"].get<std::string>();
        isa += ']';
      }
      os << std::left << std::setw(11) << r["shape"].get<std::string>() << std::right
         << std::setw(6) << r["M"].get<int64_t>() << std::setw(6) << r["N"].get<int64_t>()
         << std::setw(6) << r["K"].get<int64_t>() << std::setw(4) << r["threads"].get<int>()
         << "  " << std::left << std::setw(11) << r["kernel"].get<std::string>() << std::setw(26)
         << isa << std::right << std::setw(10) << fixed(1e3 * r["seconds"].get<double>(), 3)
         << std::setw(10) << fixed(r["macs_per_s"].get<double>() / 1e9, 1) << std::setw(9)
         << (r.contains("macs_per_cycle") ? fixed(r["macs_per_cycle"].get<double>(), 1) : "-")
         << std::setw(9) << (r.contains("x_sgemm") ? fixed(r["x_sgemm"].get<double>(), 2) : "-")
         << std::setw(9)
         << (r.contains("x_sgemm_best") ? fixed(r["x_sgemm_best"].get<double>(), 2) : "-")
         << "\n";
    }
    os << "\n";
  }
  if (result.contains("e2e")) {
    os << "(b) end to end; latency = fastest batch (1 thread: thread CPU time, else wall); "
          "float_module = the training-time model in eval mode, float_graph = the packed graph "
          "with float GEMMs on dequantized weights\n";
    for (const json& m : result["e2e"]["models"])
      os << "  " << m["model"].get<std::string>() << ": float32 "
         << fixed(m["float32_bytes"].get<double>() / 1048576.0, 3) << " MiB, packed file "
         << fixed(m["packed_file_bytes"].get<double>() / 1048576.0, 3) << " MiB ("
         << fixed(m["float32_bytes"].get<double>() / m["packed_file_bytes"].get<double>(), 1)
         << "x), packed/float argmax agreement on 100 inputs "
         << fixed(100.0 * m["argmax_agreement"].get<double>(), 0) << "%\n";
    os << "  (argmax agreement below 100% on randomly initialised models: pre-activations lying "
          "exactly on a folded threshold, where float rounding decides; trained models agree, "
          "docs/packed_format.md)\n";
    os << std::left << std::setw(28) << "model" << std::right << std::setw(4) << "thr"
       << std::setw(6) << "batch" << "  " << std::left << std::setw(13) << "path" << std::setw(12)
       << "OpenBLAS" << std::right
       << std::setw(12) << "latency ms" << std::setw(12) << "images/s" << std::setw(10)
       << "x_packed" << "\n";
    for (const json& r : result["e2e"]["rows"])
      os << std::left << std::setw(28) << r["model"].get<std::string>() << std::right
         << std::setw(4) << r["threads"].get<int>() << std::setw(6) << r["batch"].get<int64_t>()
         << "  " << std::left << std::setw(13) << r["path"].get<std::string>() << std::setw(12)
         << (r["env"].get<std::string>().empty() ? std::string("as set") : r["env"].get<std::string>())
         << std::right
         << std::setw(12) << fixed(r["latency_ms"].get<double>(), 3) << std::setw(12)
         << fixed(r["images_per_s"].get<double>(), 0) << std::setw(10)
         << (r.contains("packed_speedup") ? fixed(r["packed_speedup"].get<double>(), 2) : "-") << "\n";
    os << "\n";
  }
  if (result.contains("goals")) {
    os << "goals (issue #6):\n";
    for (const json& g : result["goals"])
      os << "  [" << (g["met"].get<bool>() ? "met" : "NOT met") << "] " << g["goal"].get<std::string>()
         << ": measured " << fixed(g["measured"].get<double>(), 2) << "x\n";
  }
  return os.str();
}

}  // namespace lowbit::packed
