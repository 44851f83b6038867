#pragma once
/// The measurements behind `lowbit bench` (issue #6, item 4):
///   (a) GEMM: binary and ternary popcount kernels per ISA against OpenBLAS sgemm on the
///       same shapes and thread counts (bench_timing.h gemm_shapes), as MACs/s, MACs/cycle
///       and the ratio to sgemm;
///   (b) end to end: images/s and latency at batch 1 and 100 of the packed engine against
///       the float path of the same model (the training-time Module in eval mode, and the
///       same packed graph computed with float GEMMs on the dequantized weights).
/// Results are JSON (rows of measurements); format_bench_tables prints them.
///
///   BenchOptions o{.quick = true};
///   nlohmann::json r = {{"gemm", bench_gemm(o, bench_sgemm(o), {})}, {"e2e", bench_e2e(o)}};
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lowbit::packed {

/// The end-to-end models: experiments/mnist/bnn_mlp.json,
/// experiments/cifar10/vgg_small_bnn.json, experiments/cifar10/vgg_small_xnor.json.
std::vector<std::string> default_bench_models();

struct BenchOptions {
  bool quick = false;
  /// Thread counts to measure; empty: {1, num_threads()}.
  std::vector<int> threads;
  /// Experiment configs whose models (randomly initialised from the config's seed: speed
  /// does not depend on training) are measured end to end.
  std::vector<std::string> models = default_bench_models();
  /// Run folders whose trained models are measured too.
  std::vector<std::string> runs;
  /// Minimum measured time per row (more repetitions on a noisy machine).
  double min_seconds = 0.2;
  /// End to end: only the float paths (what a child under other OpenBLAS settings runs).
  bool float_only = false;
};

/// The thread counts of `o` (defaults filled in).
std::vector<int> bench_threads(const BenchOptions& o);

/// sgemm of every shape and thread count under this process's OpenBLAS configuration:
/// {"openblas_core", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "rows": [{shape, M, N, K,
/// threads, seconds}]}. What the re-run children report.
nlohmann::json bench_sgemm(const BenchOptions& o);

/// Packed kernels per ISA; `local_sgemm` from bench_sgemm() in this process, `other_sgemm`
/// from children under other OpenBLAS settings (each with an "env" label). Rows: shape, M,
/// N, K, threads, kernel (sgemm | binary | ternary_w | ternary_wx), isa, env, seconds,
/// macs_per_s, macs_per_cycle (when ghz > 0), x_sgemm (vs sgemm of this process),
/// x_sgemm_best (vs the fastest sgemm of all settings).
nlohmann::json bench_gemm(const BenchOptions& o, const nlohmann::json& local_sgemm,
                          const std::vector<nlohmann::json>& other_sgemm, double ghz);

/// End-to-end rows: model, threads, batch, path (packed | float_graph | float_module), env
/// (""), seconds (per batch), latency_ms, images_per_s; plus per model the packed file size
/// and the argmax agreement of packed and float on the batch of 100.
nlohmann::json bench_e2e(const BenchOptions& o);

/// Adds the float rows of children run under other OpenBLAS settings (each with an "env"
/// label) to `e2e` and sets every row's packed_speedup = row seconds / seconds of the
/// packed row (this process) of the same model, threads and batch.
void merge_e2e(nlohmann::json& e2e, const std::vector<nlohmann::json>& others);

/// The goals evaluated on a result {"gemm": ..., "e2e": ...}; the end-to-end goal
/// counts against the fastest float path of any OpenBLAS setting.
nlohmann::json bench_goals(const nlohmann::json& result);

/// Human-readable tables of a result {"context", "gemm", "e2e", "goals"}.
std::string format_bench_tables(const nlohmann::json& result);

}  // namespace lowbit::packed
