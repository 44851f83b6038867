#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <queue>

#include "core/check.h"
#include "core/random.h"
#include "compress/huffman.h"

using namespace lowbit;

namespace {

// Optimal weighted path length, computed independently: the sum of all merge weights of
// Huffman's algorithm run with a binary heap.
uint64_t optimal_cost(const std::vector<uint64_t>& freq) {
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> q;
  for (uint64_t f : freq)
    if (f > 0) q.push(f);
  if (q.size() < 2) return 0;
  uint64_t cost = 0;
  while (q.size() > 1) {
    const uint64_t a = q.top();
    q.pop();
    const uint64_t b = q.top();
    q.pop();
    cost += a + b;
    q.push(a + b);
  }
  return cost;
}

std::vector<uint32_t> round_trip(const HuffmanCode& code, const std::vector<uint32_t>& s,
                                 uint64_t* nbits) {
  BitWriter w;
  code.encode(s, w);
  *nbits = w.bit_count();
  const std::vector<uint8_t> bytes = w.finish();
  BitReader r(bytes.data(), bytes.size(), *nbits);
  std::vector<uint32_t> back = code.decode(r, s.size());
  CHECK(r.remaining() == 0);
  return back;
}

std::vector<uint64_t> counts(const std::vector<uint32_t>& s, size_t A) {
  std::vector<uint64_t> f(A, 0);
  for (uint32_t x : s) ++f[x];
  return f;
}

}  // namespace

TEST_CASE("bit streams: MSB first, zero padded, overrun detected") {
  BitWriter w;
  w.put(5, 3);
  w.put(1, 1);
  w.put(0xABCDEF01u, 32);
  CHECK(w.bit_count() == 36);
  const std::vector<uint8_t> b = w.finish();
  REQUIRE(b.size() == 5);
  CHECK(b[0] == 0xBA);
  CHECK(b[4] == 0x10);
  BitReader r(b.data(), b.size(), 36);
  CHECK(r.get(3) == 5);
  CHECK(r.get(1) == 1);
  CHECK(r.peek(32) == 0xABCDEF01u);
  CHECK(r.get(32) == 0xABCDEF01u);
  CHECK_THROWS_WITH_AS(r.get(1), doctest::Contains("past its end"), Error);
}

TEST_CASE("Huffman: a small known code is canonical") {
  const std::vector<uint64_t> f = {5, 1, 1, 3};
  const HuffmanCode c = HuffmanCode::from_frequencies(f);
  CHECK(c.lengths() == std::vector<uint8_t>{1, 3, 3, 2});
  CHECK(c.code(0) == 0b0);
  CHECK(c.code(3) == 0b10);
  CHECK(c.code(1) == 0b110);
  CHECK(c.code(2) == 0b111);
  CHECK(c.encoded_bits(f) == 5 * 1 + 1 * 3 + 1 * 3 + 3 * 2);
  CHECK(c.encoded_bits(f) == optimal_cost(f));
}

TEST_CASE("Huffman: round trip and optimality on many distributions") {
  Rng rng(21);
  for (uint32_t A : {2u, 3u, 5u, 16u, 32u, 256u, 1000u}) {
    for (int shape = 0; shape < 3; ++shape) {
      CAPTURE(A);
      CAPTURE(shape);
      std::vector<uint32_t> s(20000);
      for (auto& x : s) {
        if (shape == 0) x = static_cast<uint32_t>(rng.below(A));  // uniform
        else if (shape == 1) {                                       // geometric
          uint32_t v = 0;
          while (v + 1 < A && rng.uniform() < 0.6f) ++v;
          x = v;
        } else {  // peaked around the middle, like shared weights
          const float g = rng.normal() * static_cast<float>(A) / 10.f + static_cast<float>(A) / 2.f;
          x = static_cast<uint32_t>(std::clamp(g, 0.f, static_cast<float>(A - 1)));
        }
      }
      const std::vector<uint64_t> f = counts(s, A);
      const HuffmanCode code = HuffmanCode::from_frequencies(f);
      uint64_t nbits = 0;
      CHECK(round_trip(code, s, &nbits) == s);
      CHECK(nbits == code.encoded_bits(f));
      CHECK(nbits == optimal_cost(f));  // minimum-redundancy: no code is longer than needed
      const double avg = static_cast<double>(nbits) / static_cast<double>(s.size());
      const double H = entropy_bits(f);
      CHECK(avg >= H - 1e-9);
      CHECK(avg < H + 1.0);
    }
  }
}

