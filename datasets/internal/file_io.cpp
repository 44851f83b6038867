#include "datasets/internal/file_io.h"

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
  std::vector<uint8_t> bytes = read_raw(path);
  return ends_with(path, ".gz") ? gunzip(bytes, path) : bytes;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& source) {
  z_stream z{};
  // 16 + MAX_WBITS: gzip wrapper (not zlib, not raw deflate).
  LB_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, source, ": zlib initialisation failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  std::vector<uint8_t> out(std::max<size_t>(in.size() * 4, 1u << 16));
  size_t used = 0;
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = 0;
  size_t fed = 0;
  const auto fail = [&](const char* why) {
    LB_FAIL(source, ": corrupt or truncated gzip data after ", used, " decompressed bytes: ", why,
            " (delete the file and run scripts/get_data.sh again)");
  };
  if (in.empty()) fail("empty file");
  for (;;) {
    if (z.avail_in == 0 && fed < in.size()) {  // zlib counts in uInt: feed <= 1 GiB at a time
      z.next_in = const_cast<Bytef*>(in.data() + fed);
      z.avail_in = static_cast<uInt>(std::min<size_t>(in.size() - fed, 1u << 30));
      fed += z.avail_in;
    }
    if (out.size() - used < (1u << 16)) out.resize(out.size() * 2);
    z.next_out = out.data() + used;
    z.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - used, 1u << 30));
    const uInt before = z.avail_out;
    const int rc = inflate(&z, Z_NO_FLUSH);
    used += before - z.avail_out;
    if (rc == Z_STREAM_END) {
      const size_t consumed = fed - z.avail_in;
      if (consumed == in.size()) break;
      // Another gzip member follows (gzip concatenates them); anything else is an error.
      if (in.size() - consumed < 2 || in[consumed] != 0x1f || in[consumed + 1] != 0x8b)
        fail("unexpected bytes after the end of the gzip stream");
      LB_CHECK(inflateReset(&z) == Z_OK, source, ": zlib reset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0 && fed == in.size()) fail("unexpected end of file");
    if (rc != Z_OK && rc != Z_BUF_ERROR) fail(z.msg ? z.msg : "inflate failed");
  }
  out.resize(used);
  return out;
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
