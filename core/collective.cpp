#include "core/collective.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "core/check.h"
#include "core/random.h"
#include "core/shard_group.h"

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
  void do_allgather(const float* mine, float* all, const std::vector<int64_t>& counts) override {
    std::copy(mine, mine + counts.at(0), all);
  }
  void do_allgather(const double* mine, double* all, const std::vector<int64_t>& counts) override {
    std::copy(mine, mine + counts.at(0), all);
  }
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

template <class T>
void Collective::timed_allreduce_sum(T* data, int64_t n, CommKind kind) {
  if (size() == 1) return;
  timed(times_[static_cast<int>(kind)], [&] { do_allreduce_sum(data, n); });
}

void Collective::allreduce_sum(float* data, int64_t n, CommKind kind) {
  timed_allreduce_sum(data, n, kind);
}

void Collective::allreduce_sum(double* data, int64_t n, CommKind kind) {
  timed_allreduce_sum(data, n, kind);
}

std::vector<uint64_t> Collective::allgather(uint64_t value) {
  if (size() == 1) return {value};
  std::vector<uint64_t> out;
  timed(times_[static_cast<int>(CommKind::kOther)], [&] { out = do_allgather(value); });
  return out;
}

template <class T>
void Collective::timed_allgather(const T* mine, T* all, const std::vector<int64_t>& counts,
                                 CommKind kind) {
  LB_CHECK(int64_t(counts.size()) == size(), "allgather: ", counts.size(), " counts for ", size(),
           " processes");
  if (size() == 1) return do_allgather(mine, all, counts);
  timed(times_[static_cast<int>(kind)], [&] { do_allgather(mine, all, counts); });
}

void Collective::allgather(const float* mine, float* all, const std::vector<int64_t>& counts,
                           CommKind kind) {
  timed_allgather(mine, all, counts, kind);
}

void Collective::allgather(const double* mine, double* all, const std::vector<int64_t>& counts,
                           CommKind kind) {
  timed_allgather(mine, all, counts, kind);
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

NotBatchMajorScope::NotBatchMajorScope() : saved_(g_shard) { g_shard = nullptr; }

NotBatchMajorScope::~NotBatchMajorScope() { g_shard = saved_; }

void batch_norm_sum_across_processes(double* sums, int64_t n) {
  if (g_shard && g_shard->group)
    g_shard->group->sum_in_shard_order(sums, n);
  else
    collective().allreduce_sum(sums, n, CommKind::kBatchNorm);
}

void draw_uniforms_for_batch(Rng& rng, int64_t rows, int64_t numel, float* out) {
  const BatchShard* shard = numel > 0 ? active_batch_shard(rows) : nullptr;
  const int64_t per_row = rows > 0 ? numel / rows : 0;
  const int64_t skip_before = shard ? shard->first_row * per_row : 0;
  const int64_t skip_after =
      shard ? (shard->global_rows - shard->first_row - shard->rows) * per_row : 0;
  for (int64_t i = 0; i < skip_before; ++i) rng.uniform();
  for (int64_t i = 0; i < numel; ++i) out[i] = rng.uniform();
  for (int64_t i = 0; i < skip_after; ++i) rng.uniform();
}

int mpi_launcher_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"}) {
    const char* v = std::getenv(var);
    if (v && *v && std::atoi(v) > 0) return std::atoi(v);
  }
  return 0;
}

void require_one_process(const std::string& command) {
  const int n = mpi_launcher_size();
  LB_CHECK(n <= 1, command, " runs in one process, but was started as one of ", n,
           " MPI processes: start it without mpirun/srun (only `lowbit train` runs on several "
           "processes, docs/distributed.md)");
}

#ifndef LB_HAVE_MPI
std::unique_ptr<Collective> mpi_collective_from_environment() {
  const int n = mpi_launcher_size();
  LB_CHECK(n <= 1, "started as one of ", n,
           " MPI processes, but this lowbit was built without MPI: install an MPI "
           "(e.g. Debian libopenmpi-dev) and rebuild (docs/distributed.md)");
  return nullptr;
}
#endif

}  // namespace lowbit
