// The model summary: per-layer bits, parameters, MACs by precision, and the totals.
#include "quant/summary.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "core/random.h"
#include "layers/registry.h"
#include "quant/registry.h"

using namespace lowbit;
using nlohmann::json;

TEST_CASE("summary of a mixed-precision LeNet-like model, counted by hand") {
  register_quant_modules();
  Rng rng(1);
  ModulePtr net = make_module(json::parse(R"([
    {"type": "quant_conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1,
     "input_quantizer": {"name": "dorefa", "bits": 2}, "weight_quantizer": "twn"},
    {"type": "max_pool2d", "kernel_size": 2},
    {"type": "flatten"},
    {"type": "quant_linear", "in_features": 784, "out_features": 10,
     "input_quantizer": "ste_sign", "weight_quantizer": "bwn"},
    {"type": "quant_linear", "in_features": 10, "out_features": 10,
     "input_quantizer": "tnn", "weight_quantizer": "ttq"},
    {"type": "linear", "in_features": 10, "out_features": 10}
  ])"),
                              rng);
  net->train();
  ModelSummary s = summarize(*net, {1, 28, 28});
  CHECK(net->is_training());  // restored
  REQUIRE(s.layers.size() == 6);

  const LayerSummary& conv = s.layers[0];
  CHECK(conv.name == "0");
  CHECK(conv.type == "quant_conv2d");
  CHECK(conv.input_quantizer == "dorefa");
  CHECK(conv.weight_quantizer == "twn");
  CHECK(conv.weight_bits == 2);
  CHECK(conv.activation_bits == 2);
  CHECK(conv.output_shape == Shape{4, 28, 28});
  CHECK(conv.params == 40);
  CHECK(conv.macs == 4 * 28 * 28 * 9);
  CHECK(conv.mac_precision == "k-bit");                // 2-bit activations have 4 levels
  CHECK(conv.quantized_bits == 36 * 2 + 32 + 4 * 32);  // weights, one α, bias

  CHECK(s.layers[1].macs == 0);
  CHECK(s.layers[1].mac_precision.empty());
  CHECK(s.layers[2].output_shape == Shape{784});

  const LayerSummary& bin = s.layers[3];
  CHECK(bin.macs == 7840);
  CHECK(bin.mac_precision == "binary");
  CHECK(bin.quantized_bits == 7840 + 10 * 32 + 10 * 32);  // weights, α per filter, bias

  const LayerSummary& ter = s.layers[4];
  CHECK(ter.mac_precision == "ternary");
  CHECK(ter.params == 112);  // weight, bias, wp, wn
  CHECK(ter.quantized_bits == 100 * 2 + 10 * 32 + 2 * 32);

  const LayerSummary& fp = s.layers[5];
  CHECK(fp.mac_precision == "float");
  CHECK(fp.weight_bits == 32);
  CHECK(fp.input_quantizer.empty());

  CHECK(s.params == 40 + 7850 + 112 + 110);
  CHECK(s.macs.binary == 7840);
  CHECK(s.macs.ternary == 100);
  CHECK(s.macs.kbit == 28224);
  CHECK(s.macs.floating == 100);
  CHECK(s.float32_bits == 32 * s.params);
  CHECK(s.quantized_bits == 232 + 8480 + 584 + 3520);
  CHECK(s.compression_ratio() == doctest::Approx(259584.0 / 12816.0));

  const json j = summary_to_json(s);
  CHECK(j["layers"].size() == 6);
  CHECK(j["layers"][0]["weight_quantizer"] == "twn");
  CHECK(j["layers"][5]["weight_quantizer"].is_null());
  CHECK(j["totals"]["macs"]["binary"] == 7840);
  CHECK(j["totals"]["macs"]["total"] == 7840 + 100 + 28224 + 100);
  CHECK(j["totals"]["params"] == s.params);
  CHECK(j["totals"]["compression_ratio"].get<double>() == doctest::Approx(s.compression_ratio()));
  CHECK(j["input_shape"] == json::array({1, 28, 28}));

  std::ostringstream os;
  print_summary(os, s);
  const std::string text = os.str();
  CHECK(text.find("quant_conv2d") != std::string::npos);
  CHECK(text.find("binary 7,840") != std::string::npos);
  CHECK(text.find("compression 20.25x") != std::string::npos);
}

TEST_CASE("summary of a full-precision model and a bad input shape") {
  Rng rng(2);
  ModulePtr net = make_module(json::parse(R"([{"type": "flatten"},
      {"type": "linear", "in_features": 12, "out_features": 5}])"),
                              rng);
  ModelSummary s = summarize(*net, {3, 4});
  CHECK(s.macs.floating == 60);
  CHECK(s.compression_ratio() == doctest::Approx(1.0));
  CHECK_THROWS_AS(summarize(*net, {3, 5}), Error);
}
