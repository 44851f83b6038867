#pragma once
/// Named tensors in the safetensors format (JSON header + raw little-endian float32 data),
/// readable by PyTorch's `safetensors` package. Writes go to a temporary file that is then
/// renamed, so an existing file is never left half-written.
///
///   save_safetensors("model.safetensors", {{"0.weight", w}}, {{"format", "pt"}});
///   auto named = load_safetensors("model.safetensors");   // name -> Tensor
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lowbit {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// Writes `tensors` (F32) with optional string metadata (`__metadata__`). Atomic.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
/// Reads every F32 tensor; throws lowbit::Error naming the file and the problem (truncated,
/// bad header, unsupported dtype, offsets out of range).
NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata = nullptr);

/// Writes `bytes` to `path` through `path.tmp` + rename (atomic on POSIX).
void write_file_atomic(const std::string& path, const std::string& bytes);
/// Whole file as bytes; throws naming the file when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace lowbit
