#include <doctest/doctest.h>

#include <barrier>
#include <cmath>
#include <thread>
#include <stdexcept>

#include "core/collective.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/shard_group.h"

using namespace lowbit;

namespace {

// Two processes played by two threads: each thread sets its rank; a sum waits for both and
// adds the two contributions in rank order.
class ThreadPair final : public Collective {
 public:
  static void set_rank(int r) { rank_ = r; }
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  std::string name() const override { return "thread_pair"; }
  [[noreturn]] void abort(const std::string& m) override { throw std::runtime_error(m); }

 protected:
  void do_allreduce_sum(float* d, int64_t n) override { sum(d, n); }
  void do_allreduce_sum(double* d, int64_t n) override { sum(d, n); }
  std::vector<uint64_t> do_allgather(uint64_t v) override { return {v, v}; }
  void do_allgather(const float* mine, float* all, const std::vector<int64_t>& counts) override {
    gather(mine, all, counts);
  }
  void do_allgather(const double* mine, double* all, const std::vector<int64_t>& counts) override {
    gather(mine, all, counts);
  }

 private:
  template <typename T>
  void gather(const T* mine, T* all, const std::vector<int64_t>& counts) {
    slot_[rank_].assign(mine, mine + counts[size_t(rank_)]);
    sync_.arrive_and_wait();
    std::copy(slot_[0].begin(), slot_[0].end(), all);
    std::copy(slot_[1].begin(), slot_[1].end(), all + counts[0]);
    sync_.arrive_and_wait();
  }
  template <typename T>
  void sum(T* d, int64_t n) {
    slot_[rank_].assign(d, d + n);
    sync_.arrive_and_wait();
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<T>(slot_[0][i] + slot_[1][i]);
    sync_.arrive_and_wait();
  }
  static thread_local int rank_;
  std::vector<double> slot_[2];
  std::barrier<> sync_{2};
};
thread_local int ThreadPair::rank_ = 0;

struct UseCollective {
  explicit UseCollective(std::unique_ptr<Collective> c) { set_collective(std::move(c)); }
  ~UseCollective() { set_collective(single_process_collective()); }
};

void check_close(const Tensor& a, const Tensor& b, float tol) {
  REQUIRE(a.numel() == b.numel());
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data()[i] == doctest::Approx(b.data()[i]).epsilon(tol));
}

}  // namespace

TEST_CASE("dropout in a batch shard draws the global batch's mask and keeps its rows") {
  Rng whole(11), part(11);
  const Tensor x = Tensor::ones({8, 5});
  const Tensor full = dropout(Var(x), 0.5f, true, whole).data();
  Tensor rows;
  {
    BatchShardScope shard({.first_row = 2, .rows = 3, .global_rows = 8});
    rows = dropout(Var(Tensor::ones({3, 5})), 0.5f, true, part).data();
  }
  for (int64_t i = 0; i < 15; ++i) CHECK(rows.data()[i] == full.data()[10 + i]);
  CHECK(whole.state() == part.state());  // the generator moved as far as in one process
  CHECK(active_batch_shard(3) == nullptr);  // the scope ended
}

TEST_CASE("batch norm in a batch shard uses the global batch's statistics, forward and backward") {
  // Two "processes" as two threads, each with its half of the batch; sums go through a
  // shared buffer. Compared with one process on the whole batch.
  Rng rng(3);
  const Tensor x = Tensor::normal({6, 3, 2, 2}, rng, 1.f, 2.f);
  const Tensor gy = Tensor::normal({6, 3, 2, 2}, rng);
  const Tensor gamma0 = Tensor::from_vector({3}, {0.5f, 1.5f, -1.f});
  const Tensor beta0 = Tensor::from_vector({3}, {0.1f, 0.f, -0.2f});

  Var xf(x.clone(), true), gf(gamma0.clone(), true), bf(beta0.clone(), true);
  Tensor rm_f = Tensor::zeros({3}), rv_f = Tensor::ones({3});
  const Var yf = batch_norm(xf, gf, bf, rm_f, rv_f, {});
  yf.backward(gy);

  UseCollective pair(std::make_unique<ThreadPair>());
  struct Half {
    Var x, gamma, beta, y;
    Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  } half[2];
  const int64_t split[3] = {0, 2, 6};  // uneven halves: rows [0, 2) and [2, 6)
  auto run = [&](int r) {
    ThreadPair::set_rank(r);
    Half& h = half[r];
    h.x = Var(x.rows(split[r], split[r + 1]).clone(), true);
    h.gamma = Var(gamma0.clone(), true);
    h.beta = Var(beta0.clone(), true);
    {
      BatchShardScope shard({.first_row = split[r], .rows = split[r + 1] - split[r], .global_rows = 6});
      h.y = batch_norm(h.x, h.gamma, h.beta, h.rm, h.rv, {});
    }
    h.y.backward(gy.rows(split[r], split[r + 1]).clone());
  };
  std::thread other(run, 1);
  run(0);
  other.join();
  for (int r = 0; r < 2; ++r) {
    check_close(half[r].y.data(), yf.data().rows(split[r], split[r + 1]), 1e-5f);
    check_close(half[r].x.grad(), xf.grad().rows(split[r], split[r + 1]), 1e-4f);
    check_close(half[r].rm, rm_f, 1e-6f);
    check_close(half[r].rv, rv_f, 1e-6f);
  }
  // γ and β gradients stay each process's own: the gradient allreduce adds them up.
  for (int64_t c = 0; c < 3; ++c) {
    CHECK(half[0].gamma.grad().data()[c] + half[1].gamma.grad().data()[c] ==
          doctest::Approx(gf.grad().data()[c]).epsilon(1e-5));
    CHECK(half[0].beta.grad().data()[c] + half[1].beta.grad().data()[c] ==
          doctest::Approx(bf.grad().data()[c]).epsilon(1e-5));
  }
}

