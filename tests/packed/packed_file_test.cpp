// The packed container: round trip of metadata and blobs, and corruption detection (every
// flipped byte, truncation, trailing bytes, bad magic) with errors naming the file.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "packed/packed_file.h"
#include "core/check.h"
#include "core/serialize.h"

using namespace lowbit;
using namespace lowbit::packed;

namespace {

PackedFile sample() {
  PackedFile f;
  f.meta = {{"name", "sample"}, {"numbers", {1, 2, 3}}};
  const std::vector<uint64_t> words = {0x0123456789abcdefull, ~uint64_t{0}, 0, 42};
  f.add_blob("a.sign", BlobType::U64, {2, 2}, words.data());
  f.add_f32("a.scale", Tensor::from_vector({3}, {0.5f, -1.f, 3.25f}));
  const std::vector<int8_t> dir = {1, -1, 0};
  f.add_blob("t.dir", BlobType::I8, {3}, dir.data());
  f.add_f32("empty", Tensor::empty({0}));
  return f;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("lowbit_packed_test_" + std::to_string(getpid()) + "_" + name))
      .string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The message of the Error thrown by read_packed_file(path) ("" if none).
std::string read_error(const std::string& path) {
  try {
    read_packed_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("packed file: metadata and blobs round-trip through a file") {
  const std::string path = temp_path("roundtrip.lbp");
  const PackedFile f = sample();
  write_packed_file(path, f);
  const PackedFile g = read_packed_file(path);
  CHECK(g.source == path);
  CHECK(g.meta["name"] == "sample");
  CHECK(g.meta["numbers"] == nlohmann::json({1, 2, 3}));
  CHECK_FALSE(g.meta.contains("blobs"));
  REQUIRE(g.blobs.size() == f.blobs.size());
  for (size_t i = 0; i < f.blobs.size(); ++i) {
    CHECK(g.blobs[i].name == f.blobs[i].name);
    CHECK(g.blobs[i].type == f.blobs[i].type);
    CHECK(g.blobs[i].shape == f.blobs[i].shape);
    CHECK(g.blobs[i].bytes == f.blobs[i].bytes);
  }
  CHECK(g.f32("a.scale", 3).to_vector() == std::vector<float>{0.5f, -1.f, 3.25f});
  // Typed access checks dtype and size, naming the file.
  CHECK_THROWS_WITH_AS(g.blob("a.sign", BlobType::F32), doctest::Contains(path.c_str()), Error);
  CHECK_THROWS_WITH_AS(g.f32("a.scale", 4), doctest::Contains("expected 4"), Error);
  CHECK_THROWS_WITH_AS(g.f32("missing"), doctest::Contains("missing blob"), Error);
  // Same bytes when written again (deterministic format), and 64-byte aligned blobs.
  const std::string bytes = serialize_packed_file(f);
  CHECK(read_file(path) == bytes);
  CHECK(serialize_packed_file(g) == bytes);
  std::filesystem::remove(path);
}

TEST_CASE("packed file: every flipped byte is detected and names the file") {
  const std::string good = serialize_packed_file(sample());
  const std::string path = temp_path("corrupt.lbp");
  // In memory for every byte (parse_packed_file is what read_packed_file calls)...
  int detected = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    std::string msg;
    try {
      parse_packed_file(bad, path);
    } catch (const Error& e) {
      msg = e.what();
    }
    CAPTURE(at);
    CHECK(msg.rfind(path + ": ", 0) == 0);
    detected += !msg.empty();
  }
  CHECK(detected == static_cast<int>(good.size()));
  // ...and once through a real file: a flipped bit in a blob is a CRC mismatch.
  std::string bad = good;
  bad[bad.size() - 20] = static_cast<char>(bad[bad.size() - 20] ^ 0x01);
  write_bytes(path, bad);
  const std::string msg = read_error(path);
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find("corrupted") != std::string::npos);
  std::filesystem::remove(path);
}

TEST_CASE("packed file: truncation, trailing bytes and foreign files are errors") {
  const std::string good = serialize_packed_file(sample());
  const std::string path = temp_path("trunc.lbp");
  for (size_t keep : {size_t{0}, size_t{5}, size_t{31}, size_t{40}, good.size() / 2, good.size() - 1}) {
    write_bytes(path, good.substr(0, keep));
    const std::string msg = read_error(path);
    CAPTURE(keep);
    CHECK(msg.find(path) != std::string::npos);
    CHECK((msg.find("truncated") != std::string::npos || msg.find("bad magic") != std::string::npos));
  }
  write_bytes(path, good + "x");
  CHECK(read_error(path).find("trailing") != std::string::npos);
  write_bytes(path, "{\"this is\": \"json\"}");
  CHECK(read_error(path).find("not a lowbit packed model") != std::string::npos);
  std::string corrupt = good;
  corrupt[good.size() - 10] = static_cast<char>(corrupt[good.size() - 10] ^ 1);
  write_bytes(path, corrupt);
  CHECK(read_error(path).find("corrupted") != std::string::npos);
  std::filesystem::remove(path);
  CHECK(read_error(path).find(path) != std::string::npos);  // missing file
}
