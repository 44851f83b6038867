// DoReFa-Net (Zhou et al., arXiv:1606.06160; reference: tensorpack examples/DoReFa-Net
// dorefa.py): "dorefa" (k-bit activations, clip to [0, 1]) and "dorefa_weight" (k-bit
// weights with tanh normalisation; 1 bit: sign·E|w|).
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/parallel.h"
#include "quant/functions.h"
#include "quant/internal/loops.h"
#include "quant/internal/options.h"
#include "quant/quantizer.h"

namespace lowbit {

Var dorefa_activation(const Var& x, int bits) {
  LB_CHECK(bits >= 1 && bits <= 16, "dorefa_activation: bits must be in [1, 16], got ", bits);
  const float n = static_cast<float>((1 << bits) - 1);
  const float inv_n = 1.f / n;
  Tensor q = detail::map(x.data(), [=](float v) {
    const float c = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
    return std::nearbyint(c * n) * inv_n;  // ties to even, as tf.round
  });
  const Tensor xd = x.data();
  return make_result(std::move(q), {x}, "dorefa_activation", [xd](const Tensor& g, GradInputs& in) {
    in.add(0, detail::zip(g, xd,
                          [](float gi, float xi) { return xi >= 0.f && xi <= 1.f ? gi : 0.f; }));
  });
}

Var dorefa_weight(const Var& w, int bits) {
  LB_CHECK(bits >= 1 && bits <= 16, "dorefa_weight: bits must be in [1, 16], got ", bits);
  const Tensor wd = w.data();
  const int64_t size = wd.numel();
  LB_CHECK(size > 0, "dorefa_weight: empty weight of shape ", wd.shape());
  const float* src = wd.data();
  if (bits == 1) {
    double acc = 0.0;
    for (int64_t i = 0; i < size; ++i) acc += std::fabs(src[i]);
    const float e = static_cast<float>(acc / static_cast<double>(size));
    Tensor q = detail::map(wd, [e](float v) { return v >= 0.f ? e : -e; });
    return make_result(std::move(q), {w}, "dorefa_weight",
                       [](const Tensor& g, GradInputs& in) { in.add(0, g); });
  }
  Tensor t = Tensor::empty(wd.shape());
  float* tp = t.data();
  kernels::parallel_for(
      size,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) tp[i] = std::tanh(src[i]);
      },
      8);
  int64_t argmax = 0;
  float m = 0.f;
  for (int64_t i = 0; i < size; ++i) {
    if (std::fabs(tp[i]) > m) {
      m = std::fabs(tp[i]);
      argmax = i;
    }
  }
  const float levels = static_cast<float>((1 << bits) - 1);
  const float inv_levels = 1.f / levels;
  const float half_inv_m = m > 0.f ? 0.5f / m : 0.f;
  Tensor q = detail::map(t, [=](float tv) {
    const float r = tv * half_inv_m + 0.5f;
    return 2.f * (std::nearbyint(r * levels) * inv_levels) - 1.f;
  });
  return make_result(
      std::move(q), {w}, "dorefa_weight", [t, m, argmax](const Tensor& g, GradInputs& in) {
        if (m == 0.f) {  // all weights 0: tanh(w)/M is undefined; pass g
          in.add(0, g);
          return;
        }
        const float inv_m = 1.f / m;
        Tensor dw =
            detail::zip(g, t, [inv_m](float gi, float ti) { return gi * (1.f - ti * ti) * inv_m; });
        // M = |t_j| at the argmax: dL/dM = −Σ g_i t_i / M².
        const float* gp = g.data();
        const float* tp2 = t.data();
        double dot = 0.0;
        for (int64_t i = 0; i < g.numel(); ++i) dot += double(gp[i]) * tp2[i];
        const float tj = tp2[argmax];
        const float sign_tj = tj >= 0.f ? 1.f : -1.f;
        dw.data()[argmax] -= sign_tj * (1.f - tj * tj) * static_cast<float>(dot) * inv_m * inv_m;
        in.add(0, dw);
      });
}

// ---- classes

namespace {

/// "dorefa": {"bits": 2} — activations.
class DorefaActivation final : public Quantizer {
 public:
  struct Options {
    int bits = 2;
  };
  explicit DorefaActivation(Options o) : o_(o) {}
  Var operator()(const Var& x) const override { return dorefa_activation(x, o_.bits); }
  std::string_view name() const override { return "dorefa"; }
  bool is_elementwise() const override { return true; }
  /// i / (2^k − 1), i = 0 .. 2^k − 1, computed as dorefa_activation computes them.
  std::vector<float> fixed_levels() const override {
    const int n = (1 << o_.bits) - 1;
    std::vector<float> v;
    for (int i = 0; i <= n; ++i) v.push_back(static_cast<float>(i) * (1.f / static_cast<float>(n)));
    return v;
  }
  int precision() const override { return o_.bits; }
  nlohmann::json config() const override { return {{"bits", o_.bits}}; }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.bits = detail::read_bits(a, 1, 16, o.bits);
    a.finish();
    return std::make_shared<DorefaActivation>(o);
  }

 private:
  Options o_;
};

/// "dorefa_weight": {"bits": 2}.
class DorefaWeight final : public Quantizer {
 public:
  struct Options {
    int bits = 2;
  };
  explicit DorefaWeight(Options o) : o_(o) {}
  Var operator()(const Var& x) const override { return dorefa_weight(x, o_.bits); }
  std::string_view name() const override { return "dorefa_weight"; }
  int precision() const override { return o_.bits; }
  nlohmann::json config() const override { return {{"bits", o_.bits}}; }
  int64_t num_scales(const Shape&) const override { return o_.bits == 1 ? 1 : 0; }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.bits = detail::read_bits(a, 1, 16, o.bits);
    a.finish();
    return std::make_shared<DorefaWeight>(o);
  }

 private:
  Options o_;
};

}  // namespace

QuantizerPtr dorefa_from_json(const nlohmann::json& spec, const std::string& path) {
  return DorefaActivation::from_json(spec, path);
}
QuantizerPtr dorefa_weight_from_json(const nlohmann::json& spec, const std::string& path) {
  return DorefaWeight::from_json(spec, path);
}

}  // namespace lowbit
