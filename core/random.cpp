#include "core/random.h"

#include <cmath>

namespace lowbit {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Rng::seed_with(uint64_t seed) {
  // xoshiro's authors recommend seeding the state with splitmix64.
  for (auto& w : s_) w = splitmix64(seed);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Rng::below(uint64_t n) {
  // Lemire's rejection: unbiased for any n.
  const uint64_t limit = (0 - n) % n;
  for (;;) {
    const uint64_t r = next_u64();
    if (r >= limit) return r % n;
  }
}

float Rng::normal() {
  float u1 = uniform();
  while (u1 <= 0.f) u1 = uniform();
  const float u2 = uniform();
  return std::sqrt(-2.f * std::log(u1)) * std::cos(6.2831853071795864f * u2);
}

}  // namespace lowbit
