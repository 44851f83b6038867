#include "packed/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/check.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LB_X86 1
#endif

namespace lowbit::kernels {

namespace {

struct Features {
  bool scalar = false, avx2 = false, avx512 = false;
};

#ifdef LB_X86
uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

bool bit(uint32_t reg, int b) { return (reg >> b) & 1u; }

Features detect() {
  Features f;
  uint32_t a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const uint32_t ecx1 = c;
  const bool ssse3 = bit(ecx1, 9), sse41 = bit(ecx1, 19), sse42 = bit(ecx1, 20),
             popcnt = bit(ecx1, 23), movbe = bit(ecx1, 22), fma = bit(ecx1, 12),
             osxsave = bit(ecx1, 27), avx = bit(ecx1, 28), f16c = bit(ecx1, 29);
  f.scalar = popcnt && ssse3 && sse41 && sse42;

  uint32_t ebx7 = 0, ecx7 = 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    ebx7 = b;
    ecx7 = c;
  }
  bool lzcnt = false;
  if (__get_cpuid(0x80000001u, &a, &b, &c, &d)) lzcnt = bit(c, 5);

  // The OS must save the wider registers on context switch (XCR0), not only the CPU have them.
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;                 // SSE + AVX state
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM

  const bool avx2 = bit(ebx7, 5), bmi1 = bit(ebx7, 3), bmi2 = bit(ebx7, 8);
  f.avx2 = f.scalar && os_avx && avx && avx2 && bmi1 && bmi2 && fma && f16c && lzcnt && movbe;

  const bool avx512f = bit(ebx7, 16), avx512dq = bit(ebx7, 17), avx512cd = bit(ebx7, 28),
             avx512bw = bit(ebx7, 30), avx512vl = bit(ebx7, 31), vpopcntdq = bit(ecx7, 14);
  f.avx512 =
      f.avx2 && os_avx512 && avx512f && avx512dq && avx512cd && avx512bw && avx512vl && vpopcntdq;
  return f;
}
#else
Features detect() { return {}; }
#endif

const Features& features() {
  static const Features f = detect();
  return f;
}

Isa best_supported() {
  const auto isas = supported_isas();
  LB_CHECK(!isas.empty(),
           "bit-packed kernels: this CPU lacks POPCNT/SSE4.2 (x86-64-v2), which even the scalar "
           "kernels need; use the float path instead");
  return isas.back();
}

Isa initial_isa() {
  const char* env = std::getenv("LOWBIT_ISA");
  if (!env || !*env || std::string_view(env) == "auto") return best_supported();
  const Isa isa = parse_isa(env);
  LB_CHECK(isa_supported(isa), "LOWBIT_ISA=", env,
           ": this CPU does not support it (supported: ", cpu_summary(), ")");
  return isa;
}

// -1 = not yet initialised.
std::atomic<int> g_isa{-1};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "?";
}

Isa parse_isa(std::string_view name) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (name == isa_name(isa)) return isa;
  LB_FAIL("LOWBIT_ISA / parse_isa: unknown ISA \"", name,
          "\"; expected one of scalar, avx2, avx512 (or auto)");
}

bool isa_supported(Isa isa) {
  const Features& f = features();
  switch (isa) {
    case Isa::Scalar:
      return f.scalar;
    case Isa::Avx2:
      return f.avx2;
    case Isa::Avx512:
      return f.avx512;
  }
  return false;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

std::string_view cpu_summary() {
  static const std::string s = [] {
    std::string r;
    for (Isa isa : supported_isas()) r += std::string(r.empty() ? "" : " ") + isa_name(isa);
    return r.empty() ? std::string("none") : r;
  }();
  return s;
}

Isa active_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    static const Isa first = initial_isa();  // thread-safe, runs once; throws again if it failed
    int expected = -1;
    g_isa.compare_exchange_strong(expected, static_cast<int>(first));
    v = g_isa.load(std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_isa(Isa isa) {
  LB_CHECK(isa_supported(isa), "set_isa: this CPU does not support ", isa_name(isa),
           " (supported: ", cpu_summary(), ")");
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace lowbit::kernels
