#include "core/json_file.h"

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "core/check.h"
#include "core/json_args.h"
#include "core/serialize.h"

namespace lowbit {

using nlohmann::json;

namespace {

// "line:col" of a byte offset (1-based, as editors count).
std::string line_col(std::string_view text, size_t byte) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

// Builds the DOM with nlohmann's own SAX DOM builder while tracking where it is (JSON path,
// depth, the keys of each open object), so limits are enforced before a value exists.
class CheckedSax {
 public:
  CheckedSax(json& root, std::string_view text, const std::string& source)
      : dom_(root, true), text_(text), source_(source) {}

  bool null() { return scalar(), dom_.null(); }
  bool boolean(bool v) { return scalar(), dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return scalar(), dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return scalar(), dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const std::string& s) {
    return scalar(), dom_.number_float(v, s);
  }
  bool string(std::string& v) { return scalar(), dom_.string(v); }
  bool binary(json::binary_t& v) { return scalar(), dom_.binary(v); }

  bool start_object(std::size_t n) { return open(true), dom_.start_object(n); }
  bool start_array(std::size_t n) { return open(false), dom_.start_array(n); }
  bool end_object() { return close(), dom_.end_object(); }
  bool end_array() { return close(), dom_.end_array(); }

  bool key(std::string& k) {
    Frame& f = stack_.back();
    f.key = k;
    if (!f.keys.insert(k).second)
      LB_FAIL(source_, ": duplicate key \"", k, "\" at ", path(),
              " (a key may appear once per object; JSON readers disagree on which one wins)");
    return dom_.key(k);
  }

  bool parse_error(std::size_t byte, const std::string& token, const nlohmann::detail::exception& e) {
    const std::string where = source_ + ":" + line_col(text_, byte);
    if (e.id == 406)  // out_of_range: number overflow (1e309)
      LB_FAIL(where, ": number ", brief(token), " at ", path_or_top(),
              " is out of range (a double holds magnitudes up to about 1.8e308)");
    std::string what = e.what();
    if (auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
    LB_FAIL(where, ": invalid JSON: ", what);
  }

 private:
  struct Frame {
    bool is_object = false;
    size_t index = 0;  // arrays: the element being read
    std::string key;   // objects: the key being read
    std::unordered_set<std::string> keys;
  };

  static std::string brief(const std::string& s) {
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
  }

  // JSON path of the value being read ("" at the top level).
  std::string path() const {
    std::string p;
    for (const Frame& f : stack_) {
      p = f.is_object ? json_path(p, f.key) : json_path(p, f.index);
      if (p.size() > 200) return p.substr(0, 200) + "...";
    }
    return p;
  }
  std::string path_or_top() const {
    const std::string p = path();
    return p.empty() ? std::string("the top level") : p;
  }

  void scalar() { after_value(); }
  void open(bool is_object) {
    if (stack_.size() >= static_cast<size_t>(kMaxJsonDepth))
      LB_FAIL(source_, ": JSON nested deeper than ", kMaxJsonDepth, " levels at ", path(),
              " (arrays and objects inside each other; lowbit's files nest a few levels)");
    stack_.push_back(Frame{is_object, 0, {}, {}});
  }
  void close() {
    stack_.pop_back();
    after_value();
  }
  // A value of the enclosing array is done: the next one has the next index. Scalars are
  // counted before they are handed on, which is fine: nothing fails between the two.
  void after_value() {
    if (!stack_.empty() && !stack_.back().is_object) ++stack_.back().index;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::string_view text_;
  const std::string& source_;
  std::vector<Frame> stack_;
};

}  // namespace

json parse_json(std::string_view text, const std::string& source) {
  json root;
  CheckedSax sax(root, text, source);
  json::sax_parse(text.begin(), text.end(), &sax);
  return root;
}

int64_t json_int(const json& v, int64_t lo, int64_t hi, const std::string& what) {
  bool ok = false;
  int64_t x = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    ok = u <= static_cast<uint64_t>(INT64_MAX);
    x = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    ok = true;
    x = v.get<int64_t>();
  }
  LB_CHECK(ok && x >= lo && x <= hi, what, ": expected an integer in [", lo, ", ", hi, "], got ",
           json_brief(v));
  return x;
}

json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

}  // namespace lowbit
