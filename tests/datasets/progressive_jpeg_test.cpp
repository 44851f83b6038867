// JPEG Huffman tables defined between scans (progressive JPEGs): valid files decode, tables
// that would overrun stb_image's are rejected naming the file (datasets/image_folder.cpp).
//
// tests/datasets/images/gradient_baseline.jpg: a 32x16 RGB gradient, `cjpeg -quality 90`
// (libjpeg-turbo 2.1.5). gradient_progressive.jpg: the same coefficients re-encoded without
// loss, `jpegtran -progressive -restart 1`: ten scans, a DHT segment before most of them and
// restart markers inside them.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/image_folder.h"
#include "fixtures.h"
#include "tests/support/error_of.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;

namespace {

const std::string kBaseline = "tests/datasets/images/gradient_baseline.jpg";
const std::string kProgressive = "tests/datasets/images/gradient_progressive.jpg";

/// Offsets of the markers 0xFF `code` that start segments, walking segments by their length
/// and skipping each scan's entropy-coded data (stuffed 0xFF 0x00 and restart markers).
std::vector<size_t> segments(const std::vector<uint8_t>& b, uint8_t code) {
  std::vector<size_t> found;
  size_t p = 2;
  while (p + 4 <= b.size() && b[p] == 0xFF && b[p + 1] != 0xD9) {
    const uint8_t marker = b[p + 1];
    if (marker == code) found.push_back(p);
    p += 2 + ((size_t{b[p + 2]} << 8) | b[p + 3]);
    if (marker == 0xDA)
      while (p + 1 < b.size() && !(b[p] == 0xFF && b[p + 1] != 0 && (b[p + 1] < 0xD0 || b[p + 1] > 0xD7)))
        ++p;
  }
  return found;
}

/// Offset of the first DHT segment after the first scan.
size_t huffman_table_after_first_scan(const std::vector<uint8_t>& b) {
  const size_t first_scan = segments(b, 0xDA).at(0);
  for (size_t p : segments(b, 0xC4))
    if (p > first_scan) return p;
  FAIL("no Huffman table after the first scan");
  return 0;
}

}  // namespace

TEST_CASE("progressive JPEG: tables defined between scans decode to the baseline's pixels") {
  const std::vector<uint8_t> progressive = test::read_file_bytes(kProgressive);
  REQUIRE(progressive.size() > 500);
  // The file is what this test is about: several scans, Huffman tables after the first one.
  CHECK(segments(progressive, 0xC2).size() == 1);  // start of frame, progressive
  CHECK(segments(progressive, 0xDA).size() == 10);
  CHECK(huffman_table_after_first_scan(progressive) > segments(progressive, 0xDA)[0]);

  const DecodedImage base = decode_image(test::read_file_bytes(kBaseline), kBaseline, 3);
  const DecodedImage prog = decode_image(progressive, kProgressive, 3);
  CHECK(prog.width == 32);
  CHECK(prog.height == 16);
  CHECK(prog.channels == 3);
  CHECK(prog.pixels == base.pixels);  // same coefficients, so the same pixels
  // Close to the gradient it was made from (red = 8x; 4:2:0 chroma costs a few levels).
  CHECK(std::abs(int(prog.pixels[8 * 32 + 20]) - 160) <= 16);

  // An image folder of it loads too.
  test::TempDir dir;
  test::write_file(dir / "train/a/0.jpg", progressive);
  ImageFolderOptions quiet;
  quiet.verbose = false;
  quiet.use_cache = false;
  CHECK(load_image_folder(dir.path(), "train", quiet).size() == 1);
}

