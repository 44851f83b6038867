#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "core/random.h"
#include "experiment/batch_loop.h"
#include "experiment/evaluate.h"
#include "layers/registry.h"
#include "optim/registry.h"

using namespace lowbit;
using nlohmann::json;

namespace {

// 10 images of 1x2x2 pixels, 2 classes; batches of 4 give 3 batches (4, 4, 2).
InMemoryDataset tiny_data() {
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  for (int i = 0; i < 10; ++i) {
    for (int j = 0; j < 4; ++j) pixels.push_back(static_cast<uint8_t>((i * 37 + j * 91) % 256));
    labels.push_back(i % 2);
  }
  return InMemoryDataset(std::move(pixels), std::move(labels), {1, 2, 2}, {"a", "b"});
}

struct Net {
  Rng rng{7};
  ModulePtr model = make_module(json::parse(R"([{"type": "flatten"},
      {"type": "linear", "in_features": 4, "out_features": 6}, {"type": "relu"},
      {"type": "dropout", "p": 0.3}, {"type": "linear", "in_features": 6, "out_features": 2}])"),
                                rng, "model");
  OptimizerPtr opt = make_optimizer(json::parse(R"({"name": "adam", "lr": 0.01})"),
                                    model->parameters(), model->param_lr_scales(), "optimizer");
};

TrainingTask task_of(Net& net, const InMemoryDataset& data, const TransformList& tf) {
  return {.model = net.model.get(),
          .optimizer = net.opt.get(),
          .schedule = nullptr,
          .base_lr = 0.01,
          .loss = [](const Var& logits, const Tensor& labels) { return cross_entropy(logits, labels); },
          .train = &data,
          .transforms = &tf};
}

BatchLoop loop_of(int64_t epochs) {
  BatchLoop loop;
  loop.name = "test";
  loop.epochs = epochs;
  loop.batch_size = 4;
  loop.seed = 3;
  return loop;
}

}  // namespace

TEST_CASE("batch loop: hooks run in order around the optimizer step, once per batch and epoch") {
  const InMemoryDataset data = tiny_data();
  const TransformList tf{transforms::scale(0.f, 1.f)};
  Net net;
  std::vector<std::string> events;
  BatchLoopHooks hooks;
  hooks.before_step = [&](const Batch& b) { events.push_back("before:" + std::to_string(b.images.size(0))); };
  hooks.after_backward = [&] {
    // Gradients are complete and the weights not yet updated.
    bool all = true;
    for (const Var& p : net.model->parameters()) all = all && p.grad().defined();
    events.push_back(all ? "backward" : "backward:missing-grad");
  };
  hooks.after_step = [&] { events.push_back("step"); };
  hooks.validate = [&] {
    events.push_back("validate");
    return evaluate(*net.model, data, tf, 5);
  };
  hooks.end_of_epoch = [&](const LoopState& st, json& line) {
    events.push_back("epoch:" + std::to_string(st.epoch) + ":" + std::to_string(st.totals.seen));
    CHECK(line["epoch"] == st.epoch + 1);
    CHECK(line["val_accuracy"].is_number());
    line["extra"] = 1;  // hooks may extend the line
    return false;
  };
  const BatchLoopResult r = run_batch_loop(task_of(net, data, tf), loop_of(2), hooks);
  CHECK_FALSE(r.stopped);
  REQUIRE(r.log.size() == 2);
  CHECK(r.log[1]["extra"] == 1);
  const std::vector<std::string> epoch = {"before:4", "backward", "step", "before:4", "backward",
                                          "step",     "before:2", "backward", "step", "validate"};
  std::vector<std::string> expected = epoch;
  expected.push_back("epoch:0:10");
  expected.insert(expected.end(), epoch.begin(), epoch.end());
  expected.push_back("epoch:1:10");
  CHECK(events == expected);
}

TEST_CASE("batch loop: stopped mid-epoch and restarted at its position ends with the same weights") {
  const InMemoryDataset data = tiny_data();
  const TransformList tf{transforms::scale(0.f, 1.f)};
  Net full;
  const BatchLoopResult done = run_batch_loop(task_of(full, data, tf), loop_of(3), {});
  REQUIRE(done.log.size() == 3);

  Net part;
  LoopState at;
  int batches = 0;
  BatchLoopHooks stop;
  stop.stop_requested = [&] { return ++batches == 5; };  // epoch 1, after batch 1
  stop.on_stop = [&](const LoopState& st) { at = st; };
  CHECK(run_batch_loop(task_of(part, data, tf), loop_of(3), stop).stopped);
  CHECK(at.epoch == 1);
  CHECK(at.next_batch == 2);
  CHECK(at.totals.seen == 8);
  CHECK(at.new_images == 8);

  // The model Rng (dropout) and the optimizer state live on in `part`; the loop itself is
  // restarted from the position and the carried totals alone.
  BatchLoop rest = loop_of(3);
  rest.start_epoch = at.epoch;
  rest.start_batch = at.next_batch;
  rest.carried = at.totals;
  const BatchLoopResult resumed = run_batch_loop(task_of(part, data, tf), rest, {});
  REQUIRE(resumed.log.size() == 2);
  CHECK(resumed.log[0]["train_loss"] == done.log[1]["train_loss"]);
  CHECK(resumed.log[0]["train_accuracy"] == done.log[1]["train_accuracy"]);
  const auto a = full.model->state_tensors(), b = part.model->state_tensors();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].second.to_vector() == b[i].second.to_vector());
}

TEST_CASE("batch loop: a non-finite loss names the loop, epoch and batch") {
  const InMemoryDataset data = tiny_data();
  const TransformList tf{transforms::scale(0.f, 1.f)};
  Net net;
  TrainingTask task = task_of(net, data, tf);
  task.loss = [](const Var& logits, const Tensor&) { return mul(sum(logits), std::nanf("")); };
  BatchLoop loop = loop_of(1);
  loop.lr_hint = "lower the lr";
  CHECK_THROWS_WITH_AS(run_batch_loop(task, loop, {}),
                       doctest::Contains("test: loss became nan at epoch 1, batch 0; lower the lr"),
                       Error);
}

TEST_CASE("count_correct: argmax per row, first maximum on ties") {
  const Tensor logits = Tensor::from_vector({3, 3}, {0, 2, 1,  5, 5, 0,  1, 0, 3});
  CHECK(count_correct(logits, Tensor::from_vector({3}, {1, 0, 2})) == 3);
  CHECK(count_correct(logits, Tensor::from_vector({3}, {1, 1, 0})) == 1);
}
