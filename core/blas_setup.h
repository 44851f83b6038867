#pragma once
/// Process start-up settings for the compute runtimes (OpenBLAS kernel, OpenMP waiting).
///
/// Both runtimes read their settings from the environment while the process loads, in their
/// own library constructors, before main() and before any constructor of ours (measured:
/// setenv("OPENBLAS_CORETYPE") in an executable's constructor does not change the kernel). So
/// the only robust way to pick them for the user is to set the variables and re-execute the
/// program once, which prepare_compute_runtime() does. A variable the user set is never
/// changed: their OPENBLAS_CORETYPE / OMP_WAIT_POLICY / GOMP_SPINCOUNT win.
#include <optional>
#include <string>

namespace lowbit {

/// The CPU facts the OpenBLAS kernel choice depends on (from CPUID, or faked in tests).
struct CpuFeatures {
  bool avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512cd = false;
  bool avx512bf16 = false;
};

/// This machine's features (GCC's CPUID probe, which also checks the OS saves the registers).
CpuFeatures detect_cpu_features();

/// The OpenBLAS core to force on a CPU with `cpu`, given the core OpenBLAS picked by itself
/// (`openblas_pick`, e.g. "Prescott"), or nothing when OpenBLAS's own pick already uses the
/// CPU's widest vector unit. OpenBLAS 0.3.21 falls back to SSE3 "Prescott" on CPUs it does not
/// recognise (some Zen); we then choose Cooperlake (AVX-512 + BF16), SkylakeX (AVX-512) or
/// Haswell (AVX2 + FMA). A pure function: unit-tested with faked CPUs.
std::optional<std::string> openblas_core_to_force(const CpuFeatures& cpu, const std::string& openblas_pick);

/// Call first thing in main(): when OPENBLAS_CORETYPE should be chosen (see above) or the
/// OpenMP wait policy is unset, sets them (OMP_WAIT_POLICY=PASSIVE: waiting threads sleep
/// instead of spinning for a core another process holds) and re-executes the program with the
/// same arguments. Returns normally when nothing needs setting (e.g. in the re-executed
/// process), or when re-execution fails (the run then continues with the runtime's defaults).
void prepare_compute_runtime(char** argv);

/// The OpenBLAS kernel in use, e.g. "Cooperlake" (openblas_get_corename()).
std::string blas_core_name();

/// One line for logs: the kernel, and whether lowbit or the user chose it and the wait policy,
/// e.g. "OpenBLAS Cooperlake kernels (chosen by lowbit from CPUID); OpenMP waits passively
/// (lowbit default)".
std::string compute_runtime_summary();

}  // namespace lowbit
