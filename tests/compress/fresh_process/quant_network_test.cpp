// Its own executable: the layer registry is process-wide, and any test that builds an
// Experiment registers the quantized layers as a side effect. Here nothing has, so the test
// sees what `lowbit compress` sees when it starts.
#include <doctest/doctest.h>

#include <algorithm>

#include "compress/compress_config.h"
#include "compress/pipeline.h"
#include "layers/registry.h"

using namespace lowbit;
using nlohmann::json;

TEST_CASE("compress: a quantized network (TWN LeNet-5) is planned without registering its layers first") {
  const std::vector<std::string> before = module_type_names();
  REQUIRE(std::find(before.begin(), before.end(), "quant_conv2d") == before.end());
  json raw = json::parse(R"({
    "name": "twn_dc", "train": "experiments/mnist/lenet5_twn.json",
    "layers": {"0.weight": "conv1", "9.weight": "fc1", "12.weight": "fc2"},
    "prune": {"default": {"density": 0.5}, "retrain": {"epochs": 1}},
    "quantize": {"default": {"bits": 4}, "finetune": {"epochs": 1}},
    "output": {"dir": "unused"}})");
  const CompressConfig cfg = parse_compress_config(raw);
  const std::vector<LayerPlan> plan = check_compress_config(cfg);  // threw "unknown layer type"
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].label == "conv1");
  CHECK(plan[0].param == "0.weight");
}
