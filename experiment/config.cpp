#include "experiment/config.h"

#include <fstream>
#include <optional>
#include <sstream>

#include "core/check.h"
#include "core/json_args.h"
#include "core/json_file.h"
#include "core/serialize.h"

namespace lowbit {

using nlohmann::json;

json load_json_file(const std::string& path) { return read_json_file(path); }

std::string parse_output_dir(JsonArgs& top, const std::string& name) {
  std::string dir = "runs/" + name;
  if (const json* o = top.object("output")) {
    JsonArgs a(*o, "output");
    dir = a.string("dir", dir);
    a.finish();
  }
  return dir;
}

json load_experiment_file(const std::string& file, const std::vector<std::string>& sets) {
  json raw = load_json_file(file);
  for (const std::string& s : sets) apply_override(raw, s);
  return raw;
}

void apply_override(json& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  LB_CHECK(eq != std::string::npos && eq > 0, "--set \"", assignment,
           "\": expected path=value, e.g. train.epochs=3");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  // Bare words are strings (--set data.dataset=cifar10); JSON goes through the same limits
  // as a file (depth, duplicate keys, range).
  const json value = json::accept(text) ? parse_json(text, "--set " + path) : json(text);
  json* node = &config;
  std::string walked;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '[') {
      const auto close = path.find(']', i);
      LB_CHECK(close != std::string::npos, "--set ", path, ": missing ']'");
      const std::string digits = path.substr(i + 1, close - i - 1);
      LB_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
               "--set ", path, ": bad index [", digits, "]");
      const size_t index = std::stoul(digits);
      LB_CHECK(node->is_array() && index < node->size(), "--set ", path, ": ",
               walked.empty() ? "config" : walked, " has no element [", index, "]");
      walked = json_path(walked, index);
      node = &(*node)[index];
      i = close + 1;
    } else {
      if (path[i] == '.') ++i;
      const auto end = path.find_first_of(".[", i);
      const std::string key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
      LB_CHECK(!key.empty(), "--set ", path, ": empty key");
      if (node->is_null()) *node = json::object();
      LB_CHECK(node->is_object(), "--set ", path, ": ", walked.empty() ? "config" : walked,
               " is not an object");
      walked = json_path(walked, key);
      node = &(*node)[key];
      i = end == std::string::npos ? path.size() : end;
    }
  }
  *node = std::move(value);
}

void check_training_examples(const ExperimentConfig& cfg, int64_t examples, const std::string& of) {
  LB_CHECK(cfg.data.validation < examples, "data.validation: ", cfg.data.validation,
           " held-out examples leave none to train on (", examples, " in the training set of ",
           of, ")");
  const int64_t train = examples - cfg.data.validation;
  // A batch larger than the training set would silently be one batch per epoch.
  LB_CHECK(cfg.train.batch_size <= train, "train.batch_size: ", cfg.train.batch_size,
           " is larger than the ", train, " training examples (", of,
           cfg.data.validation ? ", after data.validation" : "", ")");
}

ExperimentConfig parse_experiment(const json& config) {
  ExperimentConfig cfg;
  JsonArgs top(config, "");
  cfg.name = top.string("name");
  LB_CHECK(!cfg.name.empty() && cfg.name.find('/') == std::string::npos, "name: expected a non-empty "
           "name without '/', got ", json_brief(config.at("name")));
  cfg.seed = static_cast<uint64_t>(top.non_negative_int("seed", 0));

  // ---- data
  {
    const json* d = top.object("data");
    LB_CHECK(d, "data: required (e.g. {\"dataset\": \"mnist\"})");
    JsonArgs a(*d, "data");
    cfg.data.source = make_dataset(a.required("dataset"), a.path_of("dataset"));
    cfg.data.dataset = std::string(cfg.data.source->name());
    const std::string default_root = cfg.data.source->default_root();
    if (default_root.empty() && !a.has("root"))
      json_fail(a.path_of("root"), "required for the data set \"" + cfg.data.dataset +
                                       "\" (the folder holding its files)");
    cfg.data.root = a.string("root", default_root);
    // issue 14 (harden): "" would become "/" once joined with a file name.
    LB_CHECK(!cfg.data.root.empty(), "data.root: expected a folder, got \"\" (leave the key out for ",
             "the default, ", default_root, ")");
    cfg.data.validation = a.non_negative_int("validation", 0);
    // Built (and so validated) by Experiment, with the rest of the run.
    if (const json* t = a.array("transforms")) cfg.data.transforms = *t;
    a.finish();
  }

  // ---- model
  {
    const json* m = top.object("model");
    LB_CHECK(m, "model: required (e.g. {\"layers\": [...]})");
    JsonArgs a(*m, "model");
    const json* layers = a.array("layers");
    LB_CHECK(layers && !layers->empty(), "model.layers: expected a non-empty list of layers");
    cfg.model_layers = *layers;
    a.finish();
  }

  // ---- train
  {
    const json* t = top.object("train");
    LB_CHECK(t, "train: required (e.g. {\"epochs\": 10, \"optimizer\": {\"name\": \"adam\"}})");
    JsonArgs a(*t, "train");
    cfg.train.epochs = a.positive_int("epochs");
    cfg.train.batch_size = a.positive_int("batch_size", 100);
    cfg.train.eval_batch_size = a.positive_int("eval_batch_size", 1000);
    if (const json* sh = a.get("shards"); sh && !sh->is_null())
      cfg.train.shards = a.int_in("shards", 1, 1024);
    // The optimizer, schedule and loss specs are built (and so validated) by Experiment.
    const json* opt = a.get("optimizer");
    LB_CHECK(opt && !opt->is_null(),
             "train.optimizer: required (e.g. {\"name\": \"adam\", \"lr\": 0.001})");
    cfg.train.optimizer = *opt;
    if (const json* sched = a.get("lr_schedule")) cfg.train.lr_schedule = *sched;
    if (const json* loss = a.get("loss")) cfg.train.loss = *loss;
    a.finish();
  }

  // ---- output
  cfg.output_dir = parse_output_dir(top, cfg.name);
  top.finish();

  if (const std::optional<int64_t> examples = cfg.data.source->declared_size("train"))
    check_training_examples(cfg, *examples, "the " + cfg.data.dataset + " data set");

  cfg.resolved = resolved_config(cfg, cfg.model_layers, cfg.data.transforms, cfg.train.optimizer,
                                 cfg.train.lr_schedule, cfg.train.loss);
  return cfg;
}

json resolved_config(const ExperimentConfig& cfg, const json& model_layers, const json& transforms,
                     const json& optimizer, const json& lr_schedule, const json& loss) {
  json r;
  r["name"] = cfg.name;
  r["seed"] = cfg.seed;
  r["data"] = {{"dataset", dataset_to_json(*cfg.data.source)},
               {"root", cfg.data.root},
               {"validation", cfg.data.validation},
               {"transforms", transforms}};
  r["model"] = {{"layers", model_layers}};
  r["train"] = {{"epochs", cfg.train.epochs},
                {"batch_size", cfg.train.batch_size},
                {"eval_batch_size", cfg.train.eval_batch_size},
                {"optimizer", optimizer},
                {"lr_schedule", lr_schedule},
                {"loss", loss}};
  // Only when set: configs (and run folders) without the option stay as they were.
  if (cfg.train.shards > 0) r["train"]["shards"] = cfg.train.shards;
  r["output"] = {{"dir", cfg.output_dir}};
  return r;
}

}  // namespace lowbit
