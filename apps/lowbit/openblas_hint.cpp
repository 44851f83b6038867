#include "apps/lowbit/openblas_hint.h"

#include <cblas.h>

#include <string>

namespace lowbit::cli {

void hint_if_openblas_underuses_cpu(std::ostream& out) {
  const std::string core = openblas_get_corename();
  // OpenBLAS's SSE-era core names: what it falls back to on CPUs it does not recognise.
  const bool sse_kernel = core == "Prescott" || core == "Core2" || core == "Penryn" ||
                          core == "Dunnington" || core == "Nehalem" || core == "Atom" ||
                          core == "Barcelona";
  if (!sse_kernel) return;
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 && !__builtin_cpu_supports("avx2")) return;
  out << "lowbit: note: OpenBLAS chose its " << core << " (SSE) kernels on a CPU with "
      << (avx512 ? "AVX-512" : "AVX2") << "; float layers run 2-4x faster with OPENBLAS_CORETYPE="
      << (avx512 ? "SkylakeX" : "Haswell")
      << " in the environment (OpenBLAS reads it at start-up)\n";
}

}  // namespace lowbit::cli
