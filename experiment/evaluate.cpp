#include "experiment/evaluate.h"

#include <algorithm>

#include "core/check.h"
#include "core/var.h"
#include "datasets/data_loader.h"

namespace lowbit {

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const int64_t n = logits.size(0), c = logits.size(1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * c;
    correct += (std::max_element(row, row + c) - row) == static_cast<int64_t>(labels.data()[i]);
  }
  return correct;
}

double evaluate_batches(const BatchForward& forward, const InMemoryDataset& data,
                        const TransformList& transforms, int64_t batch_size, Tensor* logits,
                        const char* who) {
  DataLoader loader(data, transforms, {.batch_size = batch_size, .shuffle = false, .augment = false});
  int64_t correct = 0, seen = 0;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const Batch batch = loader.batch(b);
    const Tensor out = forward(batch.images);
    LB_CHECK(out.dim() == 2 && out.size(0) == batch.images.size(0), who,
             ": the model's output has shape ", out.shape(),
             "; expected (batch, classes): end the model with a linear layer");
    const int64_t n = out.size(0), c = out.size(1);
    if (logits) {
      if (!logits->defined()) *logits = Tensor::empty({data.size(), c});
      std::copy(out.data(), out.data() + n * c, logits->data() + seen * c);
    }
    correct += count_correct(out, batch.labels);
    seen += n;
  }
  return seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
}

double evaluate(Module& model, const InMemoryDataset& data, const TransformList& transforms,
                int64_t batch_size, Tensor* logits) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const double acc = evaluate_batches([&](const Tensor& x) { return model(Var(x)).data(); }, data,
                                      transforms, batch_size, logits, "evaluate");
  model.train(was_training);
  return acc;
}

}  // namespace lowbit