TEST_CASE("Huffman: zero and one used symbol") {
  const HuffmanCode none = HuffmanCode::from_frequencies(std::vector<uint64_t>(8, 0));
  CHECK(none.num_used() == 0);
  uint64_t nbits = 1;
  CHECK(round_trip(none, {}, &nbits).empty());
  CHECK(nbits == 0);
  BitReader empty(nullptr, 0, 0);
  CHECK_THROWS_AS(none.decode(empty, 1), Error);
  CHECK_THROWS_AS(
      [&] { BitWriter w; none.encode(std::vector<uint32_t>{3}, w); }(), Error);

  std::vector<uint64_t> f(8, 0);
  f[5] = 100;
  const HuffmanCode one = HuffmanCode::from_frequencies(f);
  CHECK(one.single_symbol() == 5);
  CHECK(entropy_bits(f) == 0.0);
  const std::vector<uint32_t> s(100, 5);
  CHECK(round_trip(one, s, &nbits) == s);
  CHECK(nbits == 0);  // average length 0 = H, inside [H, H + 1)
  CHECK_THROWS_AS(
      [&] { BitWriter w; one.encode(std::vector<uint32_t>{4}, w); }(), Error);
}

TEST_CASE("Huffman: long codes (slow decode path) and the length cap") {
  // Fibonacci counts give the deepest optimal tree: n symbols -> longest code n - 1.
  std::vector<uint64_t> fib = {1, 1};
  while (fib.size() < 25) fib.push_back(fib[fib.size() - 1] + fib[fib.size() - 2]);
  const HuffmanCode deep = HuffmanCode::from_frequencies(fib);
  CHECK(deep.max_length() == 24);
  CHECK(deep.encoded_bits(fib) == optimal_cost(fib));
  std::vector<uint32_t> s;
  for (uint32_t x = 0; x < 25; ++x)
    for (int r = 0; r < 3; ++r) s.push_back(x);
  uint64_t nbits = 0;
  CHECK(round_trip(deep, s, &nbits) == s);

  while (fib.size() < 45) fib.push_back(fib[fib.size() - 1] + fib[fib.size() - 2]);
  const HuffmanCode capped = HuffmanCode::from_frequencies(fib);
  CHECK(capped.max_length() <= kMaxHuffmanCodeLength);
  s.clear();
  for (uint32_t x = 0; x < 45; ++x) s.push_back(x);
  CHECK(round_trip(capped, s, &nbits) == s);
}

TEST_CASE("Huffman: tables round trip; bad tables and short streams are rejected") {
  Rng rng(22);
  std::vector<uint64_t> f(32);
  for (auto& x : f) x = rng.below(50);
  for (const HuffmanCode& c :
       {HuffmanCode::from_frequencies(f), HuffmanCode::single(32, 7),
        HuffmanCode::from_frequencies(std::vector<uint64_t>(32, 0))}) {
    ByteWriter w;
    c.write_table(w);
    CHECK(8 * w.size() == c.table_bits());
    ByteReader r(w.str().data(), w.size(), "table");
    const HuffmanCode back = HuffmanCode::read_table(r, 32);
    CHECK(r.remaining() == 0);
    CHECK(back.lengths() == c.lengths());
    CHECK(back.single_symbol() == c.single_symbol());
  }
  // Incomplete (Kraft < 1) and over-subscribed (> 1) length sets.
  CHECK_THROWS_WITH_AS(HuffmanCode::from_lengths({1, 2, 0, 0}), doctest::Contains("Kraft"), Error);
  CHECK_THROWS_AS(HuffmanCode::from_lengths({1, 1, 1, 0}), Error);
  CHECK_THROWS_AS(HuffmanCode::from_lengths({1, 40}), Error);
  // A stream cut short: the decoder throws instead of inventing symbols.
  const HuffmanCode c = HuffmanCode::from_frequencies(f);
  std::vector<uint32_t> s(200);
  for (auto& x : s) {
    do x = static_cast<uint32_t>(rng.below(32));
    while (f[x] == 0);
  }
  BitWriter w;
  c.encode(s, w);
  const uint64_t nbits = w.bit_count();
  const std::vector<uint8_t> bytes = w.finish();
  BitReader r(bytes.data(), (nbits - 9 + 7) / 8, nbits - 9);
  CHECK_THROWS_WITH_AS(c.decode(r, s.size()), doctest::Contains("past its end"), Error);
}
