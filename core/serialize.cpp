#include "core/serialize.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "core/json_file.h"

namespace lowbit {

// safetensors layout: u64 little-endian header size N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"k": "v"}}, then the raw data. Offsets are relative to the data start.
// This machine is little-endian (x86-64), so raw float bytes are already in file order.
static_assert(sizeof(float) == 4);

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, {{bytes.data(), bytes.size()}});
}

void write_file_atomic(const std::string& path,
                       const std::vector<std::pair<const void*, size_t>>& parts) {
  // Unique per process, so two processes writing one file (two runs building the same image
  // cache) do not share a temporary file; the last rename wins and both results are whole.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  LB_CHECK(f != nullptr, path, ": cannot create \"", tmp, "\": ", std::strerror(errno));
  bool ok = true;
  for (const auto& [data, size] : parts)
    ok = ok && (size == 0 || std::fwrite(data, 1, size, f) == size);
  ok = ok && std::fflush(f) == 0;
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    LB_FAIL(path, ": write failed (disk full?): ", std::strerror(write_errno ? write_errno : errno));
  }
  // rename fails when `path` is a directory, on another file system, not writable...: the
  // temporary file must not stay behind (issue 14: `eval --predictions DIR` left one).
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    LB_FAIL(path, ": cannot write it (rename from \"", tmp, "\" failed: ", std::strerror(err), ")");
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LB_CHECK(in.good(), path, ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    LB_CHECK(t.defined(), "save_safetensors: ", path, ": tensor \"", name, "\" is undefined");
    LB_CHECK(!header.contains(name), "save_safetensors: ", path, ": duplicate name \"", name, "\"");
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // the format pads the header with spaces
  std::string out;
  out.reserve(8 + json.size() + offset);
  const uint64_t n = json.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += json;
  for (const auto& [name, t] : tensors)
    out.append(reinterpret_cast<const char*>(t.data()), static_cast<size_t>(t.numel()) * sizeof(float));
  write_file_atomic(path, out);
}

int64_t checked_numel(const Shape& shape, int64_t max_numel, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    LB_CHECK(d >= 0, what, " has shape ", shape, " with a negative dimension");
    LB_CHECK(d == 0 || n <= max_numel / d, what, " has shape ", shape, ": more than ", max_numel,
             " elements (", max_numel, " fit in the data)");
    n *= d;
  }
  // A zero dimension makes the product 0 whatever follows; the later dims were still checked.
  return n;
}

NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  return parse_safetensors(read_file(path), path, metadata);
}

NamedTensors parse_safetensors(std::string_view bytes, const std::string& path,
                               std::map<std::string, std::string>* metadata) {
  LB_CHECK(bytes.size() >= 8, path, ": not a safetensors file (", bytes.size(), " bytes, truncated?)");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  LB_CHECK(n <= bytes.size() - 8, path, ": header of ", n, " bytes runs past the end of the ",
           bytes.size(), "-byte file (truncated or not safetensors)");
  const nlohmann::json header = parse_json(bytes.substr(8, n), path + " (safetensors header at byte 8)");
  LB_CHECK(header.is_object(), path, ": safetensors header is not a JSON object");
  const uint64_t data_start = 8 + n, data_size = bytes.size() - data_start;
  struct Entry {
    std::string name;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (metadata)
        for (const auto& [k, v] : info.items()) (*metadata)[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    try {
      const std::string dtype = info.at("dtype").get<std::string>();
      LB_CHECK(dtype == "F32", path, ": tensor \"", name, "\" has dtype ", dtype,
               "; lowbit reads F32 only");
      const std::string what = path + ": tensor \"" + name + "\"";
      Entry e{name, {}, 0, 0};
      const auto& shape = info.at("shape");
      LB_CHECK(shape.is_array(), what, ": shape is not a list");
      for (const auto& d : shape) e.shape.push_back(json_int(d, 0, INT64_MAX, what + " shape"));
      const auto& offsets = info.at("data_offsets");
      LB_CHECK(offsets.is_array() && offsets.size() == 2, what, ": data_offsets is not [begin, end]");
      e.begin = static_cast<uint64_t>(json_int(offsets[0], 0, INT64_MAX, what + " data_offsets"));
      e.end = static_cast<uint64_t>(json_int(offsets[1], 0, INT64_MAX, what + " data_offsets"));
      const int64_t numel = checked_numel(e.shape, static_cast<int64_t>(data_size / sizeof(float)),
                                          what);
      LB_CHECK(e.begin <= e.end && e.end <= data_size &&
                   e.end - e.begin == static_cast<uint64_t>(numel) * sizeof(float),
               path, ": tensor \"", name, "\" has data_offsets [", e.begin, ", ", e.end,
               "] inconsistent with shape ", e.shape, " or the ", data_size,
               " data bytes (truncated file?)");
      entries.push_back(std::move(e));
    } catch (const nlohmann::json::exception& ex) {
      LB_FAIL(path, ": bad header entry for \"", name, "\": ", ex.what());
    }
  }
  // Keep file order (the header's key order is lost by nlohmann::json; data offsets keep it).
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  NamedTensors out;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape);
    std::memcpy(t.data(), bytes.data() + data_start + e.begin, e.end - e.begin);
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace lowbit
