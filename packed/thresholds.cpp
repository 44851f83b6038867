#include "packed/thresholds.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/check.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/var.h"

namespace lowbit::packed {

namespace {

// Order-preserving map of floats to unsigned integers: key(a) < key(b) iff a < b for
// non-NaN a, b (with -0 just below +0), so bisection over keys visits every float.
uint32_t key(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
float unkey(uint32_t k) {
  return std::bit_cast<float>((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

/// Evaluates q = Q(chain(y)) for one value per channel.
class Probe {
 public:
  Probe(const std::vector<Module*>& chain, Quantizer& q, int64_t channels, bool four_d)
      : chain_(chain), q_(q), channels_(channels), four_d_(four_d) {}
  std::vector<float> operator()(const std::vector<float>& y) const {
    NoGradGuard no_grad;
    Tensor t = four_d_ ? Tensor::empty({1, channels_, 1, 1}) : Tensor::empty({1, channels_});
    std::copy(y.begin(), y.end(), t.data());
    Var v(t);
    for (Module* m : chain_) v = m->forward(v);
    v = q_(v);
    LB_CHECK(v.data().numel() == channels_, "fold_thresholds: the folded layers changed the "
             "number of values from ", channels_, " to ", v.data().numel());
    return v.data().to_vector();
  }

 private:
  const std::vector<Module*>& chain_;
  Quantizer& q_;
  int64_t channels_;
  bool four_d_;
};

bool is_level(float v) { return v == -1.f || v == 0.f || v == 1.f; }

}  // namespace

bool is_threshold_quantizer(const Quantizer& q) {
  const std::vector<float> levels = q.fixed_levels();
  return q.is_elementwise() && !levels.empty() && std::all_of(levels.begin(), levels.end(), is_level);
}

float ChannelThresholds::value(int64_t c, float y) const {
  const size_t i = static_cast<size_t>(channels == 1 ? 0 : c);
  if (dir[i] == 0) return t0[i];
  if (dir[i] > 0) return -1.f + static_cast<float>(y >= t0[i]) + static_cast<float>(y >= t1[i]);
  return -1.f + static_cast<float>(y <= t0[i]) + static_cast<float>(y <= t1[i]);
}

namespace {

/// One branch-free rule for all directions, per channel: q = −1 + [s·y ≥ a] + [s·y ≥ b], a <= b:
///   dir +1: s = 1, a = t0, b = t1;  dir −1: s = −1, a = −t0, b = −t1 (negation is exact);
///   constant v: s = 0 and (a, b) = (−inf, −inf) for +1, (−inf, +inf) for 0, (+inf, +inf)
///   for −1 (0·y is ±0 for finite y).
struct Rule {
  std::vector<float> s, a, b;
};

Rule make_rule(const ChannelThresholds& th) {
  const size_t C = static_cast<size_t>(th.channels);
  Rule r{std::vector<float>(C), std::vector<float>(C), std::vector<float>(C)};
  const float inf = std::numeric_limits<float>::infinity();
  for (size_t c = 0; c < C; ++c) {
    if (th.dir[c] == 0) {
      r.s[c] = 0.f;
      r.a[c] = th.t0[c] >= 0.f ? -inf : inf;
      r.b[c] = th.t0[c] > 0.f ? -inf : inf;
    } else {
      r.s[c] = th.dir[c] > 0 ? 1.f : -1.f;
      r.a[c] = r.s[c] * th.t0[c];
      r.b[c] = r.s[c] * th.t1[c];
    }
  }
  return r;
}

}  // namespace

kernels::PackedMatrix ChannelThresholds::pack_rows(const Tensor& y) const {
  LB_CHECK(y.defined() && y.dim() == 2 && (channels == 1 || y.size(1) == channels),
           "packed threshold: expected input (N, ", channels, "), got ",
           y.defined() ? shape_str(y.shape()) : std::string("an undefined tensor"));
  const int64_t N = y.size(0), K = y.size(1), kw = kernels::words_for(K);
  kernels::PackedMatrix p = kernels::make_packed(N, K, kw, kernels::PackLayout::Rows, ternary);
  // The rule per input position (channels == 1: the same for all).
  Rule r = make_rule(*this);
  if (channels == 1) {
    r.s.assign(static_cast<size_t>(K), r.s[0]);
    r.a.assign(static_cast<size_t>(K), r.a[0]);
    r.b.assign(static_cast<size_t>(K), r.b[0]);
  }
  const float* yd = y.data();
  uint64_t* sign = p.sign.data();
  uint64_t* mask = ternary ? p.mask.data() : nullptr;
  // Bits: negative iff !(s·y ≥ a); nonzero iff !(s·y ≥ a) or s·y ≥ b.
  kernels::parallel_for(
      N,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t w = 0; w < kw; ++w) {
            const int64_t k0 = 64 * w, n = std::min<int64_t>(64, K - k0);
            uint64_t ge_a = 0, ge_b = 0;
            int64_t j = 0;
#if defined(__AVX512F__)
            for (; j + 16 <= n; j += 16) {
              const int64_t k = k0 + j;
              const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(r.s.data() + k), _mm512_loadu_ps(yd + i * K + k));
              ge_a |= uint64_t{_mm512_cmp_ps_mask(v, _mm512_loadu_ps(r.a.data() + k), _CMP_GE_OQ)} << j;
              ge_b |= uint64_t{_mm512_cmp_ps_mask(v, _mm512_loadu_ps(r.b.data() + k), _CMP_GE_OQ)} << j;
            }
#endif
            for (; j < n; ++j) {
              const int64_t k = k0 + j;
              const float v = r.s[static_cast<size_t>(k)] * yd[i * K + k];
              ge_a |= static_cast<uint64_t>(v >= r.a[static_cast<size_t>(k)]) << j;
              ge_b |= static_cast<uint64_t>(v >= r.b[static_cast<size_t>(k)]) << j;
            }
            const uint64_t valid = n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
            sign[i * kw + w] = ~ge_a & valid;
            if (mask) mask[i * kw + w] = (~ge_a | ge_b) & valid;
          }
      },
      K);
  if (ternary) kernels::count_nnz(p);
  return p;
}

Tensor ChannelThresholds::apply(const Tensor& x) const {
  LB_CHECK(x.defined() && x.dim() >= 1 && (channels == 1 || (x.dim() >= 2 && x.size(1) == channels)),
           "packed threshold: expected input (N, ", channels, ", ...), got ",
           x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"));
  const Rule rule = make_rule(*this);
  Tensor out = Tensor::empty(x.shape());
  const float* src = x.data();
  float* dst = out.data();
  const int64_t n = x.numel();
  // S contiguous values share a channel: S = 1 for (N, C), H·W for (N, C, H, W).
  const int64_t S = channels == 1 ? n : n / (x.size(0) * channels);
  const float* sp = rule.s.data();
  const float* ap = rule.a.data();
  const float* bp = rule.b.data();
  if (channels == 1) {
    const float s0 = sp[0], a0 = ap[0], b0 = bp[0];
    kernels::parallel_for(n, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float y = s0 * src[i];
        dst[i] = -1.f + static_cast<float>(y >= a0) + static_cast<float>(y >= b0);
      }
    });
  } else if (S == 1) {
    const int64_t rows = n / channels;
    kernels::parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            const float* in = src + r * channels;
            float* o = dst + r * channels;
            for (int64_t c = 0; c < channels; ++c) {
              const float y = sp[c] * in[c];
              o[c] = -1.f + static_cast<float>(y >= ap[c]) + static_cast<float>(y >= bp[c]);
            }
          }
        },
        channels);
  } else {
    kernels::parallel_for(
        n / S,
        [&](int64_t p0, int64_t p1) {
          for (int64_t p = p0; p < p1; ++p) {
            const int64_t c = p % channels;
            const float s = sp[c], a = ap[c], b = bp[c];
            const float* in = src + p * S;
            float* o = dst + p * S;
            for (int64_t i = 0; i < S; ++i) {
              const float y = s * in[i];
              o[i] = -1.f + static_cast<float>(y >= a) + static_cast<float>(y >= b);
            }
          }
        },
        S);
  }
  return out;
}

