// core/json_file: JSON from outside is parsed with a depth limit, duplicate keys and
// out-of-range numbers rejected, and every error names the source, line:column and JSON path.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/json_args.h"
#include "core/json_file.h"
#include "tests/support/error_of.h"
#include "tests/support/temp_dir.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;
using nlohmann::json;

namespace {
std::string nested_objects(int depth, const std::string& inner = "1") {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "{\"a\":";
  s += inner;
  s += std::string(static_cast<size_t>(depth), '}');
  return s;
}
}  // namespace

TEST_CASE("parse_json: values nested 100,000 deep are rejected with the path, not a crash") {
  const std::string deep = "{\"name\": " + nested_objects(100000) + "}";
  const std::string e = error_of([&] { parse_json(deep, "deep.json"); });
  CHECK(contains(e, "deep.json"));
  CHECK(contains(e, "nested deeper than 100 levels"));
  CHECK(contains(e, "at name.a.a.a"));
  CHECK(e.size() < 600);  // the path is shortened
  // Arrays count the same.
  CHECK(contains(error_of([&] { parse_json(std::string(5000, '['), "a.json"); }), "a.json: JSON nested deeper"));
}

TEST_CASE("parse_json: the depth limit is exactly kMaxJsonDepth levels") {
  CHECK(parse_json(nested_objects(kMaxJsonDepth), "ok.json").is_object());
  CHECK(contains(error_of([&] { parse_json(nested_objects(kMaxJsonDepth + 1), "x.json"); }),
                 "nested deeper than 100"));
}

TEST_CASE("parse_json: duplicate keys name the source and the JSON path") {
  const std::string text = R"({"train": {"epochs": 3, "batch_size": 10, "epochs": 5}})";
  const std::string e = error_of([&] { parse_json(text, "cfg.json"); });
  CHECK(contains(e, "cfg.json: duplicate key \"epochs\" at train.epochs"));
  // Inside arrays too, with the index in the path; the same key in sibling objects is fine.
  CHECK(contains(error_of([&] { parse_json(R"({"l": [{"a": 1}, {"b": 1, "b": 2}]})", "c.json"); }),
                 "at l[1].b"));
  CHECK(parse_json(R"({"l": [{"a": 1}, {"a": 2}], "a": {"a": 3}})", "c.json")["l"][1]["a"] == 2);
}

TEST_CASE("parse_json: a number beyond the double range names the file, position and path") {
  const std::string text = "{\n  \"train\": {\"lr\": 1e309}\n}";
  const std::string e = error_of([&] { parse_json(text, "big.json"); });
  CHECK(contains(e, "big.json:2:"));
  CHECK(contains(e, "number 1e309 at train.lr is out of range"));
  CHECK(contains(error_of([&] { parse_json("[1, -1e400]", "n.json"); }), "at [1]"));
  CHECK(contains(error_of([&] { parse_json("1e309", "n.json"); }), "at the top level"));
  // Large integers beyond int64/uint64 are doubles, which is fine while they fit.
  CHECK(parse_json("[1e308, 99999999999999999999999]", "n.json")[0] == 1e308);
}

TEST_CASE("parse_json: syntax errors name the source, line and column") {
  const std::string e = error_of([&] { parse_json("{\n  \"a\": 1,\n  oops\n}", "s.json"); });
  CHECK(contains(e, "s.json:3:"));
  CHECK(contains(e, "invalid JSON"));
}

TEST_CASE("read_json_file: reads a file; a missing file is named") {
  lowbit::testing::TempDir tmp;
  std::ofstream(tmp / "a.json") << R"({"x": [1, 2]})";
  CHECK(read_json_file(tmp / "a.json")["x"][1] == 2);
  CHECK(contains(error_of([&] { read_json_file(tmp / "missing.json"); }), "missing.json"));
}

TEST_CASE("json_brief: a value nested 100,000 deep prints shortened, without recursing through it") {
  json v = 1;
  for (int i = 0; i < 100000; ++i) {  // built by moves: copying would recurse
    json outer = json::object();
    outer["k"] = std::move(v);
    v = std::move(outer);
  }
  const std::string b = json_brief(v);
  CHECK(b.size() == 60);
  CHECK(b.starts_with("{\"k\":{\"k\":"));
  CHECK(b.ends_with("..."));
  CHECK(json_brief(json::parse(R"({"a": [1, 2], "b": "x"})")) == R"({"a":[1,2],"b":"x"})");
  CHECK(json_brief(std::string(1000, 'x')).size() == 60);
}
