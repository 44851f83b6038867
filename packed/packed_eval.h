#pragma once
/// Evaluation of a packed model on a data set (`lowbit eval --packed FILE`).
///
///   PackedEvalResult r = evaluate_packed_file("mnist_bnn.lbp", "test");
///   std::cout << r.accuracy;   // the file's data config picks the data set and transforms
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "packed/packed_model.h"
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

/// The resolved experiment config of the run the model was exported from (metadata
/// "source.config"); throws naming `source` when the model has none (converted in memory).
const nlohmann::json& source_config(const PackedModel& model, const std::string& source);

/// Loads the packed file, then split "test" or "val" of the data set of its source config,
/// and evaluates with that config's eval transforms and eval batch size.
PackedEvalResult evaluate_packed_file(const std::string& path, const std::string& split);

}  // namespace lowbit::packed
