#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/core.h"
#include "core/serialize.h"
#include "tests/support/error_of.h"
#include "tests/support/temp_dir.h"

using namespace lowbit;

TEST_CASE("safetensors: round trip keeps names, order, shapes, values and metadata") {
  const std::string path = (std::filesystem::temp_directory_path() / "lowbit_st_test.safetensors").string();
  Rng rng(3);
  NamedTensors in{{"b.weight", Tensor::uniform({3, 4}, rng)}, {"a.bias", Tensor::from_vector({2}, {1, -2})},
                  {"s", Tensor::scalar(5.f)}};
  save_safetensors(path, in, {{"format", "pt"}});
  std::map<std::string, std::string> meta;
  NamedTensors out = load_safetensors(path, &meta);
  REQUIRE(out.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(out[i].first == in[i].first);
    CHECK(out[i].second.shape() == in[i].second.shape());
    CHECK(out[i].second.to_vector() == in[i].second.to_vector());
  }
  CHECK(meta["format"] == "pt");
  // The header length is a multiple of 8 (format requirement for alignment).
  const std::string bytes = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  // Truncation is detected and names the file.
  write_file_atomic(path, bytes.substr(0, bytes.size() - 3));
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("lowbit_st_test.safetensors"), Error);
  write_file_atomic(path, "xx");
  CHECK_THROWS_AS(load_safetensors(path), Error);
  std::remove(path.c_str());
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("cannot open"), Error);
}

TEST_CASE("write_file_atomic: a failed write leaves no temporary file and the target as it was") {
  lowbit::testing::TempDir tmp;
  // The target is a directory (`lowbit eval RUN --predictions SOME_DIR`): rename fails.
  std::filesystem::create_directories(tmp / "dir");
  const std::string e = lowbit::testing::error_of([&] { write_file_atomic(tmp / "dir", std::string(1 << 20, 'x')); });
  CHECK(lowbit::testing::contains(e, tmp / "dir"));
  CHECK(lowbit::testing::contains(e, "cannot write it"));
  // A folder that does not exist: the temporary file cannot even be created.
  CHECK(lowbit::testing::contains(
      lowbit::testing::error_of([&] { write_file_atomic(tmp / "no/such/file", "x"); }), "cannot create"));
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    CHECK(entry.path().filename() == "dir");
    ++entries;
  }
  CHECK(entries == 1);
  CHECK(std::filesystem::is_empty(tmp / "dir"));
  // Success replaces the file whole.
  write_file_atomic(tmp / "f", "old");
  write_file_atomic(tmp / "f", {{"ne", 2}, {"w", 1}});
  CHECK(read_file(tmp / "f") == "new");
}

TEST_CASE("parse_safetensors: header JSON is depth-limited and bad entries name the tensor") {
  auto with_header = [](const std::string& json) {
    std::string s(8, '\0');
    const uint64_t n = json.size();
    std::memcpy(s.data(), &n, 8);
    return s + json;
  };
  std::string deep = "{\"__metadata__\": {\"k\": " + std::string(100000, '[') + "}}";
  CHECK(lowbit::testing::contains(lowbit::testing::error_of([&] { parse_safetensors(with_header(deep), "m.st"); }),
                                  "m.st (safetensors header at byte 8): JSON nested deeper"));
  const std::string bad = R"({"w": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 0]}})";
  CHECK(lowbit::testing::contains(lowbit::testing::error_of([&] { parse_safetensors(with_header(bad), "m.st"); }),
                                  "tensor \"w\""));
  const std::string big = R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 0]}})";
  CHECK(lowbit::testing::contains(lowbit::testing::error_of([&] { parse_safetensors(with_header(big), "m.st"); }),
                                  "tensor \"w\""));
  NamedTensors ok = parse_safetensors(with_header(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})") +
                                          std::string(4, '\0'), "m.st");
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].second.to_vector() == std::vector<float>{0.f});
}
