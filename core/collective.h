#pragma once
/// The processes of one data-parallel training run, and the few collective operations the
/// training step needs. One process (the default, `lowbit train`) is the case N = 1 of the
/// same code: every operation is then a no-op. Under `mpirun -np N` / `srun`, the CLI
/// installs the MPI implementation (core/collective_mpi.cpp, built when CMake finds MPI)
/// before training:
///
///   if (auto mpi = mpi_collective_from_environment()) set_collective(std::move(mpi));
///   Collective& world = collective();
///   world.allreduce_sum(grads.data(), grads.size(), CommKind::kGradients);
///
/// What is synchronised (docs/distributed.md): the summed gradients (the training loop,
/// experiment/batch_loop.cpp), batch norm's per-channel sums (core/ops/norm.cpp), the epoch's
/// loss and accuracy totals, and startup checks (config and data hashes). Every collective
/// call is guarded by a watchdog: a call that does not complete within
/// LOWBIT_COLLECTIVE_TIMEOUT seconds (default 300) ends every process with an error naming
/// the waiting rank, so a stuck or vanished peer never hangs the job.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lowbit {

class Rng;
class ShardGroup;

/// What a collective call is for, so the time spent in each is reported separately
/// (metrics.json "distributed").
enum class CommKind { kGradients, kBatchNorm, kOther };

struct CommTime {
  double seconds = 0.0;
  int64_t calls = 0;
};

class Collective {
 public:
  virtual ~Collective() = default;
  /// 0 .. size()-1; rank 0 prints and writes files.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "mpi" or "single".
  virtual std::string name() const = 0;

  /// Element-wise sums over all processes, in place; every process gets the same values.
  void allreduce_sum(float* data, int64_t n, CommKind kind);
  void allreduce_sum(double* data, int64_t n, CommKind kind);
  /// `value` of every process, indexed by rank.
  std::vector<uint64_t> allgather(uint64_t value);
  /// Concatenation in rank order of every process's `counts[rank]` values: `mine` holds this
  /// process's, `all` receives Σcounts values (the same on every process).
  void allgather(const float* mine, float* all, const std::vector<int64_t>& counts, CommKind kind);
  void allgather(const double* mine, double* all, const std::vector<int64_t>& counts, CommKind kind);
  /// Ends every process of the job with exit code 1 after printing `message` (prefixed with
  /// the rank) on stderr. In one process: prints and exits.
  [[noreturn]] virtual void abort(const std::string& message) = 0;

  /// Time spent in collective calls of each kind since the last reset.
  const CommTime& time(CommKind kind) const { return times_[static_cast<int>(kind)]; }
  void reset_times() { times_[0] = times_[1] = times_[2] = {}; }

 protected:
  virtual void do_allreduce_sum(float* data, int64_t n) = 0;
  virtual void do_allreduce_sum(double* data, int64_t n) = 0;
  virtual std::vector<uint64_t> do_allgather(uint64_t value) = 0;
  virtual void do_allgather(const float* mine, float* all, const std::vector<int64_t>& counts) = 0;
  virtual void do_allgather(const double* mine, double* all, const std::vector<int64_t>& counts) = 0;

 private:
  // The float and double entry points share these (defined and instantiated in collective.cpp).
  template <class T>
  void timed_allreduce_sum(T* data, int64_t n, CommKind kind);
  template <class T>
  void timed_allgather(const T* mine, T* all, const std::vector<int64_t>& counts, CommKind kind);
  CommTime times_[3];
};

/// The process group in use: one process unless set_collective installed another.
Collective& collective();
void set_collective(std::unique_ptr<Collective> c);
/// The default: one process, every operation a no-op.
std::unique_ptr<Collective> single_process_collective();

/// The MPI process group when this process was started by mpirun/mpiexec/srun with more
/// than one process (MPI initialised here, finalised at exit); nullptr in a plain run.
/// Throws when started by an MPI launcher with N > 1 but built without MPI.
std::unique_ptr<Collective> mpi_collective_from_environment();

/// The number of processes an MPI launcher (mpirun, mpiexec, srun) started together with
/// this one, from its environment; 0 when not started by one. Needs no MPI.
int mpi_launcher_size();
/// Fails (lowbit::Error naming `command`) when started as one of several MPI processes: for
/// the commands that run in one process, so N copies do not repeat the work and race to
/// write the same files.
void require_one_process(const std::string& command);

/// This process's rows of the global batch, while the training step of a multi-process run
/// is computed (set by the batch loop; inactive in one process). Random draws that depend on
/// the batch (dropout masks) draw for the whole global batch and keep these rows, so they
/// do not depend on the number of processes.
struct BatchShard {
  int64_t first_row = 0;    ///< of the global batch
  int64_t rows = 0;         ///< of this process (of this shard: train.shards)
  int64_t global_rows = 0;  ///< the global batch
  /// train.shards (core/shard_group.h): the group that sums batch norm's statistics over the
  /// shards in shard order; null in plain data-parallel training (summed by allreduce).
  ShardGroup* group = nullptr;
  /// Whether this computation updates state the shards of one process share (batch norm's
  /// running statistics): every shard sees the same global statistics, so one shard per
  /// process (the first) applies them.
  bool updates_shared_state = true;
};
/// The active shard when a multi-process step is running and `rows` matches it (the input
/// of the op is batch-major with this process's rows); else nullptr.
const BatchShard* active_batch_shard(int64_t rows);

class BatchShardScope {
 public:
  explicit BatchShardScope(const BatchShard& shard);
  ~BatchShardScope();
  BatchShardScope(const BatchShardScope&) = delete;
  BatchShardScope& operator=(const BatchShardScope&) = delete;
};

/// Within its scope active_batch_shard() is null: for ops on tensors that are not batch-major
/// though their first dimension may equal the shard's rows (a layer's weights quantized by
/// a stochastic quantizer draw the same on every process).
class NotBatchMajorScope {
 public:
  NotBatchMajorScope();
  ~NotBatchMajorScope();
  NotBatchMajorScope(const NotBatchMajorScope&) = delete;
  NotBatchMajorScope& operator=(const NotBatchMajorScope&) = delete;

 private:
  const BatchShard* saved_;
};

/// Batch norm of the global batch: sums per-channel statistics over the processes, in
/// place (time counted as CommKind::kBatchNorm); with train.shards, over the shards in shard
/// order. Call only when active_batch_shard() is set; the global count is count /
/// shard.rows * shard.global_rows.
void batch_norm_sum_across_processes(double* sums, int64_t n);

/// One uniform draw in [0, 1) per element of a batch-major tensor of `numel` elements in
/// `rows` rows, into `out` (numel floats), keyed by the global sample index: while a
/// multi-process step is active (active_batch_shard(rows)) the generator skips the draws of
/// the rows before and after this process's, so sample i of the global batch gets the same
/// numbers whatever the number of processes, and the generator ends where one process
/// would leave it. Otherwise: numel draws in order. Dropout masks and stochastic activation
/// quantizers draw through this.
void draw_uniforms_for_batch(Rng& rng, int64_t rows, int64_t numel, float* out);

}  // namespace lowbit
