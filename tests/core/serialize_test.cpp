#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/core.h"
#include "core/serialize.h"

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