namespace {

// Batch norm forward and backward of a (7, 2, 3) batch split into `shards` shards, run by
// the processes of collective() (one or a ThreadPair rank): each process fills its shards'
// rows of y and dx; running statistics from its first shard.
struct ShardedBn {
  Tensor y = Tensor::zeros({7, 2, 3}), dx = Tensor::zeros({7, 2, 3});
  Tensor rm = Tensor::zeros({2}), rv = Tensor::ones({2});
};

void sharded_batch_norm(int64_t shards, ShardedBn& out) {
  Rng rng(8);
  const Tensor x = Tensor::normal({7, 2, 3}, rng, 0.5f, 2.f);
  const Tensor gy = Tensor::normal({7, 2, 3}, rng);
  ShardGroup group(shards, collective());
  group.run(7, [&](int64_t local) {
    const BatchShard sh = group.shard(group.first_local() + local, 7);
    const int64_t a = sh.first_row, b = sh.first_row + sh.rows;
    Var xs(x.rows(a, b).clone(), true);
    const Var y = batch_norm(xs, Var(), Var(), out.rm, out.rv, {});
    y.backward(gy.rows(a, b).clone());
    std::copy(y.data().data(), y.data().data() + y.data().numel(), out.y.data() + a * 6);
    std::copy(xs.grad().data(), xs.grad().data() + xs.grad().numel(), out.dx.data() + a * 6);
  }, {});
}

}  // namespace

TEST_CASE("ShardGroup: batch norm over fixed shards gives the same bits for 1 and 2 processes") {
  ShardedBn one;
  sharded_batch_norm(3, one);
  // The same three shards held by two "processes" (1 and 2 shards).
  ShardedBn two[2];
  {
    UseCollective pair(std::make_unique<ThreadPair>());
    auto run = [&](int r) {
      ThreadPair::set_rank(r);
      sharded_batch_norm(3, two[r]);
    };
    std::thread other(run, 1);
    run(0);
    other.join();
  }
  // Rank 0 holds shard 0 (rows 0-1), rank 1 shards 1 and 2 (rows 2-6).
  for (int64_t i = 0; i < 42; ++i) {
    const ShardedBn& p = two[i < 12 ? 0 : 1];
    CHECK(p.y.data()[i] == one.y.data()[i]);
    CHECK(p.dx.data()[i] == one.dx.data()[i]);
  }
  for (int r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 2; ++c) {
      CHECK(two[r].rm.data()[c] == one.rm.data()[c]);  // updated once per process
      CHECK(two[r].rv.data()[c] == one.rv.data()[c]);
    }
  // And close to one batch norm of the whole batch (the sums are only formed in another order).
  Rng rng(8);
  const Tensor x = Tensor::normal({7, 2, 3}, rng, 0.5f, 2.f);
  Tensor rm = Tensor::zeros({2}), rv = Tensor::ones({2});
  const Tensor y = batch_norm(Var(x), Var(), Var(), rm, rv, {}).data();
  check_close(one.y, y, 1e-5f);
  check_close(one.rm, rm, 1e-6f);
}

TEST_CASE("ShardGroup refuses more processes than shards and sums gradients in shard order") {
  {
    UseCollective pair(std::make_unique<ThreadPair>());
    CHECK_THROWS_WITH_AS(ShardGroup(1, collective()),
                         doctest::Contains("at least one shard"), std::exception);
  }
  ShardGroup group(3, collective());
  const std::vector<float> parts = {1e8f, 1.f, -1e8f, 1.f, 1.f, 1.f};  // 3 shards of 2
  std::vector<float> out(2);
  group.sum_in_shard_order(parts, 2, out.data(), CommKind::kGradients);
  CHECK(out[0] == (1e8f + -1e8f) + 1.f);  // ((p0 + p1) + p2), not another order
  CHECK(out[1] == 3.f);
}
