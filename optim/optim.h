#pragma once
/// Umbrella header for optim/: Optimizer, SGD, Adam/AdamW, AdaMax, lr schedules, registries.
///
///   auto opt = make_optimizer({{"name", "adam"}, {"lr", 1e-3}}, model->parameters(),
///                             model->param_lr_scales());
///   auto sched = make_schedule("cosine", opt->lr(), epochs);
///   for (int64_t e = 0; e < epochs; ++e) {
///     opt->set_lr(sched->lr_at(e));
///     for (auto& batch : loader) { opt->zero_grad(); loss(batch).backward(); opt->step(); }
///   }
#include "optim/adam.h"
#include "optim/adamax.h"
#include "optim/optimizer.h"
#include "optim/registry.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "optim/shift_adamax.h"
