#include "core/shard_group.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>

#include "core/check.h"
#include "core/parallel.h"

// AddressSanitizer must be told about stack switches (LB_SANITIZE builds).
#if defined(__SANITIZE_ADDRESS__)
#define LB_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LB_ASAN_FIBERS 1
#endif
#endif
#ifdef LB_ASAN_FIBERS
#include <sanitizer/common_interface_defs.h>
#define LB_START_SWITCH(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define LB_FINISH_SWITCH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define LB_START_SWITCH(save, bottom, size) ((void)0)
#define LB_FINISH_SWITCH(save, bottom, size) ((void)0)
#endif

namespace lowbit {

namespace {

// A shard's stack: reserved, not committed (pages are touched as the shard's call chain
// grows, like a thread's); the lowest page is a guard, so an overflow faults.
constexpr size_t kStackBytes = size_t(64) << 20;
constexpr size_t kGuardBytes = size_t(64) << 10;

thread_local ShardGroup* t_group = nullptr;  // the group whose shard is starting

// The sum of `shards` blocks of n values in shard order, into out: out = p0 + p1 + ... in
// that order for every element (the order of the additions is the same for any thread
// count: threads split the elements, not the shards).
template <typename T, typename U>
void sum_blocks_in_order(const T* blocks, int64_t shards, int64_t n, U* out) {
  kernels::parallel_for(n, [=](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      T acc = blocks[j];
      for (int64_t s = 1; s < shards; ++s) acc += blocks[s * n + j];
      out[j] = static_cast<U>(acc);
    }
  });
}

}  // namespace

struct ShardGroup::Context {
  ucontext_t ctx;
  // AddressSanitizer's bookkeeping of the scheduler's stack (unused without it).
  void* fake_stack = nullptr;
  const void* bottom = nullptr;
  size_t size = 0;
};

struct ShardGroup::Fiber {
  enum class State { kReady, kWaiting, kDone };
  ucontext_t ctx;
  void* stack = nullptr;
  State state = State::kDone;
  std::exception_ptr error;
  void* fake_stack = nullptr;  // AddressSanitizer's bookkeeping (unused without it)
  BatchShard shard;
  std::vector<double> partial;  // posted at a batch-norm sum
  double* out = nullptr;        // where the total goes

  Fiber() {
    stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    LB_CHECK(stack != MAP_FAILED, "train.shards: cannot reserve a shard's stack");
    mprotect(stack, kGuardBytes, PROT_NONE);
  }
  ~Fiber() { munmap(stack, kStackBytes); }
};

ShardGroup::ShardGroup(int64_t num_shards, Collective& world)
    : world_(world), shards_(num_shards), main_(std::make_unique<Context>()) {
  const int64_t n = world.size(), r = world.rank();
  LB_CHECK(num_shards >= 1, "train.shards: expected an integer >= 1, got ", num_shards);
  LB_CHECK(n <= num_shards, "train.shards is ", num_shards, " but ", n,
           " processes run: each process needs at least one shard; start at most ", num_shards,
           " processes or raise train.shards (docs/distributed.md)");
  for (int64_t q = 0; q < n; ++q) shards_of_rank_.push_back(num_shards * (q + 1) / n - num_shards * q / n);
  first_local_ = num_shards * r / n;
  local_ = shards_of_rank_[size_t(r)];
  for (int64_t i = 0; i < local_; ++i) fibers_.push_back(std::make_unique<Fiber>());
}

ShardGroup::~ShardGroup() = default;

BatchShard ShardGroup::shard(int64_t s, int64_t batch_rows) {
  const int64_t first = batch_rows * s / shards_, end = batch_rows * (s + 1) / shards_;
  return {.first_row = first, .rows = end - first, .global_rows = batch_rows, .group = this,
          .updates_shared_state = s == first_local_};
}

void ShardGroup::fiber_main() {
  ShardGroup* g = t_group;
  [[maybe_unused]] Context& sched = *g->main_;
  LB_FINISH_SWITCH(nullptr, &sched.bottom, &sched.size);
  const int64_t local = g->running_;
  Fiber& f = *g->fibers_[size_t(local)];
  try {
    (*g->body_)(local);
  } catch (...) {
    f.error = std::current_exception();
  }
  f.state = Fiber::State::kDone;
  LB_START_SWITCH(nullptr, sched.bottom, sched.size);  // this stack is done
  // Returning resumes uc_link: the scheduler in resume().
}