TEST_CASE("progressive JPEG: a Huffman table of more than 256 codes after the first scan is rejected") {
  std::vector<uint8_t> b = test::read_file_bytes(kProgressive);
  const size_t dht = huffman_table_after_first_scan(b);
  // The segment keeps its length; its first table now declares 16 x 17 = 272 codes.
  for (size_t i = 0; i < 16; ++i) b[dht + 5 + i] = 17;
  const std::string e = error_of([&] { decode_image(b, "bad/progressive.jpg", 3); });
  CHECK(contains(e, "bad/progressive.jpg: cannot decode image (corrupt JPEG Huffman table of 272 "
                    "codes at byte " + std::to_string(dht + 4) + ")"));

  // The same in an image folder: the error names the file.
  test::TempDir dir;
  test::write_file(dir / "train/a/0.jpg", test::read_file_bytes(kProgressive));
  test::write_file(dir / "train/a/1.jpg", b);
  ImageFolderOptions quiet;
  quiet.verbose = false;
  CHECK(contains(error_of([&] { load_image_folder(dir.path(), "train", quiet); }),
                 dir / "train/a/1.jpg" + ": cannot decode image (corrupt JPEG Huffman table"));
  CHECK_FALSE(std::filesystem::exists(image_folder_cache_path(dir.path(), "train")));
}

TEST_CASE("JPEG: a Huffman segment whose length does not end on a table is checked past its end") {
  // stb reads tables while the declared length lasts: with one byte left after the first
  // table it reads the next table's header and counts from the bytes after the segment.
  std::vector<uint8_t> b = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 2 + 18 + 1};
  b.push_back(0x00);                                         // DC table 0:
  for (int i = 0; i < 16; ++i) b.push_back(i == 0 ? 1 : 0);  // one code of length 1,
  b.push_back(0x00);                                         // its value
  b.push_back(0x01);                              // the byte left: DC table 1's header
  for (int i = 0; i < 16; ++i) b.push_back(32);   // past the segment: 16 x 32 = 512 codes
  const std::string e = error_of([&] { decode_image(b, "short.jpg", 3); });
  CHECK(contains(e, "short.jpg: cannot decode image (corrupt JPEG Huffman table of 512 codes at byte 24)"));
}

TEST_CASE("JPEG: bytes that look like a Huffman table inside other segments or scan data are not one") {
  std::vector<uint8_t> b = test::read_file_bytes(kProgressive);
  const DecodedImage before = decode_image(b, kProgressive, 3);
  // A comment segment right after the start of image holding 0xFF 0xC4 and large counts: it is
  // skipped by its length, as stb skips it.
  std::vector<uint8_t> comment = {0xFF, 0xFE, 0x00, 2 + 20, 0xFF, 0xC4, 0x00, 0x13, 0x00};
  for (int i = 0; i < 15; ++i) comment.push_back(0xF0);
  b.insert(b.begin() + 2, comment.begin(), comment.end());
  const DecodedImage after = decode_image(b, kProgressive, 3);
  CHECK(after.pixels == before.pixels);
}

TEST_CASE("JPEG: a scan using a Huffman table no DHT segment defined is rejected before stb") {
  // stb_image 2.27 decodes such a scan with uninitialised table memory (a fuzz_image finding:
  // UBSan shift exponent 36 in stbi__grow_buffer_unsafe;
  // tests/fuzz_corpus/image/jpeg_scan_uses_undefined_huffman_table.jpg).
  for (const std::string& path : {kBaseline, kProgressive}) {
    CAPTURE(path);
    std::vector<uint8_t> b = test::read_file_bytes(path);
    CHECK_NOTHROW(decode_image(b, "good.jpg", 3));
    // Every AC table 0 is stored as AC table 3 instead, which no scan uses.
    int moved = 0;
    for (size_t p : segments(b, 0xC4)) {
      const size_t end = p + 2 + ((size_t{b[p + 2]} << 8) | b[p + 3]);
      for (size_t q = p + 4; q < end;) {
        size_t codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += b[q + i];
        if (b[q] == 0x10) b[q] = 0x13, ++moved;
        q += 17 + codes;
      }
    }
    REQUIRE(moved > 0);
    const std::string e = error_of([&] { decode_image(b, "bad/ac.jpg", 3); });
    CHECK(contains(e, "bad/ac.jpg: cannot decode image (corrupt JPEG: the scan at byte "));
    CHECK(contains(e, " uses AC Huffman table 0, which no DHT segment before it defines)"));
  }
}
