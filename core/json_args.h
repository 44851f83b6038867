#pragma once
/// JsonArgs: typed, path-aware reading of one JSON object (a layer spec, an optimizer spec,
/// a whole experiment section), for configs that fail before training starts with the JSON
/// path, the reason and the valid choices:
///
///   model.layers[3].out_features: expected a positive integer, got "64"
///   train.optimizer: unknown key "betas1"; valid keys: beta1, beta2, eps, lr, name
///
/// Usage: read every key the object may hold, then call finish(), which rejects any key
/// that was not read (or declared with allow()):
///
///   JsonArgs a(spec, "model.layers[3]");            // throws unless spec is an object
///   o.in_features = a.positive_int("in_features");   // required
///   o.bias = a.boolean("bias", true);                 // optional with default
///   o.p = a.number_in("p", 0.0, 1.0, 0.5);            // closed range
///   a.allow("type");                                  // consumed by the registry
///   a.finish();                                       // unknown keys -> Error
///
/// Every error is a lowbit::Error whose message starts with the dotted JSON path.
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

/// "model" + "layers" -> "model.layers"; "" + "seed" -> "seed".
std::string json_path(const std::string& parent, std::string_view key);
/// "model.layers" + 3 -> "model.layers[3]".
std::string json_path(const std::string& parent, size_t index);
/// Compact rendering of a value for messages: strings quoted, long values shortened.
std::string json_brief(const nlohmann::json& value);
/// A float as the double with the same shortest decimal form, so configs written back to
/// JSON read 1e-05 rather than 9.999999747378752e-06 (and still round-trip to the float).
double float_to_json(float v);
/// Throws lowbit::Error "<path>: <message>" (path omitted when empty).
[[noreturn]] void json_fail(const std::string& path, const std::string& message);

class JsonArgs {
 public:
  /// `object` must outlive this JsonArgs. Throws "<path>: expected an object, got ..."
  /// unless it is a JSON object.
  JsonArgs(const nlohmann::json& object, std::string path);
  /// A temporary would dangle: keep the JSON alive in a variable.
  JsonArgs(nlohmann::json&& object, std::string path) = delete;

  const std::string& path() const { return path_; }
  /// Path of one key: path() + "." + key.
  std::string path_of(std::string_view key) const { return json_path(path_, key); }
  /// True if the key is present (null counts as present). Marks it as known.
  bool has(std::string_view key);
  /// Marks keys as valid without reading them (e.g. "type", consumed by a registry).
  void allow(std::initializer_list<std::string_view> keys);
  /// The raw value or nullptr when absent; marks the key as known.
  const nlohmann::json* get(std::string_view key);

  // ---- integers (JSON integers, or floats with an integral value such as 64.0)
  int64_t integer(std::string_view key);
  int64_t integer(std::string_view key, int64_t def);
  /// > 0.
  int64_t positive_int(std::string_view key);
  int64_t positive_int(std::string_view key, int64_t def);
  /// >= 0.
  int64_t non_negative_int(std::string_view key);
  int64_t non_negative_int(std::string_view key, int64_t def);
  /// lo <= v <= hi.
  int64_t int_in(std::string_view key, int64_t lo, int64_t hi);
  int64_t int_in(std::string_view key, int64_t lo, int64_t hi, int64_t def);
  /// A list of integers, each >= min_value.
  std::vector<int64_t> int_list(std::string_view key, int64_t min_value);
  std::vector<int64_t> int_list(std::string_view key, int64_t min_value, std::vector<int64_t> def);

  // ---- numbers (JSON integers or floats)
  double number(std::string_view key);
  double number(std::string_view key, double def);
  /// > 0.
  double positive(std::string_view key);
  double positive(std::string_view key, double def);
  /// >= 0.
  double non_negative(std::string_view key);
  double non_negative(std::string_view key, double def);
  /// lo <= v <= hi (closed); use std::nextafter for an open end.
  double number_in(std::string_view key, double lo, double hi);
  double number_in(std::string_view key, double lo, double hi, double def);

  // ---- others
  bool boolean(std::string_view key);
  bool boolean(std::string_view key, bool def);
  std::string string(std::string_view key);
  std::string string(std::string_view key, std::string def);
  /// A string from `choices`; the error lists them.
  std::string choice(std::string_view key, const std::vector<std::string>& choices);
  std::string choice(std::string_view key, const std::vector<std::string>& choices,
                     std::string def);
  /// An object or nullptr when absent (null also counts as absent).
  const nlohmann::json* object(std::string_view key);
  /// An array or nullptr when absent (null also counts as absent).
  const nlohmann::json* array(std::string_view key);
  /// Any value, required.
  const nlohmann::json& required(std::string_view key);

  /// Throws on the first key that was neither read nor allowed, naming it (with a
  /// "did you mean" suggestion when a valid key is close) and listing the valid keys.
  void finish() const;

  /// Sorted valid keys (read or allowed so far), comma-separated.
  std::string known_keys() const;

 private:
  const nlohmann::json* find(std::string_view key);
  const nlohmann::json& need(std::string_view key, const char* expected);
  int64_t to_int(std::string_view key, const nlohmann::json& v, const char* expected) const;
  double to_number(std::string_view key, const nlohmann::json& v, const char* expected) const;

  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
};

/// The closest candidate to `word` by edit distance, or "" if none is close (for
/// "did you mean" hints).
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace lowbit
