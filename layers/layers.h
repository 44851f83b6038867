#pragma once
/// Umbrella header for layers/: Module, every built-in layer, initialisers, make_module.
///
///   Rng rng(42);
///   ModulePtr net = make_module(config["model"]["layers"], rng, "model.layers");
///   std::cout << *net << "\n";
///   Var logits = (*net)(x);
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/pooling.h"
#include "layers/registry.h"
#include "layers/sequential.h"
#include "layers/shift_batch_norm.h"
