// FTPROP — feasible target propagation (Friesen & Domingos, ICLR 2018, arXiv:1710.11573;
// reference: afriesen/ftprop activations.py, targetprop.py): "ftprop", a hard-threshold unit
// trained with the soft-hinge target loss (FTP-SH) or the saturated STE.
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "quant/functions.h"
#include "quant/internal/loops.h"
#include "quant/internal/options.h"
#include "quant/quantizer.h"

namespace lowbit {

Var ftprop_sign(const Var& z, FtpropGrad grad, bool grad_scale) {
  Tensor q = detail::map(z.data(), [](float v) { return v > 0.f ? 1.f : -1.f; });
  const Tensor zd = z.data();
  if (grad == FtpropGrad::SaturatedSte)
    return make_result(std::move(q), {z}, "ftprop_sign", detail::clipped_ste(zd, 1.f));
  return make_result(std::move(q), {z}, "ftprop_sign",
                     [zd, grad_scale](const Tensor& g, GradInputs& in) {
                       // Targets t = sign(−g); d/dz [tanh(−z·t) + 1] = −t·(1 − tanh²(z)) =
                       // sign(g)·(1 − tanh² z), times |g| when the per-layer loss is weighted by
                       // the gradient magnitude.
                       in.add(0, detail::zip(g, zd, [grad_scale](float gi, float zi) {
                                const float th = std::tanh(zi);
                                const float d = 1.f - th * th;
                                if (grad_scale) return gi * d;
                                return gi > 0.f ? d : (gi < 0.f ? -d : 0.f);
                              }));
                     });
}

namespace {

/// "ftprop": {"gradient": "soft_hinge" | "sste", "grad_scale": true}.
class Ftprop final : public Quantizer {
 public:
  struct Options {
    std::string gradient = "soft_hinge";
    bool grad_scale = true;
  };
  explicit Ftprop(Options o) : o_(std::move(o)) {}
  Var operator()(const Var& x) const override {
    return ftprop_sign(x, o_.gradient == "sste" ? FtpropGrad::SaturatedSte : FtpropGrad::SoftHinge,
                       o_.grad_scale);
  }
  std::string_view name() const override { return "ftprop"; }
  bool is_elementwise() const override { return true; }
  std::vector<float> fixed_levels() const override { return {-1.f, 1.f}; }
  int precision() const override { return 1; }
  nlohmann::json config() const override {
    return {{"gradient", o_.gradient}, {"grad_scale", o_.grad_scale}};
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.gradient = a.choice("gradient", {"soft_hinge", "sste"}, o.gradient);
    o.grad_scale = a.boolean("grad_scale", o.grad_scale);
    a.finish();
    return std::make_shared<Ftprop>(o);
  }

 private:
  Options o_;
};

}  // namespace

QuantizerPtr ftprop_from_json(const nlohmann::json& spec, const std::string& path) {
  return Ftprop::from_json(spec, path);
}

}  // namespace lowbit
