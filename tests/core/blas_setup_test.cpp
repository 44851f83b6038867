#include "core/blas_setup.h"

#include <doctest/doctest.h>

using namespace lowbit;

namespace {
CpuFeatures avx2_cpu() { return {.avx2 = true, .fma = true}; }
CpuFeatures avx512_cpu() {
  CpuFeatures c = avx2_cpu();
  c.avx512f = c.avx512bw = c.avx512vl = c.avx512dq = c.avx512cd = true;
  return c;
}
}  // namespace

TEST_CASE("openblas_core_to_force: AVX-512 CPUs OpenBLAS did not recognise get an AVX-512 core") {
  CpuFeatures zen5 = avx512_cpu();
  zen5.avx512bf16 = true;
  CHECK(openblas_core_to_force(zen5, "Prescott") == "Cooperlake");
  CHECK(openblas_core_to_force(avx512_cpu(), "Prescott") == "SkylakeX");
  // OpenBLAS's AVX2 cores are narrower than the CPU: upgrade them too.
  CHECK(openblas_core_to_force(avx512_cpu(), "Zen") == "SkylakeX");
  CHECK(openblas_core_to_force(avx512_cpu(), "Haswell") == "SkylakeX");
}

TEST_CASE("openblas_core_to_force: keeps OpenBLAS's own pick when it already fits the CPU") {
  CpuFeatures zen4 = avx512_cpu();
  zen4.avx512bf16 = true;
  CHECK_FALSE(openblas_core_to_force(zen4, "Cooperlake").has_value());
  CHECK_FALSE(openblas_core_to_force(zen4, "SkylakeX").has_value());
  CHECK_FALSE(openblas_core_to_force(avx512_cpu(), "SapphireRapids").has_value());
  CHECK_FALSE(openblas_core_to_force(avx2_cpu(), "Zen").has_value());
  CHECK_FALSE(openblas_core_to_force(avx2_cpu(), "Haswell").has_value());
}

TEST_CASE("openblas_core_to_force: AVX2 CPUs on an SSE or AVX core get Haswell") {
  CHECK(openblas_core_to_force(avx2_cpu(), "Prescott") == "Haswell");
  CHECK(openblas_core_to_force(avx2_cpu(), "Sandybridge") == "Haswell");
  CHECK(openblas_core_to_force(avx2_cpu(), "Unknown") == "Haswell");
}

TEST_CASE("openblas_core_to_force: partial AVX-512 or no FMA falls back a level") {
  CpuFeatures knl = avx2_cpu();
  knl.avx512f = knl.avx512cd = true;  // no BW/VL/DQ (Knights Landing): not SkylakeX-capable
  CHECK(openblas_core_to_force(knl, "Prescott") == "Haswell");
  CpuFeatures no_fma = avx2_cpu();
  no_fma.fma = false;
  CHECK_FALSE(openblas_core_to_force(no_fma, "Prescott").has_value());
  CHECK_FALSE(openblas_core_to_force(CpuFeatures{}, "Prescott").has_value());
}

TEST_CASE("blas_core_name and compute_runtime_summary name the kernel in use") {
  const std::string core = blas_core_name();
  CHECK_FALSE(core.empty());
  CHECK(compute_runtime_summary().find("OpenBLAS " + core + " kernels") == 0);
}
