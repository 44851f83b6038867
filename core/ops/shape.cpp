// Shape ops. reshape/flatten are views; transpose/permute/slice/concat copy (slice along the
// leading non-trivial dimension is a view too). Axis ops view x as (O, K, I) around the axis.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <sstream>
#include <vector>

#include "core/check.h"
#include "core/map.h"
#include "core/ops.h"

namespace lowbit {

namespace {

int64_t norm_axis(int64_t axis, int64_t nd, const Shape& s, const char* op) {
  LB_CHECK(axis >= -nd && axis < nd, op, ": axis ", axis, " out of range for shape ", s,
           " (valid: ", -nd, " to ", nd - 1, ")");
  return axis < 0 ? axis + nd : axis;
}

int64_t prod(const Shape& s, size_t b, size_t e) {
  int64_t p = 1;
  for (size_t i = b; i < e; ++i) p *= s[i];
  return p;
}

/// Copies blocks: dst(O, kd, I)[:, dk0:dk0+len, :] = src(O, ks, I)[:, sk0:sk0+len, :].
void copy_blocks(const float* src, int64_t ks, int64_t sk0, float* dst, int64_t kd, int64_t dk0,
                 int64_t len, int64_t O, int64_t I) {
  const int64_t run = len * I;
  kernels::parallel_for(
      O,
      [=](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
          std::memcpy(dst + (o * kd + dk0) * I, src + (o * ks + sk0) * I,
                      static_cast<size_t>(run) * sizeof(float));
      },
      run);
}

/// out = x with dimensions reordered: out.shape[i] = x.shape[perm[i]].
Tensor permute_tensor(const Tensor& x, const std::vector<int64_t>& perm) {
  const Shape& s = x.shape();
  const size_t nd = s.size();
  std::vector<int64_t> st(nd);
  for (size_t d = nd, acc = 1; d-- > 0;) {
    st[d] = static_cast<int64_t>(acc);
    acc *= static_cast<size_t>(s[d]);
  }
  Shape os(nd);
  std::vector<int64_t> rs(nd);  // stride in x of each output dimension
  for (size_t i = 0; i < nd; ++i) {
    os[i] = s[static_cast<size_t>(perm[i])];
    rs[i] = st[static_cast<size_t>(perm[i])];
  }
  Tensor out = Tensor::empty(os);
  const int64_t n = out.numel();
  if (n == 0) return out;
  const float* px = x.data();
  float* po = out.data();
  if (nd == 0) {
    po[0] = px[0];
    return out;
  }
  // The output dimension q that reads x contiguously (x's last dimension). If it is not the
  // output's last dimension, this is a batched 2-D transpose between q and the last output
  // dimension: copy it in tiles so reads and writes both stay within a few cache lines.
  const size_t L = nd - 1;
  size_t q = L;
  for (size_t i = 0; i < nd; ++i)
    if (rs[i] == 1 && os[i] > 1) q = i;
  if (q != L && os[L] > 1) {
    constexpr int64_t kTile = 32;
    std::vector<int64_t> ost(nd);  // output strides
    for (size_t d = nd, acc = 1; d-- > 0;) {
      ost[d] = static_cast<int64_t>(acc);
      acc *= static_cast<size_t>(os[d]);
    }
    std::vector<size_t> bdims;  // batch dimensions: all but q and L
    for (size_t d = 0; d < nd; ++d)
      if (d != q && d != L) bdims.push_back(d);
    const int64_t nq = os[q], nl = os[L], rq = rs[L];
    const int64_t tq = (nq + kTile - 1) / kTile, tl = (nl + kTile - 1) / kTile;
    const int64_t batches = n / (nq * nl);
    kernels::parallel_for(
        batches * tq,
        [&](int64_t t0, int64_t t1) {
          for (int64_t t = t0; t < t1; ++t) {
            int64_t rem = t / tq, src0 = 0, dst0 = 0;
            for (size_t j = bdims.size(); j-- > 0;) {
              const size_t d = bdims[j];
              const int64_t id = rem % os[d];
              rem /= os[d];
              src0 += id * rs[d];
              dst0 += id * ost[d];
            }
            const int64_t a0 = (t % tq) * kTile, a1 = std::min(nq, a0 + kTile);
            for (int64_t bt = 0; bt < tl; ++bt) {
              const int64_t b0 = bt * kTile, b1 = std::min(nl, b0 + kTile);
              for (int64_t a = a0; a < a1; ++a) {
                float* dst = po + dst0 + a * ost[q];
                const float* src = px + src0 + a;
                for (int64_t b = b0; b < b1; ++b) dst[b] = src[b * rq];
              }
            }
          }
        },
        kTile * nl);
    return out;
  }
  // Otherwise each output row is a contiguous (or strided) read: copy row by row.
  const int64_t inner = os[L], rstride = rs[L];
  const int64_t rows = n / inner;
  kernels::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        std::vector<int64_t> idx(nd, 0);
        int64_t rem = r0, off = 0;
        for (size_t d = nd - 1; d-- > 0;) {
          idx[d] = rem % os[d];
          rem /= os[d];
          off += idx[d] * rs[d];
        }
        for (int64_t r = r0; r < r1; ++r) {
          float* dst = po + r * inner;
          const float* src = px + off;
          if (rstride == 1) {
            std::memcpy(dst, src, static_cast<size_t>(inner) * sizeof(float));
          } else {
            for (int64_t i = 0; i < inner; ++i) dst[i] = src[i * rstride];
          }
          for (size_t d = nd - 1; d-- > 0;) {
            ++idx[d];
            off += rs[d];
            if (idx[d] < os[d]) break;
            off -= idx[d] * rs[d];
            idx[d] = 0;
          }
        }
      },
      inner);
  return out;
}

}  // namespace

