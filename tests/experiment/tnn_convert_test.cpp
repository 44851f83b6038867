// TNN teacher -> student conversion: exact fits on hand-made neurons, and a small teacher
// converted end to end.
#include "experiment/tnn_convert.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "core/check.h"
#include "experiment/config.h"
#include "experiment/trainer.h"
#include "tests/support/temp_dir.h"

using namespace lowbit;
using lowbit::testing::TempDir;
using nlohmann::json;

TEST_CASE("tnn: one hidden neuron, deterministic targets: the k, thresholds and weights that agree everywhere") {
  // k = 0: every sum 0, the best constant agrees on 2 of 4; k = 1 (keep 0.9): sums 1, -1, 0, 1
  // with tl = th = 0 agree on all 4; k = 2: samples 1 and 2 share the sum -1 but not the target.
  const std::vector<float> w = {0.9f, -0.3f};
  const std::vector<int8_t> x = {1, 0, -1, 0, 0, 1, 1, 1};
  const std::vector<float> p = {0, 0, 1, /**/ 1, 0, 0, /**/ 0, 1, 0, /**/ 0, 0, 1};
  const TernaryNeuronFit f = fit_ternary_neuron(w, x, p);
  CHECK(f.nonzero == 1);
  CHECK(f.tl == 0);
  CHECK(f.th == 0);
  CHECK(f.agreement == 4.0);
  CHECK(f.weights == std::vector<int8_t>{1, 0});
}

TEST_CASE("tnn: the fit over several chunks of samples equals a brute-force search") {
  // 5,000 samples (more than one 2,048-sample chunk of the histogram pass), 6 weights, random
  // ternary inputs and target distributions: every (k, tl, th) scored directly, ties broken as
  // documented (fewest nonzero weights, then lowest th, then lowest tl).
  const int64_t n = 5000, K = 6;
  const std::vector<float> w = {0.3f, -0.9f, 0.05f, 0.6f, -0.2f, 0.75f};
  std::vector<int8_t> x(size_t(n * K));
  std::vector<float> p(size_t(3 * n));
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int8_t& v : x) v = int8_t(int(next() >> 16) % 3 - 1);
  for (int64_t i = 0; i < n; ++i) {
    const float a = float(next() >> 8) / 16777216.f, b = float(next() >> 8) / 16777216.f;
    p[size_t(3 * i)] = std::min(a, b);
    p[size_t(3 * i + 1)] = std::max(a, b) - std::min(a, b);
    p[size_t(3 * i + 2)] = 1 - std::max(a, b);
  }
  const std::vector<int64_t> order = {1, 5, 3, 0, 4, 2};  // by decreasing |w|
  TernaryNeuronFit best;
  bool have = false;
  for (int64_t k = 0; k <= K; ++k)
    for (int64_t th = -K - 1; th <= K + 1; ++th)
      for (int64_t tl = -K - 1; tl <= th + 1; ++tl) {
        double score = 0;
        for (int64_t i = 0; i < n; ++i) {
          int64_t s = 0;
          for (int64_t j = 0; j < k; ++j)
            s += (w[size_t(order[size_t(j)])] > 0 ? 1 : -1) * x[size_t(i * K + order[size_t(j)])];
          score += p[size_t(3 * i + (s > th ? 2 : s < tl ? 0 : 1))];
        }
        if (!have || score > best.agreement + 1e-9) {
          have = true;
          best.agreement = score;
          best.nonzero = k;
          best.tl = tl;
          best.th = th;
        }
      }
  const TernaryNeuronFit f = fit_ternary_neuron(w, x, p);
  CHECK(f.nonzero == best.nonzero);
  CHECK(f.tl == best.tl);
  CHECK(f.th == best.th);
  CHECK(f.agreement == doctest::Approx(best.agreement).epsilon(1e-12));
}

TEST_CASE("tnn: one hidden neuron, stochastic targets: expected agreement, ties to the lowest th") {
  // w = -0.5 (weight -1): x = 1, -1, 0 give s = -1, 1, 0. Best: s = -1 -> -1 (0.75), s = 0 -> 0
  // (1), s = 1 -> 0 or +1 (0.5 either): tl = 0 and th = 0 (the lowest th). k = 0 reaches 1.75.
  const std::vector<float> w = {-0.5f};
  const std::vector<int8_t> x = {1, -1, 0};
  const std::vector<float> p = {0.75f, 0.25f, 0, /**/ 0, 0.5f, 0.5f, /**/ 0, 1, 0};
  const TernaryNeuronFit f = fit_ternary_neuron(w, x, p);
  CHECK(f.nonzero == 1);
  CHECK(f.tl == 0);
  CHECK(f.th == 0);
  CHECK(f.agreement == 2.25);
  CHECK(f.weights == std::vector<int8_t>{-1});
  CHECK_THROWS_AS(fit_ternary_neuron(w, x, {0, 1, 0}), Error);
}

