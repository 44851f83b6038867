#pragma once
/// Optimizer and lr-schedule registries: everything train.optimizer and train.lr_schedule
/// can name.
///
///   OptimizerPtr opt = make_optimizer(cfg["train"]["optimizer"], model->parameters(),
///                                     model->param_lr_scales(), "train.optimizer");
///   LrSchedulePtr sched = make_schedule(cfg["train"]["lr_schedule"], opt->lr(), epochs,
///                                       "train.lr_schedule");
///
/// Specs: "adam" (defaults) or {"name": "adam", "lr": 1e-3, ...}; schedules likewise, and
/// null/absent means "constant". Unknown names and keys throw with the JSON path and the
/// valid choices. Built-ins are listed in register_builtin_optimizers() /
/// register_builtin_schedules() (optim/registry.cpp), one line each.
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace lowbit {

/// spec: the object (with "name"); path: its JSON path.
using OptimizerFactory =
    std::function<OptimizerPtr(const nlohmann::json& spec, std::vector<Var> params,
                               std::vector<float> lr_scales, const std::string& path)>;
using ScheduleFactory = std::function<LrSchedulePtr(const nlohmann::json& spec, double lr_start,
                                                    int64_t epochs, const std::string& path)>;

OptimizerPtr make_optimizer(const nlohmann::json& spec, std::vector<Var> params,
                            std::vector<float> lr_scales,
                            const std::string& path = "train.optimizer");
/// {"name": opt.name(), ...opt.config()} (config holds the initial lr).
nlohmann::json optimizer_to_json(const Optimizer& opt);
void register_optimizer(const std::string& name, OptimizerFactory factory);
/// Sorted.
std::vector<std::string> optimizer_names();
/// sgd, adam, adamw, adamax (idempotent).
void register_builtin_optimizers();

/// lr_start: the optimizer's lr; epochs: the run's length.
LrSchedulePtr make_schedule(const nlohmann::json& spec, double lr_start, int64_t epochs,
                            const std::string& path = "train.lr_schedule");
nlohmann::json schedule_to_json(const LrSchedule& s);
void register_schedule(const std::string& name, ScheduleFactory factory);
std::vector<std::string> schedule_names();
/// constant, step, multistep, exponential, cosine (idempotent).
void register_builtin_schedules();

}  // namespace lowbit
