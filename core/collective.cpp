#include "core/collective.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "core/check.h"

namespace lowbit {

namespace {

using Clock = std::chrono::steady_clock;

// One process: the sums are the values themselves.
class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single"; }
  [[noreturn]] void abort(const std::string& message) override {
    std::cerr << message << std::endl;
    std::exit(1);
  }

 protected:
  void do_allreduce_sum(float*, int64_t) override {}
  void do_allreduce_sum(double*, int64_t) override {}
  std::vector<uint64_t> do_allgather(uint64_t value) override { return {value}; }
};

std::unique_ptr<Collective>& installed() {
  static std::unique_ptr<Collective> c = std::make_unique<SingleProcess>();
  return c;
}

template <typename F>
void timed(CommTime& t, F&& f) {
  const auto t0 = Clock::now();
  f();
  t.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  ++t.calls;
}

// The shard of the step being computed by this thread (the thread that drives the step).
thread_local const BatchShard* g_shard = nullptr;
thread_local BatchShard g_shard_value;

}  // namespace

void Collective::allreduce_sum(float* data, int64_t n, CommKind kind) {
  if (size() == 1) return;
  timed(times_[static_cast<int>(kind)], [&] { do_allreduce_sum(data, n); });
}

void Collective::allreduce_sum(double* data, int64_t n, CommKind kind) {
  if (size() == 1) return;
  timed(times_[static_cast<int>(kind)], [&] { do_allreduce_sum(data, n); });
}

std::vector<uint64_t> Collective::allgather(uint64_t value) {
  if (size() == 1) return {value};
  std::vector<uint64_t> out;
  timed(times_[static_cast<int>(CommKind::kOther)], [&] { out = do_allgather(value); });
  return out;
}

Collective& collective() { return *installed(); }

std::unique_ptr<Collective> single_process_collective() { return std::make_unique<SingleProcess>(); }

void set_collective(std::unique_ptr<Collective> c) {
  LB_CHECK(c != nullptr, "set_collective: null");
  installed() = std::move(c);
}

const BatchShard* active_batch_shard(int64_t rows) {
  return g_shard && g_shard->rows == rows ? g_shard : nullptr;
}

BatchShardScope::BatchShardScope(const BatchShard& shard) {
  g_shard_value = shard;
  g_shard = &g_shard_value;
}

BatchShardScope::~BatchShardScope() { g_shard = nullptr; }

void batch_norm_sum_across_processes(double* sums, int64_t n) {
  collective().allreduce_sum(sums, n, CommKind::kBatchNorm);
}

#ifndef LB_HAVE_MPI
std::unique_ptr<Collective> mpi_collective_from_environment() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"}) {
    const char* v = std::getenv(var);
    LB_CHECK(!(v && std::atoi(v) > 1), "started as one of ", v,
             " MPI processes, but this lowbit was built without MPI: install an MPI "
             "(e.g. Debian libopenmpi-dev) and rebuild (docs/distributed.md)");
  }
  return nullptr;
}
#endif

}  // namespace lowbit