void ChannelThresholds::save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const {
  spec["channels"] = channels;
  spec["ternary"] = ternary;
  spec["dir"] = prefix + ".dir";
  spec["t0"] = prefix + ".t0";
  spec["t1"] = prefix + ".t1";
  f.add_blob(prefix + ".dir", BlobType::I8, {channels}, dir.data());
  f.add_blob(prefix + ".t0", BlobType::F32, {channels}, t0.data());
  f.add_blob(prefix + ".t1", BlobType::F32, {channels}, t1.data());
}

ChannelThresholds ChannelThresholds::load(const PackedFile& f, const nlohmann::json& spec,
                                          const std::string& prefix) {
  ChannelThresholds th;
  th.channels = spec.at("channels").get<int64_t>();
  th.ternary = spec.at("ternary").get<bool>();
  LB_CHECK(th.channels >= 1, f.source, ": ", prefix, ": channels must be >= 1");
  const size_t C = static_cast<size_t>(th.channels);
  const Blob& d = f.blob(spec.at("dir").get<std::string>(), BlobType::I8, th.channels);
  th.dir.resize(C);
  std::memcpy(th.dir.data(), d.bytes.data(), C);
  for (int8_t v : th.dir)
    LB_CHECK(v >= -1 && v <= 1, f.source, ": ", prefix, ": threshold direction ", int{v},
             " is not -1, 0 or 1");
  th.t0 = f.f32(spec.at("t0").get<std::string>(), th.channels).to_vector();
  th.t1 = f.f32(spec.at("t1").get<std::string>(), th.channels).to_vector();
  return th;
}

