#include "datasets/image_folder.h"

#include <stb/stb_image.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>

#include "core/check.h"
#include "core/serialize.h"
#include "core/threads.h"
#include "datasets/internal/file_io.h"

namespace lowbit {

namespace fs = std::filesystem;

// The cache stores integers in host byte order; every machine we target is little-endian.
static_assert(std::endian::native == std::endian::little, "image cache assumes little-endian");

namespace {

constexpr char kMagic[8] = {'L', 'B', 'I', 'M', 'G', 'C', 'A', 'C'};
constexpr uint32_t kVersion = 1;

struct ImageFile {
  std::string path;  // full path, for reading and error messages
  std::string rel;   // <class>/<file>, for the fingerprint
  int64_t bytes = 0;
  int64_t mtime_ns = 0;
  int32_t label = 0;
};

struct Listing {
  std::vector<std::string> classes;
  std::vector<ImageFile> files;  // in example order (round-robin over classes)
  uint64_t fingerprint = 0;
};

bool is_image_name(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp";
}

uint64_t hash_string(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ULL;
  return h;
}

Listing list_images(const std::string& dir) {
  std::error_code ec;
  LB_CHECK(fs::is_directory(dir, ec), "load_image_folder: ", dir, " is not a directory; expected ",
           "<root>/<split>/<class>/*.jpg|png");
  Listing out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name[0] != '.' && entry.is_directory()) out.classes.push_back(name);
  }
  std::sort(out.classes.begin(), out.classes.end());
  LB_CHECK(!out.classes.empty(), "load_image_folder: ", dir, " has no class folders; expected ",
           "<root>/<split>/<class>/*.jpg|png");
  std::vector<std::vector<ImageFile>> per_class(out.classes.size());
  for (size_t c = 0; c < out.classes.size(); ++c) {
    const std::string class_dir = dir + "/" + out.classes[c];
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(class_dir)) {
      std::string name = entry.path().filename().string();
      if (is_image_name(name)) names.push_back(std::move(name));
    }
    LB_CHECK(!names.empty(), "load_image_folder: class folder ", class_dir, " has no .jpg, ",
             ".jpeg, .png or .bmp files");
    std::sort(names.begin(), names.end());
    for (auto& name : names) {
      ImageFile f;
      f.rel = out.classes[c] + "/" + name;
      f.path = dir + "/" + f.rel;
      struct ::stat st {};
      LB_CHECK(::stat(f.path.c_str(), &st) == 0, f.path, ": cannot stat: ", std::strerror(errno));
      f.bytes = st.st_size;
      f.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
      f.label = static_cast<int32_t>(c);
      per_class[c].push_back(std::move(f));
    }
  }
  // Round-robin over classes: a tail of the example order then covers every class.
  size_t longest = 0;
  for (const auto& v : per_class) longest = std::max(longest, v.size());
  for (size_t k = 0; k < longest; ++k)
    for (auto& v : per_class)
      if (k < v.size()) out.files.push_back(std::move(v[k]));
  uint64_t h = detail::mix64(kVersion);
  for (const auto& f : out.files) {
    h = detail::mix64(h ^ hash_string(f.rel));
    h = detail::mix64(h ^ static_cast<uint64_t>(f.bytes));
    h = detail::mix64(h ^ static_cast<uint64_t>(f.mtime_ns));
  }
  out.fingerprint = h;
  return out;
}

// ---- cache file
// Layout (little-endian):
//   magic[8] "LBIMGCAC", u32 version, u32 C, u32 H, u32 W, u64 count, u64 fingerprint,
//   u32 n_classes, n_classes x (u32 length, bytes), count x i32 label,
//   count*C*H*W pixel bytes, u64 checksum of everything before it.

struct CacheHeader {
  char magic[8];
  uint32_t version, c, h, w;
  uint64_t count, fingerprint;
  uint32_t n_classes;
};
constexpr size_t kHeaderBytes = 8 + 4 * 4 + 8 * 2 + 4;

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

uint64_t cache_checksum(const uint8_t* meta, size_t meta_size, const uint8_t* pixels,
                        size_t pixel_size) {
  return detail::mix64(detail::checksum64(meta, meta_size) ^
                       detail::mix64(detail::checksum64(pixels, pixel_size) + 1));
}

