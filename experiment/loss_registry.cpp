#include "experiment/loss_registry.h"

#include <nlohmann/json.hpp>

#include "core/json_args.h"
#include "core/ops.h"
#include "core/registry.h"

namespace lowbit {

using nlohmann::json;

json Loss::config() const { return json::object(); }

namespace {

/// A loss function of core/ops.h without options.
class FunctionLoss final : public Loss {
 public:
  using Fn = Var (*)(const Var& logits, const Tensor& labels);
  FunctionLoss(std::string name, Fn fn) : name_(std::move(name)), fn_(fn) {}
  std::string_view name() const override { return name_; }
  Var operator()(const Var& logits, const Tensor& labels) const override {
    return fn_(logits, labels);
  }

 private:
  std::string name_;
  Fn fn_;
};

LossFactory function_loss(const std::string& name, FunctionLoss::Fn fn) {
  auto loss = std::make_shared<const FunctionLoss>(name, fn);
  return [loss](const json& spec, const std::string& path) -> LossPtr {
    JsonArgs a(spec, path);
    a.allow({"name"});
    a.finish();
    return loss;
  };
}

using LossRegistry = Registry<LossPtr(const json&, const std::string&)>;

LossRegistry& registry() {
  static LossRegistry r = [] {
    LossRegistry reg("loss");
    reg.add("cross_entropy", function_loss("cross_entropy", &cross_entropy));
    reg.add("squared_hinge", function_loss("squared_hinge", &squared_hinge));
    return reg;
  }();
  return r;
}

}  // namespace

LossPtr make_loss(const json& spec, const std::string& path) {
  const auto [name, obj] = registry().resolve(spec, path);
  return registry().make(name, obj, path);
}

json loss_to_json(const Loss& loss) { return name_or_spec(std::string(loss.name()), loss.config()); }

std::vector<std::string> loss_names() { return registry().names(); }

void register_loss(const std::string& name, LossFactory factory) {
  registry().add(name, std::move(factory));
}

}  // namespace lowbit
