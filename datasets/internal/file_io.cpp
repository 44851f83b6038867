#include "datasets/internal/file_io.h"

#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/check.h"
#include "core/parallel.h"

namespace lowbit::detail {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  LB_CHECK(f != nullptr, path, ": cannot open: ", std::strerror(errno));
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, gzclose);
  gzbuffer(f, 1 << 20);
  std::vector<uint8_t> out;
  size_t used = 0;
  for (;;) {
    if (out.size() - used < (1u << 20)) out.resize(std::max<size_t>(out.size() * 2, 4u << 20));
    const unsigned want = static_cast<unsigned>(std::min<size_t>(out.size() - used, 1u << 30));
    const int got = gzread(f, out.data() + used, want);
    if (got > 0) used += static_cast<size_t>(got);
    // zlib reports a cut stream ("unexpected end of file") through gzerror, sometimes only
    // after returning the bytes it could decompress.
    int err = Z_OK;
    std::string msg = gzerror(f, &err);
    if (msg.starts_with(path + ": ")) msg.erase(0, path.size() + 2);  // zlib prefixes the path
    LB_CHECK(got >= 0 && err == Z_OK, path, ": corrupt or truncated gzip data after ", used,
             " decompressed bytes: ", msg, " (delete the file and run scripts/get_data.sh again)");
    if (got == 0) break;
  }
  out.resize(used);
  return out;
}

std::vector<uint8_t> read_raw(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  LB_CHECK(f != nullptr, path, ": cannot open: ", std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> guard(f, std::fclose);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  LB_CHECK(!ec, path, ": cannot get file size: ", ec.message());
  std::vector<uint8_t> out(static_cast<size_t>(size));
  const size_t got = out.empty() ? 0 : std::fread(out.data(), 1, out.size(), f);
  LB_CHECK(got == out.size(), path, ": read error at byte ", got, " of ", out.size());
  return out;
}

}  // namespace

std::vector<uint8_t> read_bytes(const std::string& path) {
  return ends_with(path, ".gz") ? read_gzip(path) : read_raw(path);
}

void write_bytes_atomic(const std::string& path, const void* data, size_t size) {
  write_parts_atomic(path, {{data, size}});
}

void write_parts_atomic(const std::string& path,
                        const std::vector<std::pair<const void*, size_t>>& parts) {
  // Unique per process, so two processes building the same cache do not write one temp file;
  // the last rename wins and both results are complete.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  LB_CHECK(f != nullptr, tmp, ": cannot create: ", std::strerror(errno));
  bool ok = true;
  for (const auto& [data, size] : parts)
    ok = ok && (size == 0 || std::fwrite(data, 1, size, f) == size);
  ok = ok && std::fflush(f) == 0;
  const int saved = errno;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    LB_FAIL(tmp, ": write failed: ", std::strerror(saved ? saved : errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    LB_FAIL(path, ": cannot rename ", tmp, " into place: ", std::strerror(err));
  }
}

uint64_t checksum64(const uint8_t* data, size_t size) {
  constexpr size_t kBlock = size_t{1} << 20;
  const int64_t n_blocks = static_cast<int64_t>((size + kBlock - 1) / kBlock);
  std::vector<uint64_t> block_hash(static_cast<size_t>(n_blocks));
  kernels::parallel_for(
      n_blocks,
      [&](int64_t b, int64_t e) {
        for (int64_t blk = b; blk < e; ++blk) {
          const uint8_t* p = data + static_cast<size_t>(blk) * kBlock;
          const size_t len = std::min(kBlock, size - static_cast<size_t>(blk) * kBlock);
          // Four independent lanes keep the multiplier pipeline busy.
          uint64_t h[4] = {mix64(static_cast<uint64_t>(blk)), 1, 2, 3};
          size_t i = 0;
          for (; i + 32 <= len; i += 32) {
            for (int l = 0; l < 4; ++l) {
              uint64_t w;
              std::memcpy(&w, p + i + 8 * l, 8);
              h[l] = (h[l] ^ w) * 0x9fb21c651e98df25ULL;
              h[l] ^= h[l] >> 29;
            }
          }
          uint64_t r = mix64(h[0]) ^ mix64(h[1] + 1) ^ mix64(h[2] + 2) ^ mix64(h[3] + 3);
          for (; i < len; ++i) r = (r ^ p[i]) * 0x100000001b3ULL;
          block_hash[static_cast<size_t>(blk)] = mix64(r ^ len);
        }
      },
      int64_t{1} << 20);
  uint64_t h = mix64(size);
  for (uint64_t bh : block_hash) h = mix64(h ^ bh);
  return h;
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

std::string first_existing(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates)
    if (is_file(c)) return c;
  return "";
}

}  // namespace lowbit::detail