void write_cache(const std::string& path, const Listing& listing, const InMemoryDataset& d,
                 const std::vector<int32_t>& labels) {
  std::vector<uint8_t> meta(kMagic, kMagic + 8);
  const Shape s = d.image_shape();
  put(meta, kVersion);
  put(meta, static_cast<uint32_t>(s[0]));
  put(meta, static_cast<uint32_t>(s[1]));
  put(meta, static_cast<uint32_t>(s[2]));
  put(meta, static_cast<uint64_t>(labels.size()));
  put(meta, listing.fingerprint);
  put(meta, static_cast<uint32_t>(listing.classes.size()));
  for (const auto& name : listing.classes) {
    put(meta, static_cast<uint32_t>(name.size()));
    meta.insert(meta.end(), name.begin(), name.end());
  }
  const auto* label_bytes = reinterpret_cast<const uint8_t*>(labels.data());
  meta.insert(meta.end(), label_bytes, label_bytes + labels.size() * sizeof(int32_t));
  const uint8_t* pixels = d.pixels(0);
  const auto pixel_bytes = static_cast<size_t>(d.size() * d.example_numel());
  const uint64_t sum = cache_checksum(meta.data(), meta.size(), pixels, pixel_bytes);
  write_file_atomic(path, {{meta.data(), meta.size()}, {pixels, pixel_bytes}, {&sum, 8}});
}

// Returns the cached data set, or nullopt with `why` set when the cache cannot be used.
bool read_cache(const std::string& path, const Listing& listing, int channels,
                InMemoryDataset& out, std::string& why) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    why = "no cache file";
    return false;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> guard(f, std::fclose);
  struct ::stat st {};
  if (::fstat(fileno(f), &st) != 0) {
    why = "cannot stat the cache file";
    return false;
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  std::vector<uint8_t> meta(kHeaderBytes);
  if (std::fread(meta.data(), 1, kHeaderBytes, f) != kHeaderBytes) {
    why = "corrupt: truncated header";
    return false;
  }
  CacheHeader h{};
  const uint8_t* p = meta.data();
  std::memcpy(h.magic, p, 8);
  std::memcpy(&h.version, p + 8, 4);
  std::memcpy(&h.c, p + 12, 4);
  std::memcpy(&h.h, p + 16, 4);
  std::memcpy(&h.w, p + 20, 4);
  std::memcpy(&h.count, p + 24, 8);
  std::memcpy(&h.fingerprint, p + 32, 8);
  std::memcpy(&h.n_classes, p + 40, 4);
  if (std::memcmp(h.magic, kMagic, 8) != 0) {
    why = "corrupt: bad magic number";
    return false;
  }
  if (h.version != kVersion) {
    why = "made by cache version " + std::to_string(h.version) + ", this is version " +
          std::to_string(kVersion);
    return false;
  }
  if (h.fingerprint != listing.fingerprint || h.count != listing.files.size() ||
      h.n_classes != listing.classes.size()) {
    why = "stale: the image files changed since it was written";
    return false;
  }
  if (channels != 0 && h.c != static_cast<uint32_t>(channels)) {
    why = "has " + std::to_string(h.c) + " channels, " + std::to_string(channels) + " requested";
    return false;
  }
  if (h.c == 0 || h.h == 0 || h.w == 0 || h.c > 4 || h.h > 65536 || h.w > 65536) {
    why = "corrupt: bad image size";
    return false;
  }
  for (uint32_t k = 0; k < h.n_classes; ++k) {
    uint32_t len = 0;
    if (std::fread(&len, 4, 1, f) != 1 || len > 4096) {
      why = "corrupt: bad class name";
      return false;
    }
    put(meta, len);
    const size_t at = meta.size();
    meta.resize(at + len);
    if (std::fread(meta.data() + at, 1, len, f) != len) {
      why = "corrupt: truncated class names";
      return false;
    }
  }
  const uint64_t pixel_bytes = h.count * h.c * h.h * h.w;
  const uint64_t expected = meta.size() + h.count * 4 + pixel_bytes + 8;
  if (file_size != expected) {
    why = "corrupt: " + std::to_string(file_size) + " bytes, expected " + std::to_string(expected);
    return false;
  }
  const size_t labels_at = meta.size();
  meta.resize(labels_at + h.count * 4);
  std::vector<uint8_t> pixels(pixel_bytes);
  uint64_t sum = 0;
  if (std::fread(meta.data() + labels_at, 4, h.count, f) != h.count ||
      std::fread(pixels.data(), 1, pixel_bytes, f) != pixel_bytes || std::fread(&sum, 8, 1, f) != 1) {
    why = "corrupt: read error";
    return false;
  }
  if (sum != cache_checksum(meta.data(), meta.size(), pixels.data(), pixels.size())) {
    why = "corrupt: checksum mismatch";
    return false;
  }
  std::vector<int32_t> labels(h.count);
  std::memcpy(labels.data(), meta.data() + labels_at, h.count * 4);
  try {
    out = InMemoryDataset(std::move(pixels), std::move(labels),
                          {int64_t{h.c}, int64_t{h.h}, int64_t{h.w}}, listing.classes);
  } catch (const Error& e) {
    why = std::string("corrupt: ") + e.what();
    return false;
  }
  return true;
}

