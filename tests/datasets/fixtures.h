#pragma once
// Test helpers: small files in real formats (IDX, gzip, CIFAR-10 binary records, PNG/JPEG
// via stb_image_write); TempDir comes from tests/support/temp_dir.h.
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace lowbit::test {

using testing::TempDir;

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

/// An unsigned-byte IDX file image: magic 0 0 8 ndims, big-endian dims, values.
inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims,
                                      const std::vector<uint8_t>& values) {
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(d >> shift));
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

/// One CIFAR-10 record: label, then 3072 pixels with value (seed + k) % 251.
inline std::vector<uint8_t> cifar_record(uint8_t label, int seed) {
  std::vector<uint8_t> r = {label};
  for (int k = 0; k < 3072; ++k) r.push_back(static_cast<uint8_t>((seed + k) % 251));
  return r;
}

/// Writes an image (H, W, C interleaved, as stb expects) as PNG or JPEG by extension.
inline void write_image(const std::string& path, int w, int h, int c,
                        const std::vector<uint8_t>& hwc) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const bool png = path.ends_with(".png");
  const int ok = png ? stbi_write_png(path.c_str(), w, h, c, hwc.data(), w * c)
                     : stbi_write_jpg(path.c_str(), w, h, c, hwc.data(), 100);
  if (!ok) throw std::runtime_error("cannot write " + path);
}

}  // namespace lowbit::test