Var reshape(const Var& x, const Shape& shape) {
  return make_result(x.data().reshape(shape), {x}, "reshape", [](const Tensor& g, GradInputs& in) {
    in.add(0, g.reshape(in.input_shape(0)));
  });
}

Var flatten(const Var& x) {
  LB_CHECK(x.dim() >= 1, "flatten: expected (N, ...), got a 0-d tensor; use reshape");
  const Shape& s = x.shape();
  return reshape(x, {s[0], prod(s, 1, s.size())});
}

Var transpose(const Var& x, int64_t dim0, int64_t dim1) {
  const int64_t nd = x.dim();
  const int64_t a = norm_axis(dim0, nd, x.shape(), "transpose");
  const int64_t b = norm_axis(dim1, nd, x.shape(), "transpose");
  std::vector<int64_t> perm(static_cast<size_t>(nd));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[static_cast<size_t>(a)], perm[static_cast<size_t>(b)]);
  return permute(x, perm);
}

Var permute(const Var& x, const std::vector<int64_t>& perm) {
  const int64_t nd = x.dim();
  std::vector<int64_t> p(perm.size());
  std::vector<bool> seen(static_cast<size_t>(nd), false);
  bool ok = static_cast<int64_t>(perm.size()) == nd;
  for (size_t i = 0; ok && i < perm.size(); ++i) {
    const int64_t d = perm[i] < 0 ? perm[i] + nd : perm[i];
    ok = d >= 0 && d < nd && !seen[static_cast<size_t>(d)];
    if (ok) seen[static_cast<size_t>(d)] = true;
    p[i] = d;
  }
  if (!ok) {
    std::ostringstream os;
    for (size_t i = 0; i < perm.size(); ++i) os << (i ? ", " : "") << perm[i];
    LB_FAIL("permute: [", os.str(), "] is not a permutation of the ", nd, " dimensions of shape ",
            x.shape());
  }
  std::vector<int64_t> inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[static_cast<size_t>(p[i])] = static_cast<int64_t>(i);
  return make_result(permute_tensor(x.data(), p), {x}, "permute",
                     [inv](const Tensor& g, GradInputs& in) { in.add(0, permute_tensor(g, inv)); });
}

Var slice(const Var& x, int64_t axis, int64_t begin, int64_t end) {
  const Shape& s = x.shape();
  const int64_t ax = norm_axis(axis, x.dim(), s, "slice");
  const int64_t K = s[static_cast<size_t>(ax)];
  LB_CHECK(0 <= begin && begin <= end && end <= K, "slice: range [", begin, ", ", end,
           ") invalid for axis ", axis, " of size ", K, " (shape ", s, ")");
  const int64_t O = prod(s, 0, static_cast<size_t>(ax)),
                I = prod(s, static_cast<size_t>(ax) + 1, s.size());
  Shape os = s;
  os[static_cast<size_t>(ax)] = end - begin;
  Tensor out;
  if (O == 1) {
    out = x.data().reshape({K, I}).rows(begin, end).reshape(os);  // contiguous: a view
  } else {
    out = Tensor::empty(os);
    copy_blocks(x.data().data(), K, begin, out.data(), end - begin, 0, end - begin, O, I);
  }
  return make_result(out, {x}, "slice", [O, K, I, begin, end](const Tensor& g, GradInputs& in) {
    Tensor gx = Tensor::zeros(in.input_shape(0));
    copy_blocks(g.data(), end - begin, 0, gx.data(), K, begin, end - begin, O, I);
    in.add(0, gx);
  });
}

Var concat(const std::vector<Var>& xs, int64_t axis) {
  LB_CHECK(!xs.empty(), "concat: no inputs");
  const Shape& s0 = xs[0].shape();
  const int64_t nd = static_cast<int64_t>(s0.size());
  const int64_t ax = norm_axis(axis, nd, s0, "concat");
  std::vector<int64_t> ks;
  int64_t total = 0;
  for (size_t j = 0; j < xs.size(); ++j) {
    const Shape& s = xs[j].shape();
    bool same = static_cast<int64_t>(s.size()) == nd;
    for (int64_t d = 0; same && d < nd; ++d)
      same = d == ax || s[static_cast<size_t>(d)] == s0[static_cast<size_t>(d)];
    LB_CHECK(same, "concat: input ", j, " has shape ", s, " but input 0 has shape ", s0,
             "; all dimensions except axis ", axis, " must match");
    ks.push_back(s[static_cast<size_t>(ax)]);
    total += ks.back();
  }
  const int64_t O = prod(s0, 0, static_cast<size_t>(ax)),
                I = prod(s0, static_cast<size_t>(ax) + 1, s0.size());
  Shape os = s0;
  os[static_cast<size_t>(ax)] = total;
  Tensor out = Tensor::empty(os);
  int64_t k0 = 0;
  for (size_t j = 0; j < xs.size(); ++j) {
    copy_blocks(xs[j].data().data(), ks[j], 0, out.data(), total, k0, ks[j], O, I);
    k0 += ks[j];
  }
  return make_result(out, xs, "concat", [ks, total, O, I](const Tensor& g, GradInputs& in) {
    int64_t kb = 0;
    for (size_t j = 0; j < ks.size(); ++j) {
      if (in.needs(j)) {
        Tensor gj = Tensor::empty(in.input_shape(j));
        copy_blocks(g.data(), total, kb, gj.data(), ks[j], 0, ks[j], O, I);
        in.add(j, gj);
      }
      kb += ks[j];
    }
  });
}

}  // namespace lowbit
