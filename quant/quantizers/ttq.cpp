// TTQ — Trained Ternary Quantization (Zhu, Han, Mao, Dally, arXiv:1612.01064): "ttq", with
// trainable per-layer scales W_p, W_n owned by the quantizer.
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "quant/functions.h"
#include "quant/internal/loops.h"
#include "quant/internal/options.h"
#include "quant/quantizer.h"

namespace lowbit {

Var ttq(const Var& w, const Var& wp, const Var& wn, float threshold) {
  LB_CHECK(threshold >= 0 && threshold < 1, "ttq: threshold must be in [0, 1), got ", threshold);
  LB_CHECK(wp.numel() == 1 && wn.numel() == 1, "ttq: wp and wn must hold one value each, got ",
           wp.shape(), " and ", wn.shape());
  const Tensor wd = w.data();
  const int64_t size = wd.numel();
  LB_CHECK(size > 0, "ttq: empty weight of shape ", wd.shape());
  const float* src = wd.data();
  float max_abs = 0.f;
  for (int64_t i = 0; i < size; ++i) max_abs = std::fmax(max_abs, std::fabs(src[i]));
  const float delta = threshold * max_abs;
  const float p = wp.data().item(), m = wn.data().item();
  Tensor q = detail::map(wd, [=](float v) { return v > delta ? p : (v < -delta ? -m : 0.f); });
  const Shape wp_shape = wp.shape(), wn_shape = wn.shape();
  return make_result(std::move(q), {w, wp, wn}, "ttq",
                     [wd, delta, p, m, wp_shape, wn_shape](const Tensor& g, GradInputs& in) {
                       if (in.needs(0)) {
                         in.add(0, detail::zip(g, wd, [=](float gi, float v) {
                                  return v > delta ? p * gi : (v < -delta ? m * gi : gi);
                                }));
                       }
                       if (in.needs(1) || in.needs(2)) {
                         const float* gp = g.data();
                         const float* wv = wd.data();
                         double sum_p = 0.0, sum_n = 0.0;
                         for (int64_t i = 0; i < g.numel(); ++i) {
                           if (wv[i] > delta) sum_p += gp[i];
                           if (wv[i] < -delta) sum_n += gp[i];
                         }
                         in.add(1, Tensor::full(wp_shape, static_cast<float>(sum_p)));
                         in.add(2, Tensor::full(wn_shape, static_cast<float>(-sum_n)));
                       }
                     });
}

namespace {

/// "ttq": {"threshold": 0.05, "init_wp": 1.0, "init_wn": 1.0}. Parameters "wp", "wn" (1).
class Ttq final : public Quantizer {
 public:
  struct Options {
    float threshold = 0.05f;
    float init_wp = 1.f;
    float init_wn = 1.f;
  };
  explicit Ttq(Options o) : o_(o) {
    wp_ = Var(Tensor::full({1}, o_.init_wp), true);
    wn_ = Var(Tensor::full({1}, o_.init_wn), true);
  }
  Var operator()(const Var& x) const override { return ttq(x, wp_, wn_, o_.threshold); }
  std::string_view name() const override { return "ttq"; }
  int precision() const override { return 2; }
  int64_t levels() const override { return 3; }
  nlohmann::json config() const override {
    return {{"threshold", float_to_json(o_.threshold)},
            {"init_wp", float_to_json(o_.init_wp)},
            {"init_wn", float_to_json(o_.init_wn)}};
  }
  std::vector<std::pair<std::string, Var*>> parameters() override {
    return {{"wp", &wp_}, {"wn", &wn_}};
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.threshold =
        static_cast<float>(a.number_in("threshold", 0.0, std::nextafter(1.0, 0.0), o.threshold));
    o.init_wp = static_cast<float>(a.positive("init_wp", o.init_wp));
    o.init_wn = static_cast<float>(a.positive("init_wn", o.init_wn));
    a.finish();
    return std::make_shared<Ttq>(o);
  }

 private:
  Options o_;
  Var wp_, wn_;
};

}  // namespace

QuantizerPtr ttq_from_json(const nlohmann::json& spec, const std::string& path) {
  return Ttq::from_json(spec, path);
}

}  // namespace lowbit
