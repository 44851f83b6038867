#pragma once
/// Timing helpers and GEMM problem shapes shared by `lowbit bench` (packed/bench_suite)
/// and bench/gemm_bench.cpp. Header-only so that the Google-Benchmark binary needs no link
/// to the apps libraries.
///
///   double s = best_seconds([&] { run(); }, /*threads=*/1, /*min_seconds=*/0.2, /*min_reps=*/3);
///
/// On a shared machine other processes only ever add time, so the fastest call is the
/// closest to a kernel's own cost: with one thread it is measured as the calling thread's
/// CPU time (time stolen by other processes is not counted), with more threads as wall time
/// (the CPU time of a parallel region is summed over threads and hides load imbalance).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::bench {

/// CPU seconds of the calling thread.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Core clock in GHz from a dependent imul chain (3-cycle latency on every current x86
/// core), timed with thread CPU time. Under a hypervisor this is the clock the guest sees.
inline double measure_ghz() {
  const uint64_t n = 100'000'000;
  uint64_t x = 3;
  const double t0 = thread_cpu_seconds();
  for (uint64_t i = 0; i < n; ++i) __asm__ volatile("imul %0, %0" : "+r"(x));
  return 3.0 * static_cast<double>(n) / (thread_cpu_seconds() - t0) / 1e9;
}

/// Runs fn until min_reps calls and min_seconds of total time are done (at most max_reps)
/// and returns the fastest call in seconds (thread CPU time for threads == 1, else wall).
template <class Fn>
double best_seconds(Fn&& fn, int threads, double min_seconds = 0.2, int min_reps = 3,
                    int max_reps = 1000) {
  auto now = [threads] { return threads == 1 ? thread_cpu_seconds() : wall_seconds(); };
  double best = 1e30, total = 0;
  const double w0 = wall_seconds();
  for (int r = 0; r < max_reps; ++r) {
    const double t0 = now();
    fn();
    const double dt = now() - t0;
    best = std::min(best, dt);
    total += dt;
    if (r + 1 >= min_reps && (total >= min_seconds || wall_seconds() - w0 >= 4 * min_seconds))
      break;
  }
  return best;
}

/// C(M, N) = A(M, K) · B(N, K)ᵀ problems: square shapes, the MNIST MLP layers at batch 100
/// and the per-image conv GEMMs of CIFAR-10 vgg_small (M = OC, N = OH·OW, K = C·3·3).
struct GemmShape {
  std::string name;
  int64_t M, N, K;
};

inline std::vector<GemmShape> gemm_shapes(bool quick) {
  if (quick) return {{"sq1024", 1024, 1024, 1024}, {"mlp2048", 100, 2048, 2048}};
  return {{"sq256", 256, 256, 256},          {"sq512", 512, 512, 512},
          {"sq1024", 1024, 1024, 1024},      {"sq2048", 2048, 2048, 2048},
          {"mlp784", 100, 2048, 784},        {"mlp2048", 100, 2048, 2048},
          {"vgg_conv2", 32, 1024, 288},      {"vgg_conv4", 64, 256, 576},
          {"vgg_conv6", 128, 64, 1152},      {"vgg_fc", 100, 256, 2048}};
}

}  // namespace lowbit::bench
