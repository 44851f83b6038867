#include "core/json_args.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "core/check.h"

namespace lowbit {

using nlohmann::json;

std::string json_path(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string p = parent;
  p += '.';
  p += key;
  return p;
}

std::string json_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

namespace {
// Writes `v` compactly into `out`, stopping soon after `out` passes `limit` characters. Every
// nesting level adds at least one character, so the recursion is bounded by `limit` too: a
// value nested 100,000 deep (issue 14) costs a few dozen calls, not a stack overflow as
// json::dump would.
void write_brief(const json& v, std::string& out, size_t limit) {
  if (v.is_object() || v.is_array()) {
    const bool obj = v.is_object();
    out += obj ? '{' : '[';
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (out.size() > limit) return;
      if (!first) out += ',';
      first = false;
      if (obj) out += json(it.key()).dump() + ":";
      write_brief(it.value(), out, limit);
    }
    out += obj ? '}' : ']';
  } else if (v.is_string() && v.get_ref<const std::string&>().size() > limit) {
    out += json(v.get_ref<const std::string&>().substr(0, limit)).dump();
  } else {
    out += v.dump();
  }
}
}  // namespace

std::string json_brief(const json& value) {
  std::string s;
  write_brief(value, s, 60);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

double float_to_json(float v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::strtod(std::string(buf, res.ptr).c_str(), nullptr);
}

void json_fail(const std::string& path, const std::string& message) {
  if (path.empty()) throw Error(message);
  throw Error(path + ": " + message);
}

namespace {
std::string fmt_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

JsonArgs::JsonArgs(const json& object, std::string path) : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) json_fail(path_, "expected an object, got " + json_brief(object_));
}

const json* JsonArgs::find(std::string_view key) {
  known_.emplace(key);
  auto it = object_.find(std::string(key));
  return it == object_.end() ? nullptr : &*it;
}

bool JsonArgs::has(std::string_view key) { return find(key) != nullptr; }

void JsonArgs::allow(std::initializer_list<std::string_view> keys) {
  for (auto k : keys) known_.emplace(k);
}

const json* JsonArgs::get(std::string_view key) { return find(key); }

const json& JsonArgs::need(std::string_view key, const char* expected) {
  const json* v = find(key);
  if (!v) json_fail(path_of(key), std::string("missing required key (expected ") + expected + ")");
  return *v;
}

const json& JsonArgs::required(std::string_view key) { return need(key, "a value"); }

int64_t JsonArgs::to_int(std::string_view key, const json& v, const char* expected) const {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      json_fail(path_of(key), std::string("expected ") + expected + ", got " + json_brief(v));
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // 64.0 is accepted as 64; 1e300 and 0.5 are not.
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return static_cast<int64_t>(d);
  }
  json_fail(path_of(key), std::string("expected ") + expected + ", got " + json_brief(v));
}

double JsonArgs::to_number(std::string_view key, const json& v, const char* expected) const {
  if (v.is_number()) {
    const double d = v.get<double>();
    if (std::isfinite(d)) return d;
  }
  json_fail(path_of(key), std::string("expected ") + expected + ", got " + json_brief(v));
}

// ---- integers

int64_t JsonArgs::integer(std::string_view key) {
  return to_int(key, need(key, "an integer"), "an integer");
}
int64_t JsonArgs::integer(std::string_view key, int64_t def) {
  const json* v = find(key);
  return v ? to_int(key, *v, "an integer") : def;
}

int64_t JsonArgs::positive_int(std::string_view key) {
  constexpr const char* kWhat = "a positive integer";
  const json& v = need(key, kWhat);
  const int64_t i = to_int(key, v, kWhat);
  if (i <= 0) json_fail(path_of(key), std::string("expected ") + kWhat + ", got " + json_brief(v));
  return i;
}
int64_t JsonArgs::positive_int(std::string_view key, int64_t def) {
  return has(key) ? positive_int(key) : def;
}

int64_t JsonArgs::non_negative_int(std::string_view key) {
  constexpr const char* kWhat = "a non-negative integer";
  const json& v = need(key, kWhat);
  const int64_t i = to_int(key, v, kWhat);
  if (i < 0) json_fail(path_of(key), std::string("expected ") + kWhat + ", got " + json_brief(v));
  return i;
}
int64_t JsonArgs::non_negative_int(std::string_view key, int64_t def) {
  return has(key) ? non_negative_int(key) : def;
}

int64_t JsonArgs::int_in(std::string_view key, int64_t lo, int64_t hi) {
  const std::string what = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  const json& v = need(key, what.c_str());
  const int64_t i = to_int(key, v, what.c_str());
  if (i < lo || i > hi) json_fail(path_of(key), "expected " + what + ", got " + json_brief(v));
  return i;
}
int64_t JsonArgs::int_in(std::string_view key, int64_t lo, int64_t hi, int64_t def) {
  return has(key) ? int_in(key, lo, hi) : def;
}

