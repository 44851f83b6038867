// GEMM micro-benchmark (issue #6, item 4a): bit-packed binary and ternary GEMMs per ISA
// against OpenBLAS sgemm on the same shapes, in the same run.
//
//   build-x/bench/gemm_bench [--threads=1,2] [--quick] [google-benchmark flags]
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build-x/bench/gemm_bench   # OpenBLAS default core
//   OPENBLAS_CORETYPE=Cooperlake build-x/bench/gemm_bench --benchmark_filter=sgemm
//
// Every problem is C(M, N) = A(M, K) · B(N, K)ᵀ: sgemm is cblas_sgemm(NoTrans, Trans) on float
// matrices, the packed kernels run on pre-packed operands (the weights B are packed once at
// load time in inference; `+pack_a` rows include packing the float activations A).
// Counters:
//   MACs/s     multiply-accumulates per second (M·N·K per call; one "binary MAC" = one ±1
//              product, the unit of the goals in issue #6). sgemm FLOP/s = 2 · its MACs/s.
//   MACs/cyc   MACs/s divided by the clock measured at start (dependent-imul loop).
// Times behind the counters: the fastest call (other load on a shared machine only adds
// time), measured as CPU time of the calling thread with one thread and as wall time with
// more. Google Benchmark's own Time / CPU columns are means over all calls.
//   x_sgemm    sgemm time / this time for the same shape and thread count (the speed-up).
// OpenBLAS reads OPENBLAS_CORETYPE once at load time, so compare cores by running the binary
// twice (see above); the context block prints the core in use.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "packed/bench_timing.h"
#include "packed/kernels/binary_gemm.h"
#include "packed/cpu_features.h"
#include "core/random.h"
#include "core/tensor.h"
#include "core/threads.h"

namespace {

using namespace lowbit;
using namespace lowbit::kernels;

using Problem = bench::GemmShape;

// Square shapes, the MNIST MLP layers at batch 100 and the per-image conv GEMMs of CIFAR-10
// vgg_small: the shapes of `lowbit bench` (packed/bench_timing.h).
std::vector<Problem> problems(bool quick) { return bench::gemm_shapes(quick); }

double g_ghz = 0;                         // measured clock
std::map<std::string, double> g_sgemm_s;  // "shape/threads" -> seconds per call

using bench::measure_ghz;
using bench::thread_cpu_seconds;
using bench::wall_seconds;

std::string key(const Problem& p, int threads) { return p.name + "/" + std::to_string(threads); }

void set_counters(benchmark::State& state, const Problem& p, double seconds_per_call,
                  double sgemm_s) {
  const double macs =
      static_cast<double>(p.M) * static_cast<double>(p.N) * static_cast<double>(p.K);
  const double rate = macs / seconds_per_call;
  state.counters["MACs/s"] = benchmark::Counter(rate);
  if (g_ghz > 0) state.counters["MACs/cyc"] = benchmark::Counter(rate / (g_ghz * 1e9));
  if (sgemm_s > 0) state.counters["x_sgemm"] = benchmark::Counter(sgemm_s / seconds_per_call);
}

// Runs the timed loop and returns the fastest call in seconds: the calling thread's CPU time
// for one thread, wall time for several. The minimum (not the mean) because this machine is
// shared: other processes only ever add time, so the best call is the kernel's own cost.
template <class Fn>
double timed_loop(benchmark::State& state, int threads, Fn&& fn) {
  double best = 1e30;
  for (auto _ : state) {
    const double t0 = threads == 1 ? thread_cpu_seconds() : wall_seconds();
    fn();
    best = std::min(best, (threads == 1 ? thread_cpu_seconds() : wall_seconds()) - t0);
  }
  return best;
}

void bm_sgemm(benchmark::State& state, Problem p, int threads) {
  set_num_threads(threads);
  Rng rng(1);
  const Tensor a = Tensor::normal({p.M, p.K}, rng), b = Tensor::normal({p.N, p.K}, rng);
  Tensor c = Tensor::empty({p.M, p.N});
  const int M = static_cast<int>(p.M), N = static_cast<int>(p.N), K = static_cast<int>(p.K);
  const double s = timed_loop(state, threads, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, a.data(), K, b.data(), K,
                0.f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  });
  g_sgemm_s[key(p, threads)] = s;
  set_counters(state, p, s, s);
}

