#pragma once
/// Named tensors in the safetensors format (JSON header + raw little-endian float32 data),
/// readable by PyTorch's `safetensors` package. Writes go to a temporary file that is then
/// renamed, so an existing file is never left half-written.
///
///   save_safetensors("model.safetensors", {{"0.weight", w}}, {{"format", "pt"}});
///   auto named = load_safetensors("model.safetensors");   // name -> Tensor
#include <map>
#include <string>
#include <string_view>
#include <utility>
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
/// The same from the file's bytes (fuzzing, in-memory files); `source` names them in errors.
NamedTensors parse_safetensors(std::string_view bytes, const std::string& source,
                               std::map<std::string, std::string>* metadata = nullptr);

/// The element count of a shape read from a file, checked: every dimension >= 0 and the
/// product at most `max_numel` (computed without overflow). Throws lowbit::Error
/// "<what> has shape ... " otherwise. For parsers: a shape from outside bytes must never
/// reach shape_numel (which would overflow) or Tensor::empty unchecked.
int64_t checked_numel(const Shape& shape, int64_t max_numel, const std::string& what);

/// True only in fuzzing builds (-DLB_FUZZ=ON defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION,
/// the convention of libFuzzer/OSS-Fuzz): files' checksums are computed but not enforced, so
/// the fuzzer's mutations reach the parsers behind them instead of stopping at the CRC.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
inline constexpr bool kFuzzingSkipsChecksums = true;
#else
inline constexpr bool kFuzzingSkipsChecksums = false;
#endif

/// Writes `bytes` to `path` through a temporary file in the same directory
/// (`path.tmp.<pid>`) + rename (atomic on POSIX). On any failure the temporary file is
/// removed and lowbit::Error names `path`; an existing `path` is left as it was.
void write_file_atomic(const std::string& path, const std::string& bytes);
/// The same for a file made of several byte ranges written one after the other.
void write_file_atomic(const std::string& path,
                       const std::vector<std::pair<const void*, size_t>>& parts);
/// Whole file as bytes; throws naming the file when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace lowbit
