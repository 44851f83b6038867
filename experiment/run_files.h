#pragma once
/// The files of a run folder (docs/config.md, "Run folder"):
///   config.json        resolved config
///   log.jsonl          one line per finished epoch
///   metrics.json       final numbers
///   model.safetensors  parameters and buffers by dotted name (PyTorch-loadable)
///   checkpoint.safetensors  weights, optimizer state, RNG states, position; written every
///                      epoch and on Ctrl-C
///   best_val.safetensors  weights and buffers of the best-validation epoch so far (its epoch
///                      in the metadata), written before the checkpoint of that epoch: the
///                      test set is evaluated with them once, at the end
/// Every write goes through a temp file + rename: an interrupted write never leaves a
/// half-written file, and the previous version survives.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/serialize.h"

namespace lowbit {

struct RunPaths {
  explicit RunPaths(std::string dir);
  std::string dir, config, log, metrics, model, checkpoint, best_val;
};

/// Writes pretty JSON atomically.
void write_json_atomic(const std::string& path, const nlohmann::json& value);
/// Reads log.jsonl (missing file: empty); a malformed line names the file and line.
std::vector<nlohmann::json> read_log(const std::string& path);
/// Rewrites log.jsonl atomically with `lines`.
void write_log(const std::string& path, const std::vector<nlohmann::json>& lines);

/// Training position and everything besides tensors that a checkpoint holds.
struct CheckpointState {
  int64_t epoch = 0;       ///< epochs fully done
  int64_t next_batch = 0;  ///< first batch to run in epoch `epoch` (0: epoch boundary)
  nlohmann::json extra;    ///< trainer bookkeeping (best val, running sums, rng states)
};

/// Saves tensors + state as one safetensors file (state in __metadata__). Atomic.
void save_checkpoint(const std::string& path, const NamedTensors& tensors, const CheckpointState& state);
/// Loads a checkpoint; throws naming the file when it is not a lowbit checkpoint.
NamedTensors load_checkpoint(const std::string& path, CheckpointState& state);
/// The same from the file's bytes; `source` names them in errors.
NamedTensors parse_checkpoint(std::string_view bytes, const std::string& source,
                              CheckpointState& state);

/// Tensors whose names start with `prefix`, with the prefix removed.
NamedTensors with_prefix_removed(const NamedTensors& all, const std::string& prefix);
/// `tensors` renamed to prefix + name, appended to `out`.
void append_with_prefix(NamedTensors& out, const NamedTensors& tensors, const std::string& prefix);

}  // namespace lowbit