std::vector<uint8_t> read_small_file(const ImageFile& f) {
  std::vector<uint8_t> buf(static_cast<size_t>(f.bytes));
  std::FILE* fp = std::fopen(f.path.c_str(), "rb");
  LB_CHECK(fp != nullptr, f.path, ": cannot open: ", std::strerror(errno));
  const size_t got = buf.empty() ? 0 : std::fread(buf.data(), 1, buf.size(), fp);
  std::fclose(fp);
  LB_CHECK(got == buf.size(), f.path, ": read error at byte ", got, " of ", buf.size());
  return buf;
}

// stb_image 2.27 (Debian 12's libstb) writes past its 257-entry tables when a JPEG Huffman
// table (DHT segment) declares more than 256 codes, and decodes with uninitialised tables
// when a scan uses a table no DHT segment defined (both found by scripts/fuzz.sh image, UBSan).
// stb builds each table where it meets its DHT segment: before the first scan and, in
// progressive JPEGs (and baseline ones of several scans), between scans, where the tables of
// the next scan are defined. So the file is walked as stb reads it, start of image to end of
// image, and every table of every DHT segment is checked before stb sees the bytes.

/// Byte `i` as stb reads it: 0 past the end of the file.
uint8_t byte_at(const std::vector<uint8_t>& b, size_t i) { return i < b.size() ? b[i] : 0; }

/// The entropy-coded data of a scan runs from `p` to the next marker: 0xFF 0x00 is a stuffed
/// 0xFF, 0xFF 0xD0..0xD7 a restart marker inside the scan, 0xFF 0xFF fill. Returns where the
/// next marker's 0xFF is (the file's size when there is none).
size_t skip_entropy_coded_data(const std::vector<uint8_t>& b, size_t p) {
  while (p + 1 < b.size()) {
    if (b[p] != 0xFF) {
      ++p;
      continue;
    }
    const uint8_t next = b[p + 1];
    if (next != 0x00 && next != 0xFF && (next < 0xD0 || next > 0xD7)) return p;
    p += next == 0xFF ? 1 : 2;
  }
  return b.size();
}

/// The DHT segment whose marker is at `p`, as stb reads it: tables (class/id byte, 16 code
/// counts, the codes) while the declared length lasts, so a length that does not end on a
/// table makes stb read the next table's counts from past the segment's end.
/// Marks each table it reads in `defined[class][id]` (class 0 = DC, 1 = AC).
void check_huffman_segment(const std::vector<uint8_t>& b, size_t p, size_t length,
                           const std::string& source, bool (&defined)[2][4]) {
  int64_t left = static_cast<int64_t>(length) - 2;
  for (size_t q = p + 4; left > 0;) {
    const uint8_t table = byte_at(b, q);
    if ((table >> 4) > 1 || (table & 15) > 3) return;  // stb rejects the table header itself
    size_t codes = 0;
    for (size_t i = 1; i <= 16; ++i) codes += byte_at(b, q + i);
    LB_CHECK(codes <= 256, source, ": cannot decode image (corrupt JPEG Huffman table of ",
             codes, " codes at byte ", q, ")");
    defined[table >> 4][table & 15] = true;
    left -= static_cast<int64_t>(17 + codes);
    q += 17 + codes;
  }
}