void ShardGroup::resume(int64_t local) {
  Fiber& f = *fibers_[size_t(local)];
  BatchShardScope active(f.shard);
  running_ = local;
  t_group = this;
  LB_START_SWITCH(&main_->fake_stack, f.stack, kStackBytes);
  swapcontext(&main_->ctx, &f.ctx);
  LB_FINISH_SWITCH(main_->fake_stack, nullptr, nullptr);
  running_ = -1;
}

void ShardGroup::run(int64_t batch_rows, const std::function<void(int64_t)>& body,
                     const Hooks& hooks) {
  LB_CHECK(batch_rows >= shards_, "train.shards: a batch of ", batch_rows,
           " examples cannot be split into ", shards_, " shards");
  body_ = &body;
  for (int64_t i = 0; i < local_; ++i) {
    Fiber& f = *fibers_[size_t(i)];
    f.shard = shard(first_local_ + i, batch_rows);
    f.error = nullptr;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = &main_->ctx;
    makecontext(&f.ctx, &ShardGroup::fiber_main, 0);
    f.state = Fiber::State::kReady;
  }
  std::vector<double> mine;
  for (;;) {
    for (int64_t i = 0; i < local_; ++i) {
      if (fibers_[size_t(i)]->state != Fiber::State::kReady) continue;
      if (hooks.enter) hooks.enter(i);
      resume(i);
      if (hooks.leave) hooks.leave(i);
    }
    int64_t done = 0;
    for (const auto& f : fibers_) {
      if (f->error) std::rethrow_exception(f->error);
      done += f->state == Fiber::State::kDone;
    }
    if (done == local_) break;
    // Every local shard waits at the same batch-norm sum (they run the same graph).
    const size_t n = fibers_[0]->partial.size();
    for (const auto& f : fibers_)
      LB_CHECK(f->state == Fiber::State::kWaiting && f->partial.size() == n,
               "train.shards: the shards of one step diverged (one finished or waits for ",
               f->partial.size(), " sums while another waits for ", n, ")");
    mine.clear();
    for (const auto& f : fibers_) mine.insert(mine.end(), f->partial.begin(), f->partial.end());
    std::vector<int64_t> counts;
    for (int64_t c : shards_of_rank_) counts.push_back(c * int64_t(n));
    gathered_.resize(size_t(shards_) * n);
    world_.allgather(mine.data(), gathered_.data(), counts, CommKind::kBatchNorm);
    std::vector<double> total(n);
    sum_blocks_in_order(gathered_.data(), shards_, int64_t(n), total.data());
    for (const auto& f : fibers_) {
      std::copy(total.begin(), total.end(), f->out);
      f->state = Fiber::State::kReady;
    }
  }
  body_ = nullptr;
}

void ShardGroup::sum_in_shard_order(double* data, int64_t n) {
  LB_CHECK(running_ >= 0, "ShardGroup::sum_in_shard_order: called outside a shard");
  Fiber& f = *fibers_[size_t(running_)];
  f.partial.assign(data, data + n);
  f.out = data;
  f.state = Fiber::State::kWaiting;
  LB_START_SWITCH(&f.fake_stack, main_->bottom, main_->size);
  swapcontext(&f.ctx, &main_->ctx);  // back when every shard's partial is summed
  LB_FINISH_SWITCH(f.fake_stack, &main_->bottom, &main_->size);
}

void ShardGroup::sum_in_shard_order(const std::vector<float>& local_parts, int64_t n, float* out,
                                    CommKind kind) {
  LB_CHECK(int64_t(local_parts.size()) == local_ * n, "ShardGroup::sum_in_shard_order: ",
           local_parts.size(), " values for ", local_, " shards of ", n);
  std::vector<int64_t> counts;
  for (int64_t c : shards_of_rank_) counts.push_back(c * n);
  std::vector<float> all(size_t(shards_ * n));
  world_.allgather(local_parts.data(), all.data(), counts, kind);
  sum_blocks_in_order(all.data(), shards_, n, out);
}

}  // namespace lowbit
