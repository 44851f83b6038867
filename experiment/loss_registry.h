#pragma once
/// Loss registry: everything train.loss can name.
///
///   LossPtr loss = make_loss("squared_hinge", "train.loss");
///   Var l = (*loss)(logits, labels);      // logits (N, classes), labels (N) class indices
///   nlohmann::json spec = loss_to_json(*loss);   // "squared_hinge"
///
/// Specs: a name or {"name": ..., options}. Built-ins (cross_entropy, squared_hinge: the
/// functions of core/ops.h) are listed one per line in experiment/loss_registry.cpp.
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/var.h"

namespace lowbit {

class Loss {
 public:
  virtual ~Loss() = default;
  /// The registered name.
  virtual std::string_view name() const = 0;
  /// Mean loss of `logits` (N, classes) against class indices `labels` (N).
  virtual Var operator()(const Var& logits, const Tensor& labels) const = 0;
  /// Options with defaults filled in ({} when it has none).
  virtual nlohmann::json config() const;
};

using LossPtr = std::shared_ptr<const Loss>;
/// Builds a loss from its spec object ({"name": ..., options}); must reject unknown options.
using LossFactory = std::function<LossPtr(const nlohmann::json& spec, const std::string& path)>;

/// spec: a name or {"name": ..., options}; errors start with `path`.
LossPtr make_loss(const nlohmann::json& spec, const std::string& path = "train.loss");
/// The name alone when there are no options, else {"name": ..., ...config()}.
nlohmann::json loss_to_json(const Loss& loss);
/// Sorted registered names (tests sweep them).
std::vector<std::string> loss_names();
/// Adds a loss; throws on a duplicate name.
void register_loss(const std::string& name, LossFactory factory);

}  // namespace lowbit
