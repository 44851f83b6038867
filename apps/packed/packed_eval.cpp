#include "apps/packed/packed_eval.h"

#include <algorithm>

#include "apps/experiment/config.h"
#include "apps/experiment/experiment.h"
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

PackedEvalResult evaluate_packed_file(const std::string& path, const std::string& split) {
  PackedModel model = PackedModel::load(path);
  LB_CHECK(model.meta.contains("data") && model.meta["data"].is_object(), path,
           ": the packed model has no data config (it was not exported from a run folder); "
           "evaluate it from C++ with evaluate_packed()");
  const nlohmann::json& d = model.meta["data"];
  PackedEvalResult r;
  r.name = model.meta.value("name", std::string("packed"));
  const std::string dataset = d.at("dataset").get<std::string>();
  const std::string root = d.at("root").get<std::string>();
  const TransformList transforms = make_transforms(d.value("transforms", nlohmann::json::array()),
                                                   "data.transforms");
  if (split == "test") {
    r.data = load_dataset(dataset, root, "test");
  } else {
    LB_CHECK(split == "val", "evaluate_packed_file: split must be \"test\" or \"val\", got \"",
             split, "\"");
    const int64_t validation = d.value("validation", int64_t{0});
    LB_CHECK(validation > 0, path,
             ": the source run has no validation split (data.validation is 0)");
    r.data = train_val_split(load_dataset(dataset, root, "train"), validation).val;
  }
  const int64_t batch = model.meta.value("eval_batch_size", int64_t{1000});
  r.accuracy = evaluate_packed(model, r.data, transforms, batch, &r.logits);
  return r;
}

}  // namespace lowbit::packed
