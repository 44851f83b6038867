#pragma once
// A one-line hint when OpenBLAS runs a kernel far below what the CPU can do.
#include <ostream>

namespace lowbit::cli {

/// OpenBLAS 0.3.21 does not know some recent CPUs (e.g. Zen 5) and falls back to its SSE3
/// "Prescott" kernels, 2-4x slower than its AVX2/AVX-512 ones. OpenBLAS reads
/// OPENBLAS_CORETYPE only when it loads, so lowbit cannot fix this itself; it says how.
/// Prints nothing when OpenBLAS already uses a kernel that matches the CPU.
void hint_if_openblas_underuses_cpu(std::ostream& out);

}  // namespace lowbit::cli
