#pragma once
// Private: option readers shared by the quantizer factories (on top of core/json_args.h).
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/json_args.h"
#include "quant/functions.h"

namespace lowbit::detail {

/// A straight-through clip value: a positive number, or null for no clipping (kNoClip).
inline float read_clip(JsonArgs& a, std::string_view key, float def) {
  const nlohmann::json* v = a.get(key);
  if (!v) return def;
  if (v->is_null()) return kNoClip;
  return static_cast<float>(a.positive(key));
}

/// Inverse of read_clip.
inline nlohmann::json clip_to_json(float v) {
  if (std::isinf(v)) return nullptr;
  return float_to_json(v);
}

/// "bits" in [lo, hi].
inline int read_bits(JsonArgs& a, int lo, int hi, int def) {
  return static_cast<int>(a.int_in("bits", lo, hi, def));
}

}  // namespace lowbit::detail
