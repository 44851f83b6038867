#include "core/check.h"
#include "core/collective.h"
#include "core/parallel.h"
#include "core/ops.h"
#include "core/random.h"

namespace lowbit {

Var dropout(const Var& x, float p, bool training, Rng& rng) {
  LB_CHECK(p >= 0.f && p < 1.f, "dropout: expected 0 <= p < 1, got p = ", p);
  LB_CHECK(x.defined(), "dropout: undefined input");
  if (!training || p == 0.f) return x;
  // mask ∈ {0, 1/(1−p)}; y = x·mask, dy/dx = mask. Drawn serially so a seed gives one mask
  // whatever the thread count.
  const float keep_scale = 1.f / (1.f - p);
  Tensor mask = Tensor::empty(x.shape());
  float* mp = mask.data();
  // Multi-process training (core/collective.h): draw the mask of the whole global batch and
  // keep this process's rows, so the masks (and the generator's state) do not depend on the
  // number of processes.
  const BatchShard* shard = x.dim() > 0 ? active_batch_shard(x.size(0)) : nullptr;
  const int64_t per_row = x.dim() > 0 && x.size(0) > 0 ? mask.numel() / x.size(0) : 0;
  const int64_t skip_before = shard ? shard->first_row * per_row : 0;
  const int64_t skip_after = shard ? (shard->global_rows - shard->first_row - shard->rows) * per_row : 0;
  for (int64_t i = 0; i < skip_before; ++i) rng.uniform();
  for (int64_t i = 0; i < mask.numel(); ++i) mp[i] = rng.uniform() < p ? 0.f : keep_scale;
  for (int64_t i = 0; i < skip_after; ++i) rng.uniform();
  Tensor y = Tensor::empty(x.shape());
  const float* xp = x.data().data();
  float* yp = y.data();
  kernels::parallel_for(y.numel(), [=](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) yp[i] = xp[i] * mp[i];
  });
  return make_result(y, {x}, "dropout", [mask](const Tensor& g, GradInputs& in) {
    Tensor gx = Tensor::empty(g.shape());
    const float* gp = g.data();
    const float* m = mask.data();
    float* out = gx.data();
    kernels::parallel_for(gx.numel(), [=](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) out[i] = gp[i] * m[i];
    });
    in.add(0, gx);
  });
}

}  // namespace lowbit
