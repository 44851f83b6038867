// XNOR-Net and BWN (Rastegari et al., arXiv:1603.05279): "bwn" (α·sign(W), α per output
// filter) and "xnor_sign" (binary activations with the optional K scaling).
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/check.h"
#include "core/json_args.h"
#include "core/parallel.h"
#include "core/ops.h"
#include "quant/functions.h"
#include "quant/internal/loops.h"
#include "quant/internal/options.h"
#include "quant/quantizer.h"

namespace lowbit {

// Legend: w viewed as (F, n): F output filters of n values each.
Var bwn(const Var& w, bool per_filter, bool xnor_grad) {
  const Tensor wd = w.data();
  LB_CHECK(wd.numel() > 0, "bwn: empty weight of shape ", wd.shape());
  // Plain variables, not a structured binding: lambdas below capture them (C++20 allows it,
  // clang before 16 does not, and the fuzz build uses clang).
  const detail::Filters filt = detail::filters(wd, per_filter);
  const int64_t F = filt.count, n = filt.size;
  Tensor alpha = Tensor::empty({F});
  Tensor q = Tensor::empty(wd.shape());
  const float* src = wd.data();
  float* a = alpha.data();
  float* dst = q.data();
  kernels::parallel_for(
      F,
      [&](int64_t f0, int64_t f1) {
        for (int64_t f = f0; f < f1; ++f) {
          const float* row = src + f * n;
          double acc = 0.0;
          for (int64_t i = 0; i < n; ++i) acc += std::fabs(row[i]);
          const float af = static_cast<float>(acc / static_cast<double>(n));
          a[f] = af;
          float* out = dst + f * n;
          for (int64_t i = 0; i < n; ++i) out[i] = row[i] >= 0.f ? af : -af;
        }
      },
      n);
  return make_result(std::move(q), {w}, "bwn",
                     [wd, alpha, F, n, xnor_grad](const Tensor& g, GradInputs& in) {
                       if (!xnor_grad) {
                         in.add(0, g);
                         return;
                       }
                       // dL/dW = g·(1/n + α·1{|W| ≤ 1})  (XNOR-Net, section 3.1)
                       Tensor dw = Tensor::empty(wd.shape());
                       const float* gp = g.data();
                       const float* wp = wd.data();
                       const float* ap = alpha.data();
                       float* out = dw.data();
                       const float inv_n = 1.f / static_cast<float>(n);
                       kernels::parallel_for(
                           F,
                           [&](int64_t f0, int64_t f1) {
                             for (int64_t f = f0; f < f1; ++f) {
                               const float af = ap[f];
                               for (int64_t i = f * n; i < (f + 1) * n; ++i)
                                 out[i] = gp[i] * (inv_n + (std::fabs(wp[i]) <= 1.f ? af : 0.f));
                             }
                           },
                           n);
                       in.add(0, dw);
                     });
}

Var xnor_input_scale(const Var& x, const InputWindow& window) {
  if (!window.is_conv()) {
    LB_CHECK(x.dim() == 2, "xnor_input_scale: a linear layer's input must be (N, F), got ",
             x.shape());
    return mean(abs(x), 1, /*keepdim=*/true);  // (N, 1)
  }
  LB_CHECK(x.dim() == 4, "xnor_input_scale: a convolution's input must be (N, C, H, W), got ",
           x.shape());
  const int64_t kh = window.kernel_h, kw = window.kernel_w;
  Var a = mean(abs(x), 1, /*keepdim=*/true);  // A: (N, 1, H, W)
  Var box(Tensor::full({1, 1, kh, kw}, 1.f / static_cast<float>(kh * kw)));
  return conv2d(a, box, Var(), window.conv);  // K: (N, 1, OH, OW)
}

// ---- classes

namespace {

/// "bwn": {"per_filter": true, "gradient": "xnor" | "ste"}.
class Bwn final : public Quantizer {
 public:
  struct Options {
    bool per_filter = true;
    std::string gradient = "xnor";
  };
  explicit Bwn(Options o) : o_(std::move(o)) {}
  Var operator()(const Var& x) const override {
    return bwn(x, o_.per_filter, o_.gradient == "xnor");
  }
  std::string_view name() const override { return "bwn"; }
  int precision() const override { return 1; }
  nlohmann::json config() const override {
    return {{"per_filter", o_.per_filter}, {"gradient", o_.gradient}};
  }
  int64_t num_scales(const Shape& w) const override {
    return o_.per_filter && !w.empty() ? w[0] : 1;
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.per_filter = a.boolean("per_filter", o.per_filter);
    o.gradient = a.choice("gradient", {"xnor", "ste"}, o.gradient);
    a.finish();
    return std::make_shared<Bwn>(o);
  }

 private:
  Options o_;
};

/// "xnor_sign": {"clip_value": 1.0, "k_scaling": false}.
class XnorSign final : public Quantizer {
 public:
  struct Options {
    float clip_value = 1.f;
    /// The paper's K; both public implementations leave it out, hence off by default.
    bool k_scaling = false;
  };
  explicit XnorSign(Options o) : o_(o) {}
  Var operator()(const Var& x) const override { return ste_sign(x, o_.clip_value); }
  std::string_view name() const override { return "xnor_sign"; }
  bool is_elementwise() const override { return true; }
  std::vector<float> fixed_levels() const override { return {-1.f, 1.f}; }
  OutputScale output_scale_kind() const override {
    return o_.k_scaling ? OutputScale::XnorK : OutputScale::None;
  }
  int precision() const override { return 1; }
  nlohmann::json config() const override {
    return {{"clip_value", detail::clip_to_json(o_.clip_value)}, {"k_scaling", o_.k_scaling}};
  }
  Var output_scale(const Var& x, const InputWindow& window) const override {
    return o_.k_scaling ? xnor_input_scale(x, window) : Var();
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.clip_value = detail::read_clip(a, "clip_value", o.clip_value);
    o.k_scaling = a.boolean("k_scaling", o.k_scaling);
    a.finish();
    return std::make_shared<XnorSign>(o);
  }

 private:
  Options o_;
};

}  // namespace

QuantizerPtr bwn_from_json(const nlohmann::json& spec, const std::string& path) {
  return Bwn::from_json(spec, path);
}
QuantizerPtr xnor_sign_from_json(const nlohmann::json& spec, const std::string& path) {
  return XnorSign::from_json(spec, path);
}

}  // namespace lowbit
