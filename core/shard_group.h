#pragma once
/// Fixed shards: the option `train.shards` (docs/distributed.md) that makes multi-process
/// training bit-identical for any number of processes N ≤ S.
///
/// Every global batch of B rows is split into S shards, shard s taking rows
/// [B·s/S, B·(s+1)/S), whatever N. Process r computes shards [S·r/N, S·(r+1)/N) (N need not
/// divide S: processes then hold ⌊S/N⌋ or ⌈S/N⌉ shards), each in its own forward and
/// backward pass on its own rows, so the arithmetic of a shard is the same on any process.
/// Every sum over the batch is formed from per-shard partial sums gathered from all
/// processes and added in shard order 0, 1, ..., S−1 on every process: batch norm's
/// per-channel statistics (inside the passes, sum_in_shard_order on doubles) and the
/// gradients (after them, on floats). One process with S shards computes exactly what N
/// processes do.
///
/// The shards of one process run in lockstep on the calling thread as fibers (ucontext):
/// each runs until it needs a batch-norm sum, where it waits until every local shard has
/// posted its partial; the group then gathers the partials of all S shards and resumes the
/// shards with the total. Before a shard runs and after it pauses, `enter` and `leave` swap
/// in what must be per shard (its gradients, the generators' states), and the active batch
/// shard (core/collective.h) is this shard's.
///
///   ShardGroup group(/*shards=*/6, collective());
///   group.run(batch_rows, [&](int64_t local) { ... forward, loss, backward of one shard ... },
///             {.enter = swap_in, .leave = swap_out});
///   group.sum_in_shard_order(local_grads, n, summed.data());   // Σ over shards, shard order
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "core/collective.h"

namespace lowbit {

class ShardGroup {
 public:
  /// Throws when num_shards < 1 or the group has more processes than shards.
  ShardGroup(int64_t num_shards, Collective& world);
  ~ShardGroup();
  ShardGroup(const ShardGroup&) = delete;
  ShardGroup& operator=(const ShardGroup&) = delete;

  int64_t num_shards() const { return shards_; }
  /// This process's shards: [first_local(), first_local() + local_count()).
  int64_t first_local() const { return first_local_; }
  int64_t local_count() const { return local_; }
  /// Rows of shard s (global index) in a batch of `batch_rows`.
  BatchShard shard(int64_t s, int64_t batch_rows);

  struct Hooks {
    std::function<void(int64_t local)> enter;  ///< before local shard `local` runs a stretch
    std::function<void(int64_t local)> leave;  ///< after it paused or finished
  };
  /// Runs body(local) for every local shard in lockstep (each with its shard active,
  /// core/collective.h); returns when all finished. An exception in a shard is rethrown
  /// here (the other shards are abandoned).
  void run(int64_t batch_rows, const std::function<void(int64_t local)>& body, const Hooks& hooks);

  /// From inside a shard of run(): `data` (n values) is this shard's partial sum; returns in
  /// `data` the sum of all S shards' partials in shard order (CommKind::kBatchNorm).
  void sum_in_shard_order(double* data, int64_t n);
  /// Outside run(): `local_parts` holds local_count() blocks of n values (this process's
  /// shards in order); `out` (n values) receives the sum of all S blocks in shard order.
  void sum_in_shard_order(const std::vector<float>& local_parts, int64_t n, float* out,
                          CommKind kind);

 private:
  struct Fiber;
  static void fiber_main();
  void resume(int64_t local);

  Collective& world_;
  int64_t shards_, first_local_, local_;
  std::vector<int64_t> shards_of_rank_;  ///< shards held by each process
  std::vector<std::unique_ptr<Fiber>> fibers_;
  struct Context;
  std::unique_ptr<Context> main_;  ///< the scheduler's context while a shard runs
  const std::function<void(int64_t)>* body_ = nullptr;
  int64_t running_ = -1;  ///< local index of the shard running now
  std::vector<double> gathered_;
};

}  // namespace lowbit
