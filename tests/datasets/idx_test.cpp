#include <doctest/doctest.h>

#include "datasets/idx.h"
#include "datasets/registry.h"
#include "fixtures.h"
#include "tests/support/error_of.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;

namespace {
// 3 images of 2x4 with pixel (n, y, x) = 10n + 4y + x, labels 7 0 3.
std::vector<uint8_t> tiny_pixels() {
  std::vector<uint8_t> v;
  for (int n = 0; n < 3; ++n)
    for (int k = 0; k < 8; ++k) v.push_back(static_cast<uint8_t>(10 * n + k));
  return v;
}
const std::vector<uint8_t> kLabels = {7, 0, 3};
}  // namespace

TEST_CASE("read_idx: raw and gzip files give the same dims and values") {
  test::TempDir dir;
  const auto bytes = test::idx_bytes({3, 2, 4}, tiny_pixels());
  test::write_file(dir / "a-idx3-ubyte", bytes);
  test::write_gzip(dir / "a-idx3-ubyte.gz", bytes);
  for (const char* name : {"a-idx3-ubyte", "a-idx3-ubyte.gz"}) {
    CAPTURE(name);
    const IdxArray a = read_idx(dir / name);
    CHECK(a.dims == std::vector<int64_t>{3, 2, 4});
    CHECK(a.values == tiny_pixels());
  }
}

