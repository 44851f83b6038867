// The experiment, checkpoint and model-file parsers.
#include <string_view>

#include "compress/compressed_model.h"
#include "core/json_file.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/run_files.h"
#include "fuzz/parsers.h"
#include "packed/packed_file.h"
#include "packed/packed_model.h"

namespace lowbit::fuzz {

namespace {
std::string_view view(const std::vector<uint8_t>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
}  // namespace

const std::map<std::string, Parser>& model_parsers() {
  static const std::map<std::string, Parser> table = {
      // Experiment JSON -> validated config -> the experiment built without its data (model,
      // optimizer, schedule, transforms), exactly what `lowbit train` checks before any data.
      {"config",
       [](const std::vector<uint8_t>& b) {
         const nlohmann::json raw = parse_json(view(b), "fuzz.json");
         Experiment ex(parse_experiment(raw), /*load_data=*/false);
       }},
      {"checkpoint",
       [](const std::vector<uint8_t>& b) {
         CheckpointState state;
         parse_checkpoint(view(b), "checkpoint.safetensors", state);
       }},
      {"packed",
       [](const std::vector<uint8_t>& b) {
         packed::PackedModel::from_file(packed::parse_packed_file(std::string(view(b)), "fuzz.lbp"));
       }},
      {"compressed",
       [](const std::vector<uint8_t>& b) {
         const CompressedModel m = parse_compressed_model(view(b), "fuzz.lbc");
         m.decode();
         m.storage_report();
       }},
  };
  return table;
}

}  // namespace lowbit::fuzz