/// The scan whose SOS marker is at `p` may use only Huffman tables defined before it. stb 2.27
/// does not check: it decodes with the never-written (uninitialised) table memory, whose
/// lengths can make its bit reader consume more bits than it holds (a fuzz_image finding:
/// UBSan "shift exponent 36" in stbi__grow_buffer_unsafe; valgrind: uninitialised reads).
/// Baseline scans use their components' DC and AC tables; progressive ones the DC tables
/// in a first DC scan (Ss = 0, Ah = 0), none in a DC refinement, the AC tables otherwise.
void check_scan_tables(const std::vector<uint8_t>& b, size_t p, bool progressive,
                       const bool (&defined)[2][4], const std::string& source) {
  const size_t components = byte_at(b, p + 4);
  const size_t after = p + 5 + 2 * components;  // Ss, Se, Ah/Al
  const bool uses_dc = !progressive || (byte_at(b, after) == 0 && (byte_at(b, after + 2) >> 4) == 0);
  const bool uses_ac = !progressive || byte_at(b, after) > 0;
  for (size_t i = 0; i < components; ++i) {
    const uint8_t tables = byte_at(b, p + 6 + 2 * i);
    const int dc = tables >> 4, ac = tables & 15;
    if (dc > 3 || ac > 3) return;  // stb rejects the scan header itself
    LB_CHECK(!uses_dc || defined[0][dc], source, ": cannot decode image (corrupt JPEG: the scan "
             "at byte ", p, " uses DC Huffman table ", dc, ", which no DHT segment before it defines)");
    LB_CHECK(!uses_ac || defined[1][ac], source, ": cannot decode image (corrupt JPEG: the scan "
             "at byte ", p, " uses AC Huffman table ", ac, ", which no DHT segment before it defines)");
  }
}

void check_jpeg_huffman_tables(const std::vector<uint8_t>& b, const std::string& source) {
  // stb takes any run of 0xFF fill bytes before the start-of-image marker 0xD8 (fourth
  // fuzz_image finding: a JPEG behind leading 0xFF bytes escaped this check).
  size_t p = 0;
  while (p < b.size() && b[p] == 0xFF) ++p;
  if (p == 0 || p >= b.size() || b[p] != 0xD8) return;  // not a JPEG
  ++p;
  bool defined[2][4] = {};
  bool progressive = false;
  while (p + 4 <= b.size()) {
    if (b[p] != 0xFF) {  // stb skips bytes between segments until the next 0xFF
      ++p;
      continue;
    }
    const uint8_t marker = b[p + 1];
    if (marker == 0xFF || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
      p += marker == 0xFF ? 1 : 2;  // fill byte, or a marker without a length
      continue;
    }
    if (marker == 0xD9) return;  // end of image
    const size_t length = (size_t{b[p + 2]} << 8) | b[p + 3];
    if (length < 2) return;  // stb reports this itself
    if (marker == 0xC2) progressive = true;
    if (marker == 0xC4) check_huffman_segment(b, p, length, source, defined);
    if (marker == 0xDA) check_scan_tables(b, p, progressive, defined, source);
    p += 2 + length;
    if (marker == 0xDA) p = skip_entropy_coded_data(b, p);  // start of scan: its data follows
  }
}

// stb_image reserves a PNG IDAT chunk's declared length (up to 1 GB) before it finds that the
// file ends sooner; under the fuzzer's AddressSanitizer that took 10 s for a 90-byte file.
// A chunk longer than the rest of the file is truncation, which stb rejects anyway.
constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

void check_png_chunk_lengths(const std::vector<uint8_t>& b, const std::string& source) {
  if (b.size() < 8 || !std::equal(kPngSignature, kPngSignature + 8, b.begin())) return;  // not a PNG
  bool seen_image_data = false;
  for (size_t p = 8; p + 8 <= b.size();) {
    const auto* type = reinterpret_cast<const char*>(b.data() + p + 4);
    if (std::memcmp(type, "IEND", 4) == 0) return;  // stb stops here, without reading its CRC
    const size_t len = (size_t{b[p]} << 24) | (size_t{b[p + 1]} << 16) | (size_t{b[p + 2]} << 8) | b[p + 3];
    LB_CHECK(len + 12 <= b.size() - p, source, ": cannot decode image (truncated PNG: the ",
             std::string(type, 4), " chunk at byte ", p, " declares ", len, " bytes, ", b.size() - p - 12,
             " are left)");
    // stb copies an IDAT chunk into a buffer it allocates only for data: an empty first one
    // has it memcpy to a null pointer (UBSan, fuzz_image).
    if (std::memcmp(type, "IDAT", 4) == 0) {
      LB_CHECK(len > 0 || seen_image_data, source, ": cannot decode image (empty first IDAT chunk at byte ",
               p, ", which stb_image cannot read)");
      seen_image_data = true;
    }
    p += len + 12;
  }
}

