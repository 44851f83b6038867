#pragma once
// Private: which instruction sets the bit-packed kernels may use, and which one they use.
//
// Detection reads cpuid (and xgetbv, so an OS that does not save AVX/AVX-512 state counts
// as "not supported") once. The active ISA is the best supported one, or LOWBIT_ISA
// (scalar | avx2 | avx512 | auto) when set; tests and benchmarks switch with set_isa().
//
//   for (Isa isa : supported_isas()) { set_isa(isa); ... }   // every path the CPU can run
#include <string_view>
#include <vector>

namespace lowbit::kernels {

/// Kernel families, in increasing speed. Each needs (checked by isa_supported):
///   Scalar: x86-64-v2 (POPCNT, SSE4.2).
///   Avx2:   x86-64-v3 (AVX2, FMA, BMI1/2, LZCNT, MOVBE, F16C); popcount by pshufb nibble table.
///   Avx512: x86-64-v4 (AVX-512 F/CD/BW/DQ/VL) + AVX512_VPOPCNTDQ (_mm512_popcnt_epi64).
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

/// "scalar", "avx2", "avx512".
const char* isa_name(Isa isa);
/// Inverse of isa_name; throws lowbit::Error listing the valid names.
Isa parse_isa(std::string_view name);

/// True when this CPU (and OS) can run the kernels of `isa`.
bool isa_supported(Isa isa);
/// Supported ISAs in increasing order (empty only on a CPU without POPCNT).
std::vector<Isa> supported_isas();
/// The supported ISA names for logs and errors: "scalar avx2 avx512" ("none" if empty).
std::string_view cpu_summary();

/// The ISA the packed kernels dispatch to. First call reads LOWBIT_ISA; throws
/// lowbit::Error if it names an unknown or unsupported ISA, or if no ISA is supported.
Isa active_isa();
/// Switches the dispatch (all threads); throws lowbit::Error when !isa_supported(isa).
void set_isa(Isa isa);

}  // namespace lowbit::kernels
