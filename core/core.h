#pragma once
/// Umbrella header for lowbit's core: Tensor, Var and autograd, ops, errors, Rng, threads.
#include "core/check.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "core/var.h"