enum class ImageFormat { kJpeg, kPng, kBmp, kOther };

// The image folder takes .jpg, .jpeg, .png and .bmp files; their bytes must be one of those
// formats too, so stb's other decoders (TGA, PSD, GIF, HDR, PIC, PNM) never run: a 77-byte
// "TGA" had stb decode 2^26 pixels of nothing for 12 s under the fuzzer.
ImageFormat sniff_image_format(const std::vector<uint8_t>& b) {
  if (b.size() >= 8 && std::equal(kPngSignature, kPngSignature + 8, b.begin())) return ImageFormat::kPng;
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return ImageFormat::kBmp;
  size_t p = 0;
  while (p < b.size() && b[p] == 0xFF) ++p;  // stb takes fill bytes before the 0xD8 marker
  if (p > 0 && p < b.size() && b[p] == 0xD8) return ImageFormat::kJpeg;
  return ImageFormat::kOther;
}

uint32_t le32(const std::vector<uint8_t>& b, size_t i) {
  return i + 4 <= b.size() ? uint32_t{b[i]} | uint32_t{b[i + 1]} << 8 | uint32_t{b[i + 2]} << 16 | uint32_t{b[i + 3]} << 24 : 0;
}

// stb reads past the end of a file as zeros, so a file far shorter than its declared size
// would still have every pixel decoded. A JPEG codes each 8x8 block of its first component
// in at least one bit; an uncompressed BMP stores every row.
void check_declared_size_fits(ImageFormat f, const std::vector<uint8_t>& b, int w, int h,
                              const std::string& source) {
  if (f == ImageFormat::kJpeg) {
    const int64_t blocks = (int64_t{w} + 7) / 8 * ((int64_t{h} + 7) / 8);
    LB_CHECK(blocks <= 8 * static_cast<int64_t>(b.size()), source, ": cannot decode image (truncated JPEG: ",
             w, "x", h, " pixels need at least ", (blocks + 7) / 8, " bytes, the file has ", b.size(), ")");
  } else if (f == ImageFormat::kBmp) {
    const uint32_t header = le32(b, 14);
    const uint32_t bpp = header == 12 ? (le32(b, 24) & 0xFFFF) : (le32(b, 28) & 0xFFFF);
    const uint32_t compression = header == 12 ? 0 : le32(b, 30);
    if (compression == 1 || compression == 2) return;  // RLE: stb refuses it; it reads any other value as uncompressed
    const int64_t row = (int64_t{w} * bpp + 31) / 32 * 4;
    const int64_t need = int64_t{le32(b, 10)} + row * h;
    LB_CHECK(need <= static_cast<int64_t>(b.size()), source, ": cannot decode image (truncated BMP: ",
             w, "x", h, " pixels of ", bpp, " bits need ", need, " bytes, the file has ", b.size(), ")");
  }
}

}  // namespace

DecodedImage decode_image(const std::vector<uint8_t>& bytes, const std::string& source,
                          int channels) {
  LB_CHECK(channels == 0 || channels == 1 || channels == 3, "decode_image: channels must be 0 ",
           "(auto), 1 or 3, got ", channels);
  LB_CHECK(!bytes.empty(), source, ": cannot decode image (empty file)");
  LB_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), source,
           ": image file of ", bytes.size(), " bytes is too large to decode");
  const ImageFormat format = sniff_image_format(bytes);
  LB_CHECK(format != ImageFormat::kOther, source, ": cannot decode image (not a JPEG, PNG or BMP file)");
  if (format == ImageFormat::kJpeg) check_jpeg_huffman_tables(bytes, source);
  if (format == ImageFormat::kPng) check_png_chunk_lengths(bytes, source);
  const int size = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  LB_CHECK(stbi_info_from_memory(bytes.data(), size, &w, &h, &comp), source,
           ": cannot decode image (", stbi_failure_reason(), ")");
  // stb's info gives a top-down BMP's negative height, its decoder the positive one (a
  // negative height passed the pixel limit below: fuzz_image timeout).
  w = std::abs(w);
  h = std::abs(h);
  LB_CHECK(int64_t{w} * h <= kMaxImagePixels, source, ": image of ", w, "x", h,
           " pixels is larger than the ", kMaxImagePixels, " pixels lowbit decodes (corrupt header?)");
  check_declared_size_fits(format, bytes, w, h, source);
  const int c = channels != 0 ? channels : comp <= 2 ? 1 : 3;
  std::unique_ptr<stbi_uc, void (*)(void*)> img(
      stbi_load_from_memory(bytes.data(), size, &w, &h, &comp, c), stbi_image_free);
  LB_CHECK(img != nullptr, source, ": cannot decode image (", stbi_failure_reason(), ")");
  DecodedImage out{c, h, w, std::vector<uint8_t>(static_cast<size_t>(int64_t{c} * h * w))};
  // stb gives interleaved (H, W, C); we store channel-major (C, H, W).
  const int64_t plane = int64_t{h} * w;
  for (int ch = 0; ch < c; ++ch)
    for (int64_t k = 0; k < plane; ++k) out.pixels[static_cast<size_t>(ch * plane + k)] = img.get()[k * c + ch];
  return out;
}

