#pragma once
// Private: pieces shared by QuantLinear and QuantConv2d (bodies in quant/quant_layer.cpp).
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/json_args.h"
#include "core/random.h"
#include "core/tensor.h"
#include "quant/quantizer.h"

namespace lowbit {
class Module;
}

namespace lowbit::detail {

/// Valid "weight_init" values of the quantized layers.
const std::vector<std::string>& quant_weight_inits();
/// Latent weight and bias initial values for `init` (bias undefined when !bias).
/// fan_in is the bias fan-in (in_features or C·K²).
void init_quant_weights(const std::string& init, const Shape& w_shape, int64_t fan_in, bool bias,
                        Rng& rng, Tensor& weight, Tensor& bias_out);
/// "clip_latent": null/absent -> 0 (none), else a positive number.
float read_clip_latent(JsonArgs& a);
nlohmann::json clip_latent_to_json(float clip);
/// The quantizer spec at `key` through make_quantizer (path "<a.path()>.<key>").
QuantizerPtr read_quantizer(JsonArgs& a, std::string_view key);
nlohmann::json quantizer_or_null(const QuantizerPtr& q);
/// w ← clamp(w, −c, c) in place.
void clamp_in_place(const Tensor& w, float c);
/// type(k=v, ...) on one line, like Module's default for a leaf.
void print_flat(std::ostream& os, std::string_view type, const nlohmann::json& config);

}  // namespace lowbit::detail
