#include <doctest/doctest.h>

#include "core/core.h"

using namespace lowbit;

TEST_CASE("tensor: factories, reshape view, rows view, clone") {
  Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(x.numel() == 6);
  CHECK(x.size(-1) == 3);
  CHECK(x.at({1, 2}) == 6.f);
  Tensor y = x.reshape({3, -1});
  CHECK(y.shape() == Shape{3, 2});
  CHECK(y.shares_storage(x));
  y.data()[0] = 9.f;
  CHECK(x.at({0, 0}) == 9.f);
  Tensor r = x.rows(1, 2);
  CHECK(r.shape() == Shape{1, 3});
  CHECK(r.data()[0] == 4.f);
  Tensor c = x.clone();
  c.data()[0] = -1.f;
  CHECK(x.data()[0] == 9.f);
  CHECK(reinterpret_cast<uintptr_t>(Tensor::empty({7}).data()) % 64 == 0);
  CHECK_THROWS_WITH_AS(x.reshape({4, 2}), doctest::Contains("reshape"), Error);
  CHECK_THROWS_AS(Tensor::from_vector({2}, {1, 2, 3}), Error);
  CHECK_THROWS_AS(x.at({2, 0}), Error);
}

TEST_CASE("rng: seeded streams repeat, state round-trips") {
  Rng a(7), b(7);
  for (int i = 0; i < 10; ++i) CHECK(a.next_u64() == b.next_u64());
  Rng::State s = a.state();
  const float u = a.uniform();
  a.set_state(s);
  CHECK(a.uniform() == u);
  for (int i = 0; i < 1000; ++i) {
    const float v = a.uniform();
    CHECK((v >= 0.f && v < 1.f));
    CHECK(a.below(10) < 10);
  }
}
