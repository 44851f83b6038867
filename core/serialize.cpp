#include "core/serialize.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"

namespace lowbit {

// safetensors layout: u64 little-endian header size N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"k": "v"}}, then the raw data. Offsets are relative to the data start.
// This machine is little-endian (x86-64), so raw float bytes are already in file order.
static_assert(sizeof(float) == 4);

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    LB_CHECK(out.good(), path, ": cannot open \"", tmp, "\" for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    LB_CHECK(out.good(), path, ": write failed (disk full?)");
  }
  LB_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": cannot rename \"", tmp,
           "\" into place: ", std::strerror(errno));
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

NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  const std::string bytes = read_file(path);
  LB_CHECK(bytes.size() >= 8, path, ": not a safetensors file (", bytes.size(), " bytes, truncated?)");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  LB_CHECK(n <= bytes.size() - 8, path, ": header of ", n, " bytes runs past the end of the ",
           bytes.size(), "-byte file (truncated or not safetensors)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  } catch (const nlohmann::json::exception& e) {
    LB_FAIL(path, ": bad safetensors header at byte 8: ", e.what());
  }
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
      Entry e{name, info.at("shape").get<Shape>(), info.at("data_offsets").at(0).get<uint64_t>(),
              info.at("data_offsets").at(1).get<uint64_t>()};
      LB_CHECK(e.begin <= e.end && e.end <= data_size &&
                   e.end - e.begin == static_cast<uint64_t>(shape_numel(e.shape)) * sizeof(float),
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