TEST_CASE("load_idx_pair: images (N, H, W) + labels -> (1, H, W) examples") {
  test::TempDir dir;
  test::write_gzip(dir / "img.gz", test::idx_bytes({3, 2, 4}, tiny_pixels()));
  test::write_file(dir / "lab", test::idx_bytes({3}, kLabels));
  const InMemoryDataset d = load_idx_pair(dir / "img.gz", dir / "lab",
                                          {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  CHECK(d.size() == 3);
  CHECK(d.image_shape() == Shape{1, 2, 4});
  CHECK(d.num_classes() == 10);
  const Example e = d.get(2);
  CHECK(e.label == 3);
  CHECK(e.image.at({0, 1, 3}) == doctest::Approx(20 + 7));
  CHECK(e.image.at({0, 0, 0}) == doctest::Approx(20));
  CHECK(d.label(0) == 7);
}

TEST_CASE("read_idx: truncated, corrupt and malformed files name the file and the byte") {
  test::TempDir dir;
  auto bytes = test::idx_bytes({3, 2, 4}, tiny_pixels());  // 16 + 24 = 40 bytes
  SUBCASE("truncated pixels (raw)") {
    bytes.resize(30);
    test::write_file(dir / "t-idx3-ubyte", bytes);
    const std::string msg = error_of([&] { read_idx(dir / "t-idx3-ubyte"); });
    CHECK(contains(msg, dir / "t-idx3-ubyte"));
    CHECK(contains(msg, "truncated at byte 30"));
    CHECK(contains(msg, "expected 40 bytes"));
  }
  SUBCASE("truncated pixels (gzip of a short file)") {
    bytes.resize(30);
    test::write_gzip(dir / "t.gz", bytes);
    const std::string msg = error_of([&] { read_idx(dir / "t.gz"); });
    CHECK(contains(msg, dir / "t.gz"));
    CHECK(contains(msg, "truncated at byte 30 (decompressed)"));
  }
  SUBCASE("truncated gzip stream") {
    std::vector<uint8_t> big;
    for (int i = 0; i < 20000; ++i) big.push_back(static_cast<uint8_t>(i * 7919 % 256));
    test::write_gzip(dir / "full.gz", test::idx_bytes({20000}, big));
    auto gz = test::read_file_bytes(dir / "full.gz");
    gz.resize(gz.size() / 2);
    test::write_file(dir / "cut.gz", gz);
    const std::string msg = error_of([&] { read_idx(dir / "cut.gz"); });
    CHECK(contains(msg, dir / "cut.gz"));
    CAPTURE(msg);
    CHECK(contains(msg, "gzip"));
  }
  SUBCASE("header cut short") {
    bytes.resize(10);
    test::write_file(dir / "h", bytes);
    const std::string msg = error_of([&] { read_idx(dir / "h"); });
    CHECK(contains(msg, "truncated at byte 10"));
    CHECK(contains(msg, "16-byte header"));
  }
  SUBCASE("bad magic") {
    bytes[1] = 0x42;
    test::write_file(dir / "m", bytes);
    CHECK(contains(error_of([&] { read_idx(dir / "m"); }), "not an IDX file"));
  }
  SUBCASE("unsupported element type") {
    bytes[2] = 0x0D;  // float
    test::write_file(dir / "f", bytes);
    CHECK(contains(error_of([&] { read_idx(dir / "f"); }), "element type 0xd"));
  }
  SUBCASE("trailing bytes") {
    bytes.push_back(1);
    test::write_file(dir / "x", bytes);
    CHECK(contains(error_of([&] { read_idx(dir / "x"); }), "1 unexpected bytes after byte 40"));
  }
  SUBCASE("missing file") {
    const std::string msg = error_of([&] { read_idx(dir / "nope"); });
    CHECK(contains(msg, dir / "nope"));
    CHECK(contains(msg, "cannot open"));
  }
}

TEST_CASE("load_idx_pair: label range and count mismatches name the labels file") {
  test::TempDir dir;
  test::write_file(dir / "img", test::idx_bytes({3, 2, 4}, tiny_pixels()));
  SUBCASE("label out of range, with its byte offset") {
    test::write_file(dir / "lab", test::idx_bytes({3}, {1, 12, 2}));
    const std::string msg = error_of([&] { load_idx_pair(dir / "img", dir / "lab", {"a", "b", "c"}); });
    CHECK(contains(msg, dir / "lab"));
    CHECK(contains(msg, "label 12 at byte 9"));
  }
  SUBCASE("count mismatch") {
    test::write_file(dir / "lab", test::idx_bytes({2}, {1, 2}));
    const std::string msg = error_of([&] { load_idx_pair(dir / "img", dir / "lab", {"a", "b", "c"}); });
    CHECK(contains(msg, "2 labels"));
    CHECK(contains(msg, "3 images"));
  }
  SUBCASE("images file with the wrong rank") {
    test::write_file(dir / "lab", test::idx_bytes({3}, {0, 1, 2}));
    const std::string msg = error_of([&] { load_idx_pair(dir / "lab", dir / "lab", {"a", "b", "c"}); });
    CHECK(contains(msg, "3 dimensions"));
  }
}

TEST_CASE("load_mnist / load_fashion_mnist: MNIST file names, raw or .gz, train and test") {
  test::TempDir dir;
  test::write_gzip(dir / "train-images-idx3-ubyte.gz", test::idx_bytes({3, 2, 4}, tiny_pixels()));
  test::write_file(dir / "train-labels-idx1-ubyte", test::idx_bytes({3}, kLabels));
  const InMemoryDataset d = load_mnist(dir.path(), "train");
  CHECK(d.size() == 3);
  CHECK(d.class_names().front() == "0");
  CHECK(load_fashion_mnist(dir.path(), "train").class_names().back() == "ankle boot");
  // By name, the data must have MNIST's declared shape (1, 28, 28).
  CHECK(contains(error_of([&] { load_dataset("mnist", dir.path(), "train"); }),
                 "mnist train images have shape (1, 2, 4), but the data set declares (1, 28, 28)"));

  const std::string missing = error_of([&] { load_mnist(dir.path(), "test"); });
  CHECK(contains(missing, dir / "t10k-images-idx3-ubyte[.gz]"));
  CHECK(contains(missing, "scripts/get_data.sh"));
  CHECK(contains(error_of([&] { load_mnist(dir.path(), "val"); }), "train_val_split"));
}

TEST_CASE("parse_idx: dimensions whose product overflows are rejected before multiplying") {
  // Found by scripts/fuzz.sh idx (UBSan: signed overflow): 3 dimensions of ~2^29 .. 2^26.
  std::vector<uint8_t> bytes = {0, 0, 8, 3, 0x00, 0x00, 0x25, 0x00, 0x03, 0x00, 0x00, 0x00,
                                0x04, 0x00, 0x00, 0x00};
  const std::string e = lowbit::testing::error_of([&] { parse_idx(bytes, "x-idx3-ubyte"); });
  CHECK(lowbit::testing::contains(e, "x-idx3-ubyte: implausible IDX dimensions"));
}
