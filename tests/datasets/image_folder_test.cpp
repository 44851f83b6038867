#include <doctest/doctest.h>

#include <cmath>

#include "datasets/image_folder.h"
#include "datasets/registry.h"
#include "fixtures.h"
#include "tests/support/error_of.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;

namespace {
constexpr int kW = 4, kH = 3;

// HWC pixels of image `id`: value (id * 31 + 7 * y + 3 * x + 50 * c) % 256.
std::vector<uint8_t> pattern(int id, int c_count = 3) {
  std::vector<uint8_t> v;
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x)
      for (int c = 0; c < c_count; ++c) v.push_back(static_cast<uint8_t>((id * 31 + 7 * y + 3 * x + 50 * c) % 256));
  return v;
}

// Checks example image (C, H, W) against pattern(id).
void check_pattern(const Example& e, int id) {
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x)
        REQUIRE(e.image.at({c, y, x}) == static_cast<float>((id * 31 + 7 * y + 3 * x + 50 * c) % 256));
}

// root/train/bird/{0,1}.png (ids 0, 1) and root/train/ant/{a,b,c}.png (ids 10, 11, 12).
void write_folder(const test::TempDir& dir) {
  for (int i = 0; i < 2; ++i)
    test::write_image(dir / ("train/bird/" + std::to_string(i) + ".png"), kW, kH, 3, pattern(i));
  for (int i = 0; i < 3; ++i)
    test::write_image(dir / ("train/ant/" + std::string(1, char('a' + i)) + ".png"), kW, kH, 3,
                      pattern(10 + i));
  test::write_file(dir / "train/ant/notes.txt", {'h', 'i'});  // not an image: ignored
}

ImageFolderOptions quiet() {
  ImageFolderOptions o;
  o.verbose = false;
  return o;
}
}  // namespace

TEST_CASE("load_image_folder: sorted classes, sorted files, round-robin order, exact PNG pixels") {
  test::TempDir dir;
  write_folder(dir);
  ImageFolderReport rep;
  const InMemoryDataset d = load_image_folder(dir.path(), "train", quiet(), &rep);
  CHECK(d.class_names() == std::vector<std::string>{"ant", "bird"});
  CHECK(d.image_shape() == Shape{3, kH, kW});
  REQUIRE(d.size() == 5);
  // Round-robin: ant/a, bird/0, ant/b, bird/1, ant/c.
  const int ids[] = {10, 0, 11, 1, 12};
  const int labels[] = {0, 1, 0, 1, 0};
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(d.label(i) == labels[i]);
    check_pattern(d.get(i), ids[i]);
  }
  CHECK_FALSE(rep.from_cache);
  CHECK(rep.decoded == 5);
  CHECK(rep.cache_note == "no cache file");
  CHECK(test::read_file_bytes(image_folder_cache_path(dir.path(), "train")).size() > 5 * 36);
}

TEST_CASE("load_image_folder: the cache is used, and rebuilt when corrupt, truncated or stale") {
  test::TempDir dir;
  write_folder(dir);
  const std::string cache = image_folder_cache_path(dir.path(), "train");
  CHECK(cache == dir / "train.lowbit-cache");
  load_image_folder(dir.path(), "train", quiet());

  ImageFolderReport rep;
  InMemoryDataset d = load_image_folder(dir.path(), "train", quiet(), &rep);
  CHECK(rep.from_cache);
  CHECK(rep.decoded == 0);
  CHECK(d.size() == 5);
  CHECK(d.class_names() == std::vector<std::string>{"ant", "bird"});
  check_pattern(d.get(3), 1);

  SUBCASE("a flipped pixel byte fails the checksum") {
    auto bytes = test::read_file_bytes(cache);
    bytes[bytes.size() - 20] ^= 0xff;
    test::write_file(cache, bytes);
    d = load_image_folder(dir.path(), "train", quiet(), &rep);
    CHECK_FALSE(rep.from_cache);
    CHECK(rep.cache_note == "corrupt: checksum mismatch");
    check_pattern(d.get(3), 1);
    load_image_folder(dir.path(), "train", quiet(), &rep);
    CHECK(rep.from_cache);  // rewritten
  }
  SUBCASE("a truncated cache") {
    auto bytes = test::read_file_bytes(cache);
    bytes.erase(bytes.end() - 9, bytes.end());
    test::write_file(cache, bytes);
    load_image_folder(dir.path(), "train", quiet(), &rep);
    CHECK_FALSE(rep.from_cache);
    CHECK(contains(rep.cache_note, "corrupt"));
  }
  SUBCASE("not a cache file") {
    test::write_file(cache, std::vector<uint8_t>(100, 'x'));
    load_image_folder(dir.path(), "train", quiet(), &rep);
    CHECK(rep.cache_note == "corrupt: bad magic number");
  }
  SUBCASE("a new image makes it stale") {
    test::write_image(dir / "train/bird/2.png", kW, kH, 3, pattern(2));
    d = load_image_folder(dir.path(), "train", quiet(), &rep);
    CHECK_FALSE(rep.from_cache);
    CHECK(contains(rep.cache_note, "stale"));
    CHECK(d.size() == 6);
    check_pattern(d.get(5), 2);
  }
  SUBCASE("a different channel request") {
    ImageFolderOptions o = quiet();
    o.channels = 1;
    d = load_image_folder(dir.path(), "train", o, &rep);
    CHECK_FALSE(rep.from_cache);
    CHECK(d.image_shape() == Shape{1, kH, kW});
  }
  SUBCASE("use_cache = false neither reads nor writes it") {
    std::filesystem::remove(cache);
    ImageFolderOptions o = quiet();
    o.use_cache = false;
    load_image_folder(dir.path(), "train", o, &rep);
    CHECK_FALSE(rep.from_cache);
    CHECK_FALSE(std::filesystem::exists(cache));
  }
  // No temporary files are left next to the data.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK_FALSE(contains(entry.path().filename().string(), ".tmp"));
}

