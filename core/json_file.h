#pragma once
/// JSON from outside (experiment files, run folders, file headers), parsed with the limits
/// that keep a hostile or mistaken file from crashing lowbit or being half-understood:
///
///   nlohmann::json cfg = read_json_file("experiments/mnist/lenet5.json");
///   nlohmann::json meta = parse_json(header_bytes, "model.lbp");
///
/// Every problem is a lowbit::Error naming the source and, where it applies, the line and
/// column and the JSON path of the value:
///   - syntax errors:            `lenet5.json:3:7: invalid JSON: ...`
///   - nesting deeper than kMaxJsonDepth arrays/objects (nlohmann's dump, copy and compare
///     recurse, so a value nested 100,000 deep would overflow the stack later):
///                               `x.json:1:102: JSON nested deeper than 100 levels at a[0][0]...`
///   - a key twice in one object (nlohmann keeps the last silently):
///                               `x.json: duplicate key "epochs" at train.epochs`
///   - a number out of the double range (1e309):
///                               `x.json:4:18: number 1e309 at train.lr is out of range ...`
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lowbit {

/// Arrays and objects nested deeper than this are rejected. Real configs nest < 10 levels.
inline constexpr int kMaxJsonDepth = 100;

/// Parses `text`; `source` (a file name, "--set train.lr", ...) starts every error message.
nlohmann::json parse_json(std::string_view text, const std::string& source);

/// `v` when it is a JSON integer in [lo, hi]; else throws lowbit::Error "<what>: expected an
/// integer in [lo, hi], got <value>". For file formats' numbers: nlohmann's get<int64_t>()
/// converts a float or an out-of-range integer silently (undefined behaviour for 1e300).
int64_t json_int(const nlohmann::json& v, int64_t lo, int64_t hi, const std::string& what);

/// parse_json of the whole file; a file that cannot be read is an error naming it.
nlohmann::json read_json_file(const std::string& path);

}  // namespace lowbit