TEST_CASE("tnn: output layer, coordinate ascent on accuracy with integer biases") {
  // All weights kept: class 0 = x0 + x1, class 1 = -x0 + x1; sample (0, 1) ties -> class 0,
  // wrong: 3/4. Class 0 first: k = 0 with bias -1 (the fewest weights, the lowest bias) gets 4/4.
  const std::vector<std::vector<float>> w = {{1.f, 0.1f}, {-1.f, 0.2f}};
  const std::vector<int8_t> x = {1, 0, -1, 0, 0, 1, 0, -1};
  const std::vector<int64_t> labels = {0, 1, 1, 0};
  const TernaryOutputFit f = fit_ternary_output(w, x, labels);
  CHECK(f.correct == 4);
  CHECK(f.nonzero == std::vector<int64_t>{0, 2});
  CHECK(f.bias == std::vector<int64_t>{-1, 0});
  CHECK(f.weights[0] == std::vector<int8_t>{0, 0});
  CHECK(f.weights[1] == std::vector<int8_t>{-1, 1});
}

TEST_CASE("tnn: a small teacher converted end to end; the student's fit accuracy is the output fit's") {
  if (!std::filesystem::exists("data/mnist")) {
    MESSAGE("data/mnist missing: run scripts/get_data.sh");
    CHECK(false);
    return;
  }
  const TempDir tmp;
  const json j = json::parse(R"({
    "name": "tnn_teacher", "seed": 3,
    "data": {"dataset": "mnist", "validation": 58000, "transforms": [{"type": "scale", "range": [-1, 1]}]},
    "model": {"layers": [
      {"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 5, "bias": false},
      {"type": "batch_norm2d", "num_features": 4}, {"type": "tanh"}, {"type": "max_pool2d", "kernel_size": 2},
      {"type": "quant_conv2d", "in_channels": 4, "out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1, "bias": false,
       "input_quantizer": {"name": "tnn", "stochastic": true}},
      {"type": "batch_norm2d", "num_features": 8}, {"type": "tanh"}, {"type": "flatten"},
      {"type": "quant_linear", "in_features": 288, "out_features": 32, "bias": false, "input_quantizer": {"name": "tnn", "stochastic": true}},
      {"type": "batch_norm1d", "num_features": 32}, {"type": "tanh"},
      {"type": "quant_linear", "in_features": 32, "out_features": 10, "bias": false, "input_quantizer": {"name": "tnn", "stochastic": true}},
      {"type": "batch_norm1d", "num_features": 10}]},
    "train": {"epochs": 2, "batch_size": 50, "eval_batch_size": 2000, "optimizer": {"name": "adam", "lr": 0.01},
              "loss": "squared_hinge"}})");
  Experiment ex(parse_experiment(j));
  REQUIRE_FALSE(train_experiment(ex, {.out_dir = tmp / "teacher"}).interrupted);
  const TnnConversion c = convert_tnn(ex, {.examples = 300});
  CHECK(c.teacher_test_accuracy > 0.5);
  REQUIRE(c.layers.size() == 3);
  CHECK(c.layers[0]["fit_samples"] == 300 * 6 * 6);  // 12x12 -> 6x6 positions per image
  CHECK(c.layers[1]["fit_samples"] == 300);
  for (int i = 0; i < 2; ++i) {
    CHECK(c.layers[i]["mean_agreement"].get<double>() > 0.3);
    CHECK(c.layers[i]["mean_agreement"].get<double>() <= 1.0);
  }
  // Greedy conversion fits the output layer on the student's own inputs: evaluating the
  // finished student on the fitting images must give exactly that fit's accuracy.
  CHECK(c.student_train_subset_accuracy == c.layers[2]["fit_accuracy"].get<double>());
  CHECK(c.student_test_accuracy > 0.3);  // chance is 0.1
  for (const auto& [name, t] : c.student)
    if (name.ends_with(".weight"))
      for (float v : t.to_vector()) CHECK((v == -1.f || v == 0.f || v == 1.f));
}
