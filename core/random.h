#pragma once
/// Rng: an explicit, seeded, serialisable random generator (xoshiro256**).
///
/// Every random draw in lowbit takes an `Rng&` (initialisers, dropout, shuffling, stochastic
/// quantizers), so a run is reproduced by its seed, and a checkpoint stores `state()` to
/// resume bit-identically.
///
///   Rng rng(42);
///   float u = rng.uniform();          // [0, 1)
///   Rng child = rng.split();          // independent stream, e.g. per data worker
#include <array>
#include <cstdint>

namespace lowbit {

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Rng(uint64_t seed = 0) { seed_with(seed); }
  void seed_with(uint64_t seed);

  uint64_t next_u64();
  /// Uniform float in [0, 1) with 24 random bits.
  float uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n) (n > 0), unbiased.
  uint64_t below(uint64_t n);
  /// Standard normal (Box-Muller; one value per call, no cached spare so state() is complete).
  float normal();
  /// A new generator seeded from this one's stream.
  Rng split() { return Rng(next_u64()); }

  const State& state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  State s_{};
};

}  // namespace lowbit
