#pragma once
// Public: the OpenMP loop helper used by elementwise kernels, reductions, im2col, pooling
// and optimizer updates.
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "core/threads.h"

namespace lowbit::kernels {

/// Below this many elements a loop runs on the calling thread: waking the pool costs more
/// than the work (a few microseconds per region on this class of machine).
inline constexpr int64_t kParallelGrain = 1 << 15;

/// Calls fn(begin, end) over disjoint chunks covering [0, n), in parallel when
/// n * cost_per_item is large enough. fn must be safe to run concurrently on disjoint ranges.
template <class Fn>
void parallel_for(int64_t n, Fn&& fn, int64_t cost_per_item = 1) {
  if (n <= 0) return;
  const int nt = num_threads();
  if (nt <= 1 || n * cost_per_item < kParallelGrain) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t chunk = (n + T - 1) / T;
    const int64_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  }
}

}  // namespace lowbit::kernels
