#include "experiment/run_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/check.h"

namespace lowbit {

using nlohmann::json;

RunPaths::RunPaths(std::string d)
    : dir(std::move(d)),
      config(dir + "/config.json"),
      log(dir + "/log.jsonl"),
      metrics(dir + "/metrics.json"),
      model(dir + "/model.safetensors"),
      checkpoint(dir + "/checkpoint.safetensors") {}

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
      lines.push_back(json::parse(line));
    } catch (const json::parse_error& e) {
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
  std::map<std::string, std::string> meta;
  NamedTensors tensors = load_safetensors(path, &meta);
  LB_CHECK(meta.count("lowbit"), path, ": not a lowbit checkpoint (no \"lowbit\" metadata)");
  try {
    const json m = json::parse(meta.at("lowbit"));
    LB_CHECK(m.at("format") == "lowbit-checkpoint-1", path, ": unsupported checkpoint format ",
             m.at("format").dump());
    state.epoch = m.at("epoch").get<int64_t>();
    state.next_batch = m.at("next_batch").get<int64_t>();
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