TEST_CASE("load_image_folder: JPEG decodes close to the written pixels; grey images give C = 1") {
  test::TempDir dir;
  std::vector<uint8_t> flat(16 * 16 * 3);
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = i % 3 == 0 ? 200 : i % 3 == 1 ? 100 : 30;
  test::write_image(dir / "test/x/a.jpg", 16, 16, 3, flat);
  const InMemoryDataset d = load_image_folder(dir.path(), "test", quiet());
  REQUIRE(d.image_shape() == Shape{3, 16, 16});
  const Example e = d.get(0);
  CHECK(std::abs(e.image.at({0, 8, 8}) - 200.f) <= 4.f);
  CHECK(std::abs(e.image.at({1, 8, 8}) - 100.f) <= 4.f);
  CHECK(std::abs(e.image.at({2, 8, 8}) - 30.f) <= 4.f);

  test::TempDir grey;
  test::write_image(grey / "train/k/a.png", kW, kH, 1, pattern(3, 1));
  InMemoryDataset g = load_image_folder(grey.path(), "train", quiet());
  CHECK(g.image_shape() == Shape{1, kH, kW});
  CHECK(g.get(0).image.at({0, 2, 3}) == static_cast<float>((3 * 31 + 14 + 9) % 256));
  ImageFolderOptions rgb = quiet();
  rgb.channels = 3;
  g = load_image_folder(grey.path(), "train", rgb);
  CHECK(g.image_shape() == Shape{3, kH, kW});
  CHECK(g.get(0).image.at({2, 2, 3}) == static_cast<float>((3 * 31 + 14 + 9) % 256));
}

TEST_CASE("load_image_folder: corrupt images, mixed sizes and bad layouts name the file") {
  test::TempDir dir;
  write_folder(dir);
  SUBCASE("a corrupt JPEG") {
    test::write_file(dir / "train/bird/9.jpg", {0xFF, 0xD8, 0xFF, 0x00, 'n', 'o', 'p', 'e'});
    const std::string msg = error_of([&] { load_image_folder(dir.path(), "train", quiet()); });
    CHECK(contains(msg, dir / "train/bird/9.jpg"));
    CHECK(contains(msg, "cannot decode image"));
  }
  SUBCASE("an empty PNG") {
    test::write_file(dir / "train/ant/z.png", {});
    CHECK(contains(error_of([&] { load_image_folder(dir.path(), "train", quiet()); }),
                   dir / "train/ant/z.png"));
  }
  SUBCASE("an image of another size") {
    test::write_image(dir / "train/bird/5.png", 5, 5, 3, std::vector<uint8_t>(75));
    const std::string msg = error_of([&] { load_image_folder(dir.path(), "train", quiet()); });
    CHECK(contains(msg, dir / "train/bird/5.png"));
    CHECK(contains(msg, "5x5"));
  }
  SUBCASE("no split folder, empty class folder, bad options") {
    CHECK(contains(error_of([&] { load_image_folder(dir.path(), "test", quiet()); }),
                   "is not a directory"));
    std::filesystem::create_directories(dir / "train/empty");
    CHECK(contains(error_of([&] { load_image_folder(dir.path(), "train", quiet()); }),
                   "has no .jpg"));
    ImageFolderOptions o = quiet();
    o.channels = 2;
    CHECK(contains(error_of([&] { load_image_folder(dir.path(), "train", o); }), "channels"));
  }
  // A failed load writes no cache.
  CHECK_FALSE(std::filesystem::exists(image_folder_cache_path(dir.path(), "train")));
}
