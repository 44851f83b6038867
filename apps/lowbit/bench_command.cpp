// lowbit bench [--json] [--json-out FILE] [--quick] [--threads 1,2] [--model CONFIG]... [--run RUN_DIR]...
//              [--skip-gemm] [--skip-e2e] [--min-time S]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cblas.h>
#include <cstdio>
#include <iostream>

#include "apps/lowbit/commands.h"
#include "packed/bench_suite.h"
#include "packed/bench_timing.h"
#include "core/blas_setup.h"
#include "core/check.h"
#include "core/serialize.h"
#include "packed/cpu_features.h"
#include "core/threads.h"

namespace lowbit::cli {

namespace {
struct BenchArgs {
  packed::BenchOptions options;
  bool json = false;
  std::string json_out;
  bool skip_gemm = false;
  bool skip_e2e = false;
  bool sgemm_only = false;  // child mode: sgemm under this process's OpenBLAS settings
};

// Output of `lowbit bench ARGS` run as a child with its environment changed by `env`, as
// JSON with an "env" label; null (and a warning) when it fails.
nlohmann::json run_child(const std::string& env, const std::string& args, const std::string& label);

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  LB_CHECK(n > 0, "lowbit bench: cannot locate its own executable (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

// The options a child needs to measure the same rows.
std::string child_args(const BenchArgs& a) {
  std::string s = " --min-time " + std::to_string(a.options.min_seconds) + " --threads ";
  const std::vector<int> threads = packed::bench_threads(a.options);
  for (size_t i = 0; i < threads.size(); ++i) s += (i ? "," : "") + std::to_string(threads[i]);
  if (a.options.quick) s += " --quick";
  for (const std::string& m : a.options.models) s += " --model '" + m + "'";
  for (const std::string& r : a.options.runs) s += " --run '" + r + "'";
  return s;
}

// OpenBLAS reads OPENBLAS_CORETYPE when the library loads, so sgemm under other settings
// needs another process: this command again, in child mode, with the environment changed.
nlohmann::json run_child(const std::string& env, const std::string& args, const std::string& label) {
  const std::string cmd = "env " + env + " '" + self_exe() + "' bench" + args;
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    if (pclose(p) != 0) out.clear();
  }
  try {
    nlohmann::json j = nlohmann::json::parse(out);
    j["env"] = label;
    return j;
  } catch (const std::exception&) {
    std::cerr << "lowbit bench: warning: the re-run `" << cmd << "` failed; its rows are "
              << "missing\n";
    return nullptr;
  }
}

void run_bench(const BenchArgs& a) {
  if (a.sgemm_only) {
    std::cout << packed::bench_sgemm(a.options).dump() << '\n';
    return;
  }
  if (a.options.float_only) {
    std::cout << packed::bench_e2e(a.options).dump() << '\n';
    return;
  }
  nlohmann::json result;
  if (!a.json) std::cerr << "lowbit bench: " << compute_runtime_summary() << "\n";
  const double ghz = bench::measure_ghz();
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  result["context"] = {{"isas", std::string(kernels::cpu_summary())},
                       {"active_isa", kernels::isa_name(kernels::active_isa())},
                       {"measured_ghz", ghz},
                       {"threads", packed::bench_threads(a.options)},
                       {"openblas_core", openblas_get_corename()},
                       {"compute_runtime", compute_runtime_summary()},
                       {"OPENBLAS_CORETYPE", coretype ? coretype : "(unset)"},
                       {"timing", "fastest repetition; 1 thread: thread CPU time, more: wall"},
                       {"openblas_settings",
                        "as set: this process; unset: env -u OPENBLAS_CORETYPE -u "
                        "OPENBLAS_L2_SIZE; SkylakeX: OPENBLAS_CORETYPE=SkylakeX (re-runs of this "
                        "command)"}};
  if (!a.skip_gemm) {
    if (!a.json) std::cerr << "lowbit bench: GEMM kernels vs sgemm...\n";
    const nlohmann::json local = packed::bench_sgemm(a.options);
    std::vector<nlohmann::json> others;
    for (const auto& [env, label] :
         std::vector<std::pair<std::string, std::string>>{
             {"-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE", "unset"},
             {"OPENBLAS_CORETYPE=SkylakeX", "SkylakeX"}}) {
      nlohmann::json j = run_child(env, " --sgemm-only" + child_args(a), label);
      if (!j.is_null()) others.push_back(std::move(j));
    }
    result["gemm"] = packed::bench_gemm(a.options, local, others, ghz);
  }
  if (!a.skip_e2e) {
    if (!a.json) std::cerr << "lowbit bench: end-to-end models...\n";
    result["e2e"] = packed::bench_e2e(a.options);
    // The float paths again with OpenBLAS's AVX-512 kernels (this process may run another).
    std::vector<nlohmann::json> others;
    nlohmann::json j = run_child("OPENBLAS_CORETYPE=SkylakeX", " --float-only" + child_args(a),
                                 "SkylakeX");
    if (!j.is_null()) others.push_back(std::move(j));
    packed::merge_e2e(result["e2e"], others);
  }
  result["goals"] = packed::bench_goals(result);
  if (!a.json_out.empty()) write_file_atomic(a.json_out, result.dump(2) + "\n");
  if (a.json)
    std::cout << result.dump(2) << '\n';
  else
    std::cout << packed::format_bench_tables(result);
}
}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Benchmark the packed kernels against OpenBLAS sgemm and packed vs float models");
  cmd->add_flag("--json", a->json, "Print the results as JSON instead of tables");
  cmd->add_option("--json-out", a->json_out, "Also write the JSON results to this file");
  cmd->add_flag("--quick", a->options.quick, "Fewer shapes and models (a smoke run)");
  cmd->add_option("--threads", a->options.threads, "Thread counts to measure (default: 1 and all)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--run", a->options.runs,
                  "Also measure the trained model of this run folder (repeatable)");
  cmd->add_option("--model", a->options.models,
                  "Experiment configs measured end to end, randomly initialised (default: "
                  "experiments/mnist/bnn_mlp.json, experiments/cifar10/vgg_small_{bnn,xnor}.json)");
  cmd->add_option("--min-time", a->options.min_seconds,
                  "Minimum measured seconds per row (default 0.2)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--skip-gemm", a->skip_gemm, "Skip the GEMM part");
  cmd->add_flag("--skip-e2e", a->skip_e2e, "Skip the end-to-end part");
  cmd->add_flag("--sgemm-only", a->sgemm_only, "Internal: sgemm timings as JSON (child mode)")
      ->group("");
  cmd->add_flag("--float-only", a->options.float_only,
                "Internal: end-to-end float paths as JSON (child mode)")
      ->group("");
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace lowbit::cli
