#include "packed/packed_eval.h"

#include "experiment/config.h"
#include "experiment/evaluate.h"
#include "experiment/experiment.h"
#include "core/check.h"
#include "datasets/registry.h"

namespace lowbit::packed {

double evaluate_packed(PackedModel& model, const InMemoryDataset& data,
                       const TransformList& transforms, int64_t batch_size, Tensor* logits) {
  return evaluate_batches([&](const Tensor& images) { return model.forward(images); }, data,
                          transforms, batch_size, logits, "evaluate_packed");
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
