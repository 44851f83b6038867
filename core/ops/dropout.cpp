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
  // Keyed by the global sample (core/collective.h): in a multi-process step the mask of the
  // whole global batch is drawn and this process's rows kept, so the masks (and the
  // generator's state) do not depend on the number of processes.
  draw_uniforms_for_batch(rng, x.dim() > 0 ? x.size(0) : 0, mask.numel(), mp);
  for (int64_t i = 0; i < mask.numel(); ++i) mp[i] = mp[i] < p ? 0.f : keep_scale;
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
