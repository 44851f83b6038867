#include "experiment/run_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "core/json_file.h"

namespace lowbit {

using nlohmann::json;

RunPaths::RunPaths(std::string d)
    : dir(std::move(d)),
      config(dir + "/config.json"),
      log(dir + "/log.jsonl"),
      metrics(dir + "/metrics.json"),
      model(dir + "/model.safetensors"),
      checkpoint(dir + "/checkpoint.safetensors"),
      best_val(dir + "/best_val.safetensors") {}

void write_json_atomic(const std::string& path, const json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

std::vector<json> read_log(const std::string& path) {
  std::vector<json> lines;
  if (!std::filesystem::exists(path)) return lines;
  std::istringstream in(read_file(path));
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    try {
      lines.push_back(parse_json(line, "line " + std::to_string(n)));
    } catch (const Error& e) {
      LB_FAIL(path, ":", n, ": not a JSON line: ", e.what());
    }
  }
  return lines;
}

void write_log(const std::string& path, const std::vector<json>& lines) {
  std::string text;
  for (const json& l : lines) text += l.dump() + "\n";
  write_file_atomic(path, text);
}

void save_checkpoint(const std::string& path, const NamedTensors& tensors, const CheckpointState& state) {
  const json meta = {{"format", "lowbit-checkpoint-1"}, {"epoch", state.epoch},
                     {"next_batch", state.next_batch}, {"extra", state.extra}};
  save_safetensors(path, tensors, {{"lowbit", meta.dump()}});
}

NamedTensors load_checkpoint(const std::string& path, CheckpointState& state) {
  return parse_checkpoint(read_file(path), path, state);
}

NamedTensors parse_checkpoint(std::string_view bytes, const std::string& path,
                              CheckpointState& state) {
  std::map<std::string, std::string> meta;
  NamedTensors tensors = parse_safetensors(bytes, path, &meta);
  LB_CHECK(meta.count("lowbit"), path, ": not a lowbit checkpoint (no \"lowbit\" metadata)");
  try {
    const json m = parse_json(meta.at("lowbit"), path + " (checkpoint metadata)");
    LB_CHECK(m.at("format") == "lowbit-checkpoint-1", path, ": unsupported checkpoint format ",
             m.at("format").dump());
    state.epoch = json_int(m.at("epoch"), 0, INT64_MAX, path + ": checkpoint epoch");
    state.next_batch = json_int(m.at("next_batch"), 0, INT64_MAX, path + ": checkpoint next_batch");
    state.extra = m.at("extra");
  } catch (const json::exception& e) {
    LB_FAIL(path, ": bad checkpoint metadata: ", e.what());
  }
  return tensors;
}

NamedTensors with_prefix_removed(const NamedTensors& all, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

void append_with_prefix(NamedTensors& out, const NamedTensors& tensors, const std::string& prefix) {
  for (const auto& [name, t] : tensors) out.emplace_back(prefix + name, t);
}

}  // namespace lowbit