std::optional<ChannelThresholds> fold_thresholds(const std::vector<Module*>& chain,
                                                 Quantizer& quantizer, int64_t channels,
                                                 bool four_d, std::string* why) {
  LB_CHECK(channels >= 1, "fold_thresholds: channels must be >= 1, got ", channels);
  auto fail = [&](const std::string& reason) -> std::optional<ChannelThresholds> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const bool was_training = quantizer.is_training();
  quantizer.set_training(false);
  struct Restore {
    Quantizer& q;
    bool on;
    ~Restore() { q.set_training(on); }
  } restore{quantizer, was_training};

  const Probe probe(chain, quantizer, channels, four_d);
  const size_t C = static_cast<size_t>(channels);
  const float B = kThresholdDomain;
  const std::vector<float> lo = probe(std::vector<float>(C, -B));
  const std::vector<float> hi = probe(std::vector<float>(C, B));
  ChannelThresholds th;
  th.channels = channels;
  th.dir.assign(C, 0);
  th.t0.assign(C, 0.f);
  th.t1.assign(C, 0.f);
  for (size_t c = 0; c < C; ++c) {
    if (!is_level(lo[c]) || !is_level(hi[c])) {
      std::ostringstream os;
      os << "quantizer " << quantizer.name() << " outputs " << lo[c] << " and " << hi[c]
         << ", not values in {-1, 0, +1}";
      return fail(os.str());
    }
    th.dir[c] = static_cast<int8_t>(lo[c] < hi[c] ? 1 : (lo[c] > hi[c] ? -1 : 0));
    if (th.dir[c] == 0) th.t0[c] = th.t1[c] = lo[c];
  }

  // Bisection for the step to level L (0 then 1) of every channel whose range crosses it:
  // up: the first y with q >= L; down: the last y with q >= L.
  for (int L = 0; L <= 1; ++L) {
    const float level = static_cast<float>(L);
    std::vector<uint32_t> a(C), b(C);
    std::vector<char> active(C, 0);
    for (size_t c = 0; c < C; ++c) {
      std::vector<float>& t = L == 0 ? th.t0 : th.t1;
      if (th.dir[c] == 0) continue;
      const float qmin = std::min(lo[c], hi[c]), qmax = std::max(lo[c], hi[c]);
      if (qmin >= level) {  // always reached
        t[c] = th.dir[c] > 0 ? -std::numeric_limits<float>::infinity()
                             : std::numeric_limits<float>::infinity();
      } else if (qmax < level) {  // never reached
        t[c] = th.dir[c] > 0 ? std::numeric_limits<float>::infinity()
                             : -std::numeric_limits<float>::infinity();
      } else {
        a[c] = key(-B);
        b[c] = key(B);
        active[c] = 1;
      }
    }
    for (int iter = 0; iter < 40; ++iter) {
      bool any = false;
      std::vector<float> y(C, 0.f);
      for (size_t c = 0; c < C; ++c)
        if (active[c] && b[c] - a[c] > 1) {
          y[c] = unkey(a[c] + (b[c] - a[c]) / 2);
          any = true;
        }
      if (!any) break;
      const std::vector<float> q = probe(y);
      for (size_t c = 0; c < C; ++c) {
        if (!active[c] || b[c] - a[c] <= 1) continue;
        const uint32_t mid = a[c] + (b[c] - a[c]) / 2;
        const bool pred = q[c] >= level;
        // up: pred false at a, true at b; down: true at a, false at b.
        if (pred == (th.dir[c] < 0)) a[c] = mid; else b[c] = mid;
      }
    }
    for (size_t c = 0; c < C; ++c) {
      if (!active[c]) continue;
      (L == 0 ? th.t0 : th.t1)[c] = th.dir[c] > 0 ? unkey(b[c]) : unkey(a[c]);
    }
  }

  // Validation: the rule must reproduce the layers at the thresholds, their float
  // neighbours and random points (catches a non-monotone chain or a non-{-1,0,1} level).
  std::vector<std::vector<float>> samples;
  auto clampd = [B](float v) { return std::isfinite(v) ? std::clamp(v, -B, B) : 0.f; };
  for (int which = 0; which < 2; ++which)
    for (int step = -2; step <= 2; ++step) {
      std::vector<float> y(C);
      for (size_t c = 0; c < C; ++c) {
        float t = clampd(which == 0 ? th.t0[c] : th.t1[c]);
        for (int s = 0; s < std::abs(step); ++s)
          t = std::nextafter(t, step < 0 ? -B : B);
        y[c] = t;
      }
      samples.push_back(std::move(y));
    }
  Rng rng(12345);
  for (int s = 0; s < 16; ++s) {
    std::vector<float> y(C);
    const float scale = std::ldexp(1.f, 4 * (s % 8) - 8);  // 2^-8 .. 2^20
    for (size_t c = 0; c < C; ++c) y[c] = scale * (2.f * rng.uniform() - 1.f);
    samples.push_back(std::move(y));
  }
  bool any_zero = false;
  for (const auto& y : samples) {
    const std::vector<float> q = probe(y);
    for (size_t c = 0; c < C; ++c) {
      const float want = th.value(static_cast<int64_t>(c), y[c]);
      if (q[c] != want) {
        std::ostringstream os;
        os << "the folded layers and quantizer " << quantizer.name()
           << " are not a monotone step function onto {-1, 0, +1} (channel " << c << ", y = "
           << y[c] << ": got " << q[c] << ", the threshold rule gives " << want << ")";
        return fail(os.str());
      }
      any_zero = any_zero || q[c] == 0.f;
    }
  }
  for (size_t c = 0; c < C; ++c) {
    // A zero level exists where the steps to 0 and to 1 differ, or a constant is 0.
    const bool zero = th.dir[c] == 0 ? th.t0[c] == 0.f : th.t0[c] != th.t1[c];
    any_zero = any_zero || zero;
  }
  th.ternary = any_zero;
  return th;
}

}  // namespace lowbit::packed
