// TWN — Ternary Weight Networks (Li, Zhang, Liu, arXiv:1605.04711): "twn".
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

// Legend: w viewed as (F, n): F filters (1 when per layer) of n values.
Var twn(const Var& w, float delta_factor, bool per_filter) {
  LB_CHECK(delta_factor >= 0 && std::isfinite(delta_factor), "twn: delta_factor must be >= 0, got ",
           delta_factor);
  const Tensor wd = w.data();
  LB_CHECK(wd.numel() > 0, "twn: empty weight of shape ", wd.shape());
  // Plain variables, not a structured binding: lambdas below capture them (C++20 allows it,
  // clang before 16 does not, and the fuzz build uses clang).
  const detail::Filters filt = detail::filters(wd, per_filter);
  const int64_t F = filt.count, n = filt.size;
  Tensor q = Tensor::empty(wd.shape());
  const float* src = wd.data();
  float* dst = q.data();
  kernels::parallel_for(
      F,
      [&](int64_t f0, int64_t f1) {
        for (int64_t f = f0; f < f1; ++f) {
          const float* row = src + f * n;
          double abs_sum = 0.0;
          for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(row[i]);
          const float delta = delta_factor * static_cast<float>(abs_sum / static_cast<double>(n));
          double kept = 0.0;  // α = mean of |W| over {|W| > Δ}
          int64_t count = 0;
          for (int64_t i = 0; i < n; ++i) {
            if (std::fabs(row[i]) > delta) {
              kept += std::fabs(row[i]);
              ++count;
            }
          }
          const float alpha =
              count > 0 ? static_cast<float>(kept / static_cast<double>(count)) : 0.f;
          float* out = dst + f * n;
          for (int64_t i = 0; i < n; ++i)
            out[i] = row[i] > delta ? alpha : (row[i] < -delta ? -alpha : 0.f);
        }
      },
      n);
  return make_result(std::move(q), {w}, "twn",
                     [](const Tensor& g, GradInputs& in) { in.add(0, g); });
}

namespace {

/// "twn": {"delta_factor": 0.7, "per_filter": false} (v3 of the paper: 0.75, per filter).
class Twn final : public Quantizer {
 public:
  struct Options {
    float delta_factor = 0.7f;
    bool per_filter = false;
  };
  explicit Twn(Options o) : o_(o) {}
  Var operator()(const Var& x) const override { return twn(x, o_.delta_factor, o_.per_filter); }
  std::string_view name() const override { return "twn"; }
  int precision() const override { return 2; }
  int64_t levels() const override { return 3; }
  nlohmann::json config() const override {
    return {{"delta_factor", float_to_json(o_.delta_factor)}, {"per_filter", o_.per_filter}};
  }
  int64_t num_scales(const Shape& w) const override {
    return o_.per_filter && !w.empty() ? w[0] : 1;
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.delta_factor = static_cast<float>(a.non_negative("delta_factor", o.delta_factor));
    o.per_filter = a.boolean("per_filter", o.per_filter);
    a.finish();
    return std::make_shared<Twn>(o);
  }

 private:
  Options o_;
};

}  // namespace

QuantizerPtr twn_from_json(const nlohmann::json& spec, const std::string& path) {
  return Twn::from_json(spec, path);
}

}  // namespace lowbit
