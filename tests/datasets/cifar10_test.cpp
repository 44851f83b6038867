#include <doctest/doctest.h>

#include "datasets/cifar10.h"
#include "datasets/registry.h"
#include "fixtures.h"
#include "tests/support/error_of.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;

namespace {
// data_batch_k holds k records; record r of batch k has label (k + r) % 10, seed 100k + r.
void write_batches(const std::string& dir) {
  for (int k = 1; k <= 5; ++k) {
    std::vector<uint8_t> bytes;
    for (int r = 0; r < k; ++r) {
      const auto rec = test::cifar_record(static_cast<uint8_t>((k + r) % 10), 100 * k + r);
      bytes.insert(bytes.end(), rec.begin(), rec.end());
    }
    test::write_file(dir + "/data_batch_" + std::to_string(k) + ".bin", bytes);
  }
  test::write_file(dir + "/test_batch.bin", test::cifar_record(9, 7));
}
}  // namespace

TEST_CASE("load_cifar10: official binary batches, records in file order, (3, 32, 32) pixels") {
  test::TempDir dir;
  write_batches(dir / "cifar-10-batches-bin");
  const InMemoryDataset train = load_cifar10(dir.path(), "train");
  CHECK(train.size() == 1 + 2 + 3 + 4 + 5);
  CHECK(train.image_shape() == Shape{3, 32, 32});
  CHECK(train.class_names() == cifar10_class_names());
  // Example 3 is record 0 of data_batch_3: label 3, pixel k = (300 + k) % 251, k = c*1024+y*32+x.
  const Example e = train.get(3);
  CHECK(e.label == 3);
  CHECK(e.image.at({0, 0, 0}) == doctest::Approx(300 % 251));
  CHECK(e.image.at({2, 5, 7}) == doctest::Approx((300 + 2 * 1024 + 5 * 32 + 7) % 251));
  CHECK(train.get(14).label == (5 + 4) % 10);
  const InMemoryDataset test_set = load_dataset("cifar10", dir.path(), "test");
  CHECK(test_set.size() == 1);
  CHECK(test_set.label(0) == 9);
}

TEST_CASE("load_cifar10: also finds the .bin files directly in root") {
  test::TempDir dir;
  write_batches(dir.path());
  CHECK(load_cifar10(dir.path(), "test").size() == 1);
}

TEST_CASE("load_cifar10_batches: truncated files and bad labels name the file and byte") {
  test::TempDir dir;
  auto bytes = test::cifar_record(1, 0);
  const auto second = test::cifar_record(2, 1);
  bytes.insert(bytes.end(), second.begin(), second.begin() + 100);
  test::write_file(dir / "cut.bin", bytes);
  const std::string cut = error_of([&] { load_cifar10_batches({dir / "cut.bin"}); });
  CHECK(contains(cut, dir / "cut.bin"));
  CHECK(contains(cut, "truncated at byte 3173"));
  CHECK(contains(cut, "record 1 has only 100 bytes"));

  auto bad = test::cifar_record(1, 0);
  const auto rec = test::cifar_record(10, 0);
  bad.insert(bad.end(), rec.begin(), rec.end());
  test::write_file(dir / "bad.bin", bad);
  const std::string label = error_of([&] { load_cifar10_batches({dir / "bad.bin"}); });
  CHECK(contains(label, dir / "bad.bin"));
  CHECK(contains(label, "label 10 at byte 3073 (record 1)"));

  test::write_file(dir / "empty.bin", {});
  CHECK(contains(error_of([&] { load_cifar10_batches({dir / "empty.bin"}); }), "empty file"));
}

TEST_CASE("load_cifar10: a missing batch or missing data gives the paths tried and the fix") {
  test::TempDir dir;
  write_batches(dir / "cifar-10-batches-bin");
  std::filesystem::remove(dir / "cifar-10-batches-bin/data_batch_4.bin");
  CHECK(contains(error_of([&] { load_cifar10(dir.path(), "train"); }), "data_batch_4.bin is missing"));

  test::TempDir empty;
  const std::string msg = error_of([&] { load_cifar10(empty.path(), "test"); });
  CHECK(contains(msg, empty / "cifar-10-batches-bin/test_batch.bin"));
  CHECK(contains(msg, empty / "cifar10-jpeg/test/"));
  CHECK(contains(msg, "scripts/get_data.sh"));
}

TEST_CASE("load_cifar10: the JPEG folder layout cifar10-jpeg/<split>/<class>/ gives the same labels") {
  test::TempDir dir;
  const auto& names = cifar10_class_names();
  for (size_t c = 0; c < names.size(); ++c) {
    std::vector<uint8_t> hwc(32 * 32 * 3, static_cast<uint8_t>(20 * c));
    test::write_image(dir / ("cifar10-jpeg/test/" + names[c] + "/0000.png"), 32, 32, 3, hwc);
  }
  ImageFolderOptions o;
  o.verbose = false;
  const InMemoryDataset d = load_cifar10(dir.path(), "test", o);
  REQUIRE(d.size() == 10);
  for (int64_t i = 0; i < 10; ++i) {
    CHECK(d.label(i) == i);  // one file per class: round-robin order is class order
    CHECK(d.get(i).image.at({1, 3, 4}) == doctest::Approx(20.f * static_cast<float>(i)));
  }
  // A folder that is not CIFAR-10 (wrong image size) is rejected.
  test::TempDir other;
  for (const auto& n : names)
    test::write_image(other / ("test/" + n + "/a.png"), 8, 8, 3, std::vector<uint8_t>(8 * 8 * 3));
  CHECK(contains(error_of([&] { load_cifar10(other.path(), "test", o); }), "is not CIFAR-10"));
}