enum class Kind { Binary, BinaryPackA, TernaryWeights, TernaryBoth };

void bm_packed(benchmark::State& state, Problem p, int threads, Isa isa, Kind kind) {
  set_num_threads(threads);
  set_isa(isa);
  Rng rng(2);
  const Tensor a = Tensor::normal({p.M, p.K}, rng);
  Tensor w = Tensor::normal({p.N, p.K}, rng);
  if (kind == Kind::TernaryWeights || kind == Kind::TernaryBoth) {
    for (int64_t i = 0; i < w.numel(); ++i)  // about a third zeros, as TWN thresholds give
      if (w.data()[i] > -0.43f && w.data()[i] < 0.43f) w.data()[i] = 0.f;
  }
  Tensor at = a.clone();
  if (kind == Kind::TernaryBoth)
    for (int64_t i = 0; i < at.numel(); ++i)
      if (at.data()[i] > -0.43f && at.data()[i] < 0.43f) at.data()[i] = 0.f;
  const bool tern_w = kind == Kind::TernaryWeights || kind == Kind::TernaryBoth;
  const PackedMatrix pb =
      tern_w ? pack_ternary(w, PackLayout::Panels) : pack_binary(w, PackLayout::Panels);
  const PackedMatrix pa = kind == Kind::TernaryBoth ? pack_ternary(at, PackLayout::Rows)
                                                    : pack_binary(a, PackLayout::Rows);
  const Tensor alpha = Tensor::uniform({p.N}, rng, 0.5f, 1.5f);
  const GemmEpilogue ep{.col_scale = alpha.data()};
  Tensor c = Tensor::empty({p.M, p.N});
  const double s = timed_loop(state, threads, [&] {
    if (kind == Kind::BinaryPackA) {
      const PackedMatrix packed = pack_binary(a, PackLayout::Rows);
      packed_gemm(packed, pb, c.data(), p.N, ep);
    } else {
      packed_gemm(pa, pb, c.data(), p.N, ep);
    }
    benchmark::DoNotOptimize(c.data());
  });
  const auto it = g_sgemm_s.find(key(p, threads));
  set_counters(state, p, s, it == g_sgemm_s.end() ? 0 : it->second);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Binary:
      return "binary";
    case Kind::BinaryPackA:
      return "binary+pack_a";
    case Kind::TernaryWeights:
      return "ternary_w";
    case Kind::TernaryBoth:
      return "ternary_wx";
  }
  return "?";
}

std::vector<int> parse_threads(const char* s) {
  std::vector<int> out;
  for (const char* q = s; *q;) {
    out.push_back(std::atoi(q));
    while (*q && *q != ',') ++q;
    if (*q == ',') ++q;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // Our flags first (removed from argv), then Google Benchmark's.
  std::vector<int> thread_counts = {1};
  bool quick = false;
  int out_argc = 0;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      thread_counts = parse_threads(argv[i] + 10);
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      argv[out_argc++] = argv[i];
    }
  }
  argc = out_argc;

  g_ghz = measure_ghz();
  const char* ct = std::getenv("OPENBLAS_CORETYPE");
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("OPENBLAS_CORETYPE", ct ? ct : "(unset)");
  benchmark::AddCustomContext("measured_ghz", std::to_string(g_ghz));
  benchmark::AddCustomContext("isas", std::string(cpu_summary()));

  for (const Problem& p : problems(quick))
    for (int t : thread_counts) {
      const std::string suffix = p.name + "/threads:" + std::to_string(t);
      benchmark::RegisterBenchmark(("sgemm/" + suffix).c_str(), bm_sgemm, p, t)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      for (Isa isa : supported_isas())
        for (Kind kind :
             {Kind::Binary, Kind::BinaryPackA, Kind::TernaryWeights, Kind::TernaryBoth}) {
          // Packing float activations matters where A is activations: the MLP layers.
          if (kind == Kind::BinaryPackA && p.name.rfind("mlp", 0) != 0) continue;
          const std::string name =
              std::string(kind_name(kind)) + "/" + isa_name(isa) + "/" + suffix;
          benchmark::RegisterBenchmark(name.c_str(), bm_packed, p, t, isa, kind)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