std::string image_folder_cache_path(const std::string& root, const std::string& split) {
  return root + "/" + split + ".lowbit-cache";
}

InMemoryDataset load_image_folder(const std::string& root, const std::string& split,
                                  const ImageFolderOptions& options, ImageFolderReport* report) {
  LB_CHECK(options.channels == 0 || options.channels == 1 || options.channels == 3,
           "load_image_folder: channels must be 0 (auto), 1 or 3, got ", options.channels);
  LB_CHECK(!split.empty() && split.find('/') == std::string::npos,
           "load_image_folder: split must be a folder name such as \"train\", got \"", split, "\"");
  ImageFolderReport local;
  ImageFolderReport& rep = report ? *report : local;
  rep = {};
  const std::string dir = root + "/" + split;
  const Listing listing = list_images(dir);
  const std::string cache = image_folder_cache_path(root, split);
  if (options.use_cache) {
    InMemoryDataset cached;
    if (read_cache(cache, listing, options.channels, cached, rep.cache_note)) {
      rep.from_cache = true;
      return cached;
    }
  } else {
    rep.cache_note = "cache disabled";
  }

  const auto t0 = std::chrono::steady_clock::now();
  const auto n = static_cast<int64_t>(listing.files.size());
  if (options.verbose)
    std::clog << "lowbit: decoding " << n << " images in " << dir << " (" << rep.cache_note
              << ")" << std::endl;
  // The first image fixes the size and, for channels = 0, the channel count.
  const ImageFile& first = listing.files[0];
  const DecodedImage first_image = decode_image(read_small_file(first), first.path, options.channels);
  const int c = first_image.channels, w0 = first_image.width, h0 = first_image.height;
  const int64_t per_image = int64_t{c} * h0 * w0;
  std::vector<uint8_t> pixels(static_cast<size_t>(n * per_image));
  std::vector<int32_t> labels(static_cast<size_t>(n));

  std::mutex error_mutex;
  int64_t error_index = n;
  std::string error;
#pragma omp parallel for schedule(dynamic, 64) num_threads(num_threads())
  for (int64_t i = 0; i < n; ++i) {
    const ImageFile& f = listing.files[static_cast<size_t>(i)];
    labels[static_cast<size_t>(i)] = f.label;
    try {
      const DecodedImage img = decode_image(read_small_file(f), f.path, c);
      LB_CHECK(img.width == w0 && img.height == h0, f.path, ": image is ", img.width, "x",
               img.height, " but ", first.path, " is ", w0, "x", h0,
               "; all images of an image folder must have one size");
      std::copy(img.pixels.begin(), img.pixels.end(), pixels.begin() + i * per_image);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (i < error_index) {  // report the first bad file in example order, whatever the threads
        error_index = i;
        error = e.what();
      }
    }
  }
  if (error_index < n) throw Error(error);
  rep.decoded = n;

  InMemoryDataset d(std::move(pixels), labels, {c, h0, w0}, listing.classes);
  std::string cache_result = "not cached";
  if (options.use_cache) {
    try {
      write_cache(cache, listing, d, labels);
      cache_result = "cached to " + cache;
    } catch (const Error& e) {
      cache_result = std::string("not cached: ") + e.what();
    }
  }
  if (options.verbose) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::clog << "lowbit: decoded " << n << " images in " << s << " s; " << cache_result
              << std::endl;
  }
  return d;
}

}  // namespace lowbit