std::vector<int64_t> JsonArgs::int_list(std::string_view key, int64_t min_value) {
  const std::string what = "a list of integers >= " + std::to_string(min_value);
  const json& v = need(key, what.c_str());
  if (!v.is_array()) json_fail(path_of(key), "expected " + what + ", got " + json_brief(v));
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string elem_path = json_path(path_of(key), i);
    const json& e = v[i];
    bool ok = e.is_number_integer() ||
              (e.is_number_float() && std::isfinite(e.get<double>()) &&
               e.get<double>() == std::floor(e.get<double>()) && std::fabs(e.get<double>()) < 9e15);
    if (ok && e.get<double>() < double(min_value)) ok = false;
    if (!ok)
      json_fail(elem_path,
                "expected an integer >= " + std::to_string(min_value) + ", got " + json_brief(e));
    out.push_back(e.is_number_integer() ? e.get<int64_t>() : static_cast<int64_t>(e.get<double>()));
  }
  return out;
}
std::vector<int64_t> JsonArgs::int_list(std::string_view key, int64_t min_value,
                                        std::vector<int64_t> def) {
  return has(key) ? int_list(key, min_value) : def;
}

// ---- numbers

double JsonArgs::number(std::string_view key) {
  return to_number(key, need(key, "a number"), "a number");
}
double JsonArgs::number(std::string_view key, double def) {
  const json* v = find(key);
  return v ? to_number(key, *v, "a number") : def;
}

double JsonArgs::positive(std::string_view key) {
  constexpr const char* kWhat = "a positive number";
  const json& v = need(key, kWhat);
  const double d = to_number(key, v, kWhat);
  if (!(d > 0))
    json_fail(path_of(key), std::string("expected ") + kWhat + ", got " + json_brief(v));
  return d;
}
double JsonArgs::positive(std::string_view key, double def) {
  return has(key) ? positive(key) : def;
}

double JsonArgs::non_negative(std::string_view key) {
  constexpr const char* kWhat = "a non-negative number";
  const json& v = need(key, kWhat);
  const double d = to_number(key, v, kWhat);
  if (!(d >= 0))
    json_fail(path_of(key), std::string("expected ") + kWhat + ", got " + json_brief(v));
  return d;
}
double JsonArgs::non_negative(std::string_view key, double def) {
  return has(key) ? non_negative(key) : def;
}

double JsonArgs::number_in(std::string_view key, double lo, double hi) {
  const std::string what = "a number in [" + fmt_number(lo) + ", " + fmt_number(hi) + "]";
  const json& v = need(key, what.c_str());
  const double d = to_number(key, v, what.c_str());
  if (!(d >= lo && d <= hi)) json_fail(path_of(key), "expected " + what + ", got " + json_brief(v));
  return d;
}
double JsonArgs::number_in(std::string_view key, double lo, double hi, double def) {
  return has(key) ? number_in(key, lo, hi) : def;
}

// ---- others

bool JsonArgs::boolean(std::string_view key) {
  const json& v = need(key, "true or false");
  if (!v.is_boolean()) json_fail(path_of(key), "expected true or false, got " + json_brief(v));
  return v.get<bool>();
}
bool JsonArgs::boolean(std::string_view key, bool def) { return has(key) ? boolean(key) : def; }

std::string JsonArgs::string(std::string_view key) {
  const json& v = need(key, "a string");
  if (!v.is_string()) json_fail(path_of(key), "expected a string, got " + json_brief(v));
  return v.get<std::string>();
}
std::string JsonArgs::string(std::string_view key, std::string def) {
  return has(key) ? string(key) : def;
}

std::string JsonArgs::choice(std::string_view key, const std::vector<std::string>& choices) {
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "\"" : ", \"") + c + "\"";
  const std::string what = "one of " + list;
  const json& v = need(key, what.c_str());
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
    const std::string near = closest_match(s, choices);
    json_fail(path_of(key), "expected " + what + ", got " + json_brief(v) +
                                (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
  }
  json_fail(path_of(key), "expected " + what + ", got " + json_brief(v));
}
std::string JsonArgs::choice(std::string_view key, const std::vector<std::string>& choices,
                             std::string def) {
  return has(key) ? choice(key, choices) : def;
}

const json* JsonArgs::object(std::string_view key) {
  const json* v = find(key);
  if (!v || v->is_null()) return nullptr;
  if (!v->is_object()) json_fail(path_of(key), "expected an object, got " + json_brief(*v));
  return v;
}

const json* JsonArgs::array(std::string_view key) {
  const json* v = find(key);
  if (!v || v->is_null()) return nullptr;
  if (!v->is_array()) json_fail(path_of(key), "expected a list, got " + json_brief(*v));
  return v;
}

std::string JsonArgs::known_keys() const {
  std::string s;
  for (const auto& k : known_) s += (s.empty() ? "" : ", ") + k;
  return s;
}

void JsonArgs::finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (known_.count(it.key())) continue;
    const std::vector<std::string> valid(known_.begin(), known_.end());
    const std::string near = closest_match(it.key(), valid);
    json_fail(path_of(it.key()),
              "unknown key" + (near.empty() ? std::string() : " (did you mean \"" + near + "\"?)") +
                  "; valid keys: " + (valid.empty() ? std::string("none") : known_keys()));
  }
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  // Optimal-string-alignment distance (Levenshtein + adjacent transpositions); a match must be
  // within a third of the word length (min 1, max 3).
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
          cur[j] = std::min(cur[j], prev2[j - 2] + 1);  // transposition ("adma" -> "adam")
      }
      std::swap(prev2, prev);
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  const size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  std::string best;
  size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const size_t d = distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

}  // namespace lowbit
