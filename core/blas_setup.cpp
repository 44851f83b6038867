#include "core/blas_setup.h"

#include <cblas.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <set>

namespace lowbit {

namespace {
// Names lowbit records in LOWBIT_CHOSE_ENV for the variables it set itself (for the summary).
constexpr const char* kChoseEnv = "LOWBIT_CHOSE_ENV";

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

// What the re-executing parent set, taken out of the environment so programs we start do not
// mistake it for theirs.
std::string& chosen_by_lowbit() {
  static std::string chose;
  return chose;
}

bool lowbit_chose(const char* name) { return chosen_by_lowbit().find(name) != std::string::npos; }

bool has_avx512(const CpuFeatures& c) {
  return c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx512cd;
}
}  // namespace

CpuFeatures detect_cpu_features() {
  __builtin_cpu_init();
  CpuFeatures c;
  c.avx2 = __builtin_cpu_supports("avx2");
  c.fma = __builtin_cpu_supports("fma");
  c.avx512f = __builtin_cpu_supports("avx512f");
  c.avx512bw = __builtin_cpu_supports("avx512bw");
  c.avx512vl = __builtin_cpu_supports("avx512vl");
  c.avx512dq = __builtin_cpu_supports("avx512dq");
  c.avx512cd = __builtin_cpu_supports("avx512cd");
  c.avx512bf16 = __builtin_cpu_supports("avx512bf16");
  return c;
}

std::optional<std::string> openblas_core_to_force(const CpuFeatures& cpu, const std::string& openblas_pick) {
  // OpenBLAS cores whose sgemm kernels use each vector width (x86-64, OpenBLAS 0.3.21).
  static const std::set<std::string> avx512_cores = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  static const std::set<std::string> avx2_cores = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                                   "SapphireRapids"};
  if (has_avx512(cpu)) {
    if (avx512_cores.count(openblas_pick)) return std::nullopt;
    return std::string(cpu.avx512bf16 ? "Cooperlake" : "SkylakeX");
  }
  if (cpu.avx2 && cpu.fma) {
    if (avx2_cores.count(openblas_pick)) return std::nullopt;
    return std::string("Haswell");
  }
  return std::nullopt;  // an SSE/AVX-only CPU: OpenBLAS's own choice is as good as ours
}

void prepare_compute_runtime(char** argv) {
  if (const char* marker = std::getenv(kChoseEnv)) {  // we are the re-executed process
    chosen_by_lowbit() = marker;
    unsetenv(kChoseEnv);
    return;
  }
  std::string chose;
  if (!env_set("OPENBLAS_CORETYPE")) {
    // OpenBLAS has already picked its core in its constructor; force ours only if it is narrower.
    if (auto core = openblas_core_to_force(detect_cpu_features(), openblas_get_corename())) {
      setenv("OPENBLAS_CORETYPE", core->c_str(), 1);
      chose += " OPENBLAS_CORETYPE";
    }
  }
  if (!env_set("OMP_WAIT_POLICY") && !env_set("GOMP_SPINCOUNT")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    chose += " OMP_WAIT_POLICY";
  }
  if (chose.empty()) return;
  setenv(kChoseEnv, chose.c_str(), 1);
  execv("/proc/self/exe", argv);
  // Only reached when exec failed (e.g. no /proc): carry on with the runtimes' defaults.
  std::cerr << "lowbit: note: could not re-execute to apply" << chose << " (" << std::strerror(errno)
            << "); running with the OpenBLAS/OpenMP defaults\n";
}

std::string blas_core_name() { return openblas_get_corename(); }

std::string compute_runtime_summary() {
  std::string s = "OpenBLAS " + blas_core_name() + " kernels";
  if (lowbit_chose("OPENBLAS_CORETYPE")) s += " (chosen by lowbit from CPUID)";
  else if (env_set("OPENBLAS_CORETYPE")) {
    s += " (OPENBLAS_CORETYPE set by the user)";
    // A forgotten export is costly: one-thread VGG-small epochs on Zen 5 took 149 s with
    // Haswell kernels, 103 s with Cooperlake (and the other core busy).
    if (auto wider = openblas_core_to_force(detect_cpu_features(), blas_core_name()))
      s += " — narrower than this CPU allows (" + *wider + "): unset OPENBLAS_CORETYPE for full speed";
  }
  else s += " (OpenBLAS's own choice)";
  if (lowbit_chose("OMP_WAIT_POLICY")) s += "; OpenMP waits passively (lowbit default)";
  else if (env_set("GOMP_SPINCOUNT")) s += std::string("; GOMP_SPINCOUNT=") + std::getenv("GOMP_SPINCOUNT");
  else if (env_set("OMP_WAIT_POLICY")) s += std::string("; OMP_WAIT_POLICY=") + std::getenv("OMP_WAIT_POLICY");
  else s += "; OpenMP waits with its default spinning";
  return s;
}

}  // namespace lowbit
