#include "packed/packed_eval.h"

#include <algorithm>

#include "experiment/config.h"
#include "experiment/experiment.h"
#include "core/check.h"
#include "datasets/data_loader.h"
#include "datasets/registry.h"

namespace lowbit::packed {

double evaluate_packed(PackedModel& model, const InMemoryDataset& data,
                       const TransformList& transforms, int64_t batch_size, Tensor* logits) {
  DataLoader loader(data, transforms,
                    {.batch_size = batch_size, .shuffle = false, .augment = false});
  int64_t correct = 0, seen = 0;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const Batch batch = loader.batch(b);
    const Tensor out = model.forward(batch.images);
    LB_CHECK(out.dim() == 2 && out.size(0) == batch.images.size(0),
             "evaluate_packed: the model's output has shape ", out.shape(),
             "; expected (batch, classes)");
    const int64_t n = out.size(0), c = out.size(1);
    if (logits) {
      if (!logits->defined()) *logits = Tensor::empty({data.size(), c});
      std::copy(out.data(), out.data() + n * c, logits->data() + seen * c);
    }
    for (int64_t i = 0; i < n; ++i) {
      const float* row = out.data() + i * c;
      correct += (std::max_element(row, row + c) - row) ==
                 static_cast<int64_t>(batch.labels.data()[i]);
    }
    seen += n;
  }
  return seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
}

const nlohmann::json& source_config(const PackedModel& model, const std::string& source) {
  const nlohmann::json& m = model.meta;
  LB_CHECK(m.contains("source") && m["source"].is_object() && m["source"].contains("config") &&
               m["source"]["config"].is_object(),
           source, ": the packed model has no source experiment config (it was not written by "
           "`lowbit export RUN_DIR`); evaluate it from C++ with evaluate_packed()");
  return m["source"]["config"];
}

PackedEvalResult evaluate_packed_file(const std::string& path, const std::string& split) {
  PackedModel model = PackedModel::load(path);
  ExperimentConfig cfg;
  try {
    cfg = parse_experiment(source_config(model, path));
  } catch (const Error& e) {
    LB_FAIL(path, ": ", e.what());
  }
  PackedEvalResult r;
  r.name = cfg.name;
  if (split == "test") {
    r.data = load_dataset(cfg.data.dataset, cfg.data.root, "test");
  } else {
    LB_CHECK(split == "val", "evaluate_packed_file: split must be \"test\" or \"val\", got \"",
             split, "\"");
    LB_CHECK(cfg.data.validation > 0, path,
             ": the source run has no validation split (data.validation is 0)");
    r.data = train_val_split(load_dataset(cfg.data.dataset, cfg.data.root, "train"),
                             cfg.data.validation)
                 .val;
  }
  r.accuracy = evaluate_packed(model, r.data, make_transforms(cfg.data.transforms, "data.transforms"),
                               cfg.train.eval_batch_size, &r.logits);
  return r;
}

}  // namespace lowbit::packed
