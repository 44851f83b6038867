#include "optim/registry.h"

#include <mutex>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/registry.h"
#include "optim/adam.h"
#include "optim/adamax.h"
#include "optim/sgd.h"
#include "optim/shift_adamax.h"

namespace lowbit {

namespace {
using OptimizerRegistry = Registry<OptimizerPtr(const nlohmann::json&, std::vector<Var>,
                                                std::vector<float>, const std::string&)>;
using ScheduleRegistry =
    Registry<LrSchedulePtr(const nlohmann::json&, double, int64_t, const std::string&)>;

OptimizerRegistry& optimizers() {
  static OptimizerRegistry r("optimizer");
  return r;
}
ScheduleRegistry& schedules() {
  static ScheduleRegistry r("lr schedule");
  return r;
}
std::once_flag g_optimizers_once, g_schedules_once;

// Factory: options = parse(spec, path), then T(params, scales, options).
template <class T, auto parse>
OptimizerPtr optimizer_from_json(const nlohmann::json& spec, std::vector<Var> params,
                                 std::vector<float> scales, const std::string& path) {
  return std::make_shared<T>(std::move(params), std::move(scales), parse(spec, path));
}

AdamOptions adam_options(const nlohmann::json& spec, const std::string& path) {
  return AdamOptions::from_json(spec, path, false);
}
AdamOptions adamw_options(const nlohmann::json& spec, const std::string& path) {
  return AdamOptions::from_json(spec, path, true);
}
}  // namespace

// ---- optimizers

void register_builtin_optimizers() {
  std::call_once(g_optimizers_once, [] {
    OptimizerRegistry& r = optimizers();
    r.add("sgd", &optimizer_from_json<SGD, &SGDOptions::from_json>);
    r.add("adam", &optimizer_from_json<Adam, &adam_options>);
    r.add("adamw", &optimizer_from_json<Adam, &adamw_options>);
    r.add("adamax", &optimizer_from_json<AdaMax, &AdaMaxOptions::from_json>);
    r.add("shift_adamax", &optimizer_from_json<ShiftAdaMax, &ShiftAdaMaxOptions::from_json>);
  });
}

void register_optimizer(const std::string& name, OptimizerFactory factory) {
  register_builtin_optimizers();
  optimizers().add(name, std::move(factory));
}

std::vector<std::string> optimizer_names() {
  register_builtin_optimizers();
  return optimizers().names();
}

OptimizerPtr make_optimizer(const nlohmann::json& spec, std::vector<Var> params,
                            std::vector<float> lr_scales, const std::string& path) {
  register_builtin_optimizers();
  const auto [name, obj] = optimizers().resolve(spec, path);
  return optimizers().make(name, obj, std::move(params), std::move(lr_scales), path);
}

nlohmann::json optimizer_to_json(const Optimizer& opt) {
  nlohmann::json j = {{"name", std::string(opt.name())}};
  j.update(opt.config());
  return j;
}

// ---- schedules

namespace {
LrSchedulePtr constant_from_json(const nlohmann::json& spec, double lr_start, int64_t epochs,
                                 const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  a.finish();
  return std::make_shared<ConstantLr>(lr_start, epochs);
}

LrSchedulePtr step_from_json(const nlohmann::json& spec, double lr_start, int64_t epochs,
                             const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  const int64_t step_size = a.positive_int("step_size");
  const double gamma = a.positive("gamma", 0.1);
  a.finish();
  return std::make_shared<StepLr>(lr_start, epochs, step_size, gamma);
}

LrSchedulePtr multistep_from_json(const nlohmann::json& spec, double lr_start, int64_t epochs,
                                  const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  const std::vector<int64_t> milestones = a.int_list("milestones", 0);
  for (size_t i = 1; i < milestones.size(); ++i)
    if (milestones[i] <= milestones[i - 1])
      json_fail(json_path(a.path_of("milestones"), i),
                "milestones must be strictly increasing, got " + std::to_string(milestones[i]) +
                    " after " + std::to_string(milestones[i - 1]));
  const double gamma = a.positive("gamma", 0.1);
  a.finish();
  return std::make_shared<MultiStepLr>(lr_start, epochs, milestones, gamma);
}

LrSchedulePtr exponential_from_json(const nlohmann::json& spec, double lr_start, int64_t epochs,
                                    const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  const bool has_end = a.has("lr_end"), has_gamma = a.has("gamma");
  if (has_end == has_gamma)
    json_fail(path,
              "exponential schedule: give exactly one of \"lr_end\" (decay to this lr "
              "at the last epoch) or \"gamma\" (multiply each epoch)");
  LrSchedulePtr s =
      has_end ? LrSchedulePtr(ExponentialLr::to_end(lr_start, epochs, a.positive("lr_end")))
              : LrSchedulePtr(ExponentialLr::with_gamma(lr_start, epochs, a.positive("gamma")));
  a.finish();
  return s;
}

LrSchedulePtr cosine_from_json(const nlohmann::json& spec, double lr_start, int64_t epochs,
                               const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  const double lr_min = a.non_negative("lr_min", 0.0);
  a.finish();
  return std::make_shared<CosineLr>(lr_start, epochs, lr_min);
}
}  // namespace

void register_builtin_schedules() {
  std::call_once(g_schedules_once, [] {
    ScheduleRegistry& r = schedules();
    r.add("constant", &constant_from_json);
    r.add("step", &step_from_json);
    r.add("multistep", &multistep_from_json);
    r.add("exponential", &exponential_from_json);
    r.add("cosine", &cosine_from_json);
  });
}

void register_schedule(const std::string& name, ScheduleFactory factory) {
  register_builtin_schedules();
  schedules().add(name, std::move(factory));
}

std::vector<std::string> schedule_names() {
  register_builtin_schedules();
  return schedules().names();
}

LrSchedulePtr make_schedule(const nlohmann::json& spec, double lr_start, int64_t epochs,
                            const std::string& path) {
  register_builtin_schedules();
  LB_CHECK(epochs > 0, path, ": the run's epochs must be > 0 to build a schedule, got ", epochs);
  if (spec.is_null()) return std::make_shared<ConstantLr>(lr_start, epochs);
  const auto [name, obj] = schedules().resolve(spec, path);
  return schedules().make(name, obj, lr_start, epochs, path);
}

nlohmann::json schedule_to_json(const LrSchedule& s) {
  nlohmann::json j = {{"name", std::string(s.name())}};
  j.update(s.config());
  return j;
}

}  // namespace lowbit
