#pragma once
/// Magnitude pruning (Han, Pool, Tran & Dally, NIPS 2015; Deep Compression §2).
///
/// A PruneMask is a 0/1 tensor of a layer's weight shape. Pruned weights must stay zero
/// through all later training, which takes two calls per step:
///
///   PruneMask mask = prune_by_std(w.data(), /*quality=*/1.0);  // drop |w| < 1.0·std(w)
///   mask.apply_to_weight(w);          // once, after pruning
///   for (...) {
///     loss.backward();
///     mask.apply_to_grad(w);          // before optimizer.step(): masked gradients
///     optimizer.step();
///     mask.apply_to_weight(w);        // after: momentum / Adam moments / weight decay
///   }                                 //   accumulated before pruning would move them
///
/// Masking the gradient alone keeps pruned weights at zero only for plain SGD; an optimizer
/// with state from before pruning (Adam's m and v, SGD momentum) still moves them, so the
/// weight mask after the step is what guarantees exact zeros. Both are cheap (one pass).
#include <cstdint>
#include <optional>

#include <nlohmann/json_fwd.hpp>

#include "core/tensor.h"
#include "core/var.h"

namespace lowbit {

class PruneMask {
 public:
  /// Undefined mask (`defined()` false).
  PruneMask() = default;
  /// From a 0/1 tensor (deep-copied; the mask is immutable). Any other value throws.
  explicit PruneMask(const Tensor& mask);
  /// Keeps every weight.
  static PruneMask keep_all(const Shape& shape);

  bool defined() const { return mask_.defined(); }
  /// The 0/1 mask, shape of the layer's weight. Do not write through it.
  const Tensor& tensor() const { return mask_; }
  const Shape& shape() const { return mask_.shape(); }
  int64_t numel() const { return mask_.numel(); }
  /// Surviving (mask = 1) weights.
  int64_t count() const { return count_; }
  /// count() / numel() (1 for an empty layer).
  double density() const;
  /// Entry i survives.
  bool kept(int64_t i) const { return mask_.data()[i] != 0.f; }

  /// t ⊙ mask in place. t: the mask's shape.
  void apply_(const Tensor& t) const;
  /// w.data() ⊙= mask in place (the parameter handle is shared with the optimizer).
  void apply_to_weight(const Var& w) const;
  /// w.grad() ⊙= mask: dL/dw_i = 0 for pruned i. No-op when w has no gradient yet. Writes in
  /// place only when nobody else holds the gradient buffer, otherwise installs a masked
  /// copy with Var::set_grad (var.h rule 5: gradients handed out are never modified).
  void apply_to_grad(const Var& w) const;
  /// Survivors of both masks (iterative pruning).
  PruneMask intersect(const PruneMask& other) const;

 private:
  Tensor mask_;
  int64_t count_ = 0;
};

/// Keeps |w_i| >= quality · std(w), std the population standard deviation over the layer's
/// weights (over the survivors of `previous` when given; the result then also drops what
/// `previous` dropped). quality >= 0.
PruneMask prune_by_std(const Tensor& w, double quality, const PruneMask* previous = nullptr);

/// Keeps the round(density · numel) weights of largest |w| (ties: lower index first), among
/// the survivors of `previous` when given. density in [0, 1].
PruneMask prune_to_density(const Tensor& w, double density, const PruneMask* previous = nullptr);

/// One layer's pruning rule: exactly one of `quality` (threshold = quality × std) or
/// `density` (fraction of weights kept). JSON: {"quality": 1.2} or {"density": 0.08}.
struct PruneSpec {
  std::optional<double> quality;
  std::optional<double> density;
};
/// Applies `spec` (validated: exactly one field set, in range).
PruneMask prune(const Tensor& w, const PruneSpec& spec, const PruneMask* previous = nullptr);
void from_json(const nlohmann::json& j, PruneSpec& spec);
void to_json(nlohmann::json& j, const PruneSpec& spec);

}  // namespace lowbit
