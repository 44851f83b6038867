#pragma once
/// Evaluation of a packed model on a data set (`lowbit eval --packed FILE`).
///
///   PackedEvalResult r = evaluate_packed_file("mnist_bnn.lbp", "test");
///   std::cout << r.accuracy;   // the file's data config picks the data set and transforms
#include <cstdint>
#include <string>

#include "apps/packed/packed_model.h"
#include "datasets/dataset.h"
#include "datasets/transforms.h"

namespace lowbit::packed {

/// Accuracy (0..1) of `model` on `data` (eval transforms, dataset order); fills `logits`
/// (N, classes) when given.
double evaluate_packed(PackedModel& model, const InMemoryDataset& data,
                       const TransformList& transforms, int64_t batch_size,
                       Tensor* logits = nullptr);

struct PackedEvalResult {
  std::string name;
  InMemoryDataset data;
  Tensor logits;  ///< (N, classes)
  double accuracy = 0.0;
};

/// Loads the packed file, then split "test" or "val" of the data set named in its metadata
/// (the source run's data config), and evaluates.
PackedEvalResult evaluate_packed_file(const std::string& path, const std::string& split);

}  // namespace lowbit::packed
