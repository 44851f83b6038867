#pragma once
/// The one argmax-accuracy routine: `lowbit train` (validation, test), the compression
/// stages, `lowbit eval` and the packed engine's evaluation all count correct predictions
/// here. (evaluate() was declared in experiment/experiment.h before; experiment.h includes
/// this header, so its callers are unchanged.)
///
///   double acc = evaluate(*model, ex.test, ex.transforms, 1000);
///   double packed_acc = evaluate_batches([&](const Tensor& x) { return packed.forward(x); },
///                                        data, transforms, 1000, "evaluate_packed");
#include <cstdint>
#include <functional>

#include "core/tensor.h"
#include "datasets/dataset.h"
#include "datasets/transforms.h"
#include "layers/module.h"

namespace lowbit {

/// How many rows of `logits` (N, classes) have their largest entry (the first one on ties)
/// at the class in `labels` (N, class indices as floats).
int64_t count_correct(const Tensor& logits, const Tensor& labels);

/// Images (B, C, H, W) -> logits (B, classes).
using BatchForward = std::function<Tensor(const Tensor& images)>;

/// Accuracy (0..1) of `forward` on `data` in dataset order with the eval transforms (no
/// augmentation); fills `logits` (N, classes) when given. `who` names the caller in the
/// error thrown when the output is not (batch, classes).
double evaluate_batches(const BatchForward& forward, const InMemoryDataset& data,
                        const TransformList& transforms, int64_t batch_size,
                        Tensor* logits = nullptr, const char* who = "evaluate");

/// Accuracy (0..1) of `model` in eval mode (restored afterwards), without autograd.
double evaluate(Module& model, const InMemoryDataset& data, const TransformList& transforms,
                int64_t batch_size, Tensor* logits = nullptr);

}  // namespace lowbit
