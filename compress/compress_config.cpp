#include "compress/compress_config.h"

#include <set>

#include "core/check.h"
#include "core/json_args.h"
#include "experiment/config.h"

namespace lowbit {

using nlohmann::json;

namespace {

// Keys holding dots ("1.weight") are written as ["1.weight"] so that the path stays readable.
std::string key_path(const std::string& parent, const std::string& key) {
  if (key.find_first_of(".[]") == std::string::npos) return json_path(parent, key);
  return parent + "[\"" + key + "\"]";
}

PruneSpec parse_prune_spec(const json& j, const std::string& path) {
  JsonArgs a(j, path);
  PruneSpec s;
  if (a.has("quality")) s.quality = a.non_negative("quality");
  if (a.has("density")) s.density = a.number_in("density", 0.0, 1.0);
  a.finish();
  LB_CHECK(s.quality.has_value() != s.density.has_value(), path,
           ": give exactly one of \"quality\" (threshold = quality x std of the layer's weights) "
           "or \"density\" (fraction of weights kept), e.g. {\"density\": 0.08}");
  return s;
}

WeightSharingOptions parse_sharing(const json& j, const std::string& path) {
  JsonArgs a(j, path);
  WeightSharingOptions o;
  o.bits = static_cast<int>(a.int_in("bits", 1, 16, 5));
  o.init = centroid_init_from_string(a.choice("init", {"linear", "density", "random"}, "linear"));
  o.max_iterations = static_cast<int>(a.int_in("max_iterations", 1, 1000000, 10000));
  o.seed = static_cast<uint64_t>(a.non_negative_int("seed", 0));
  a.finish();
  return o;
}

int parse_index_bits(const json& j, const std::string& path) {
  JsonArgs a(j, path);
  const int bits = static_cast<int>(a.int_in("index_bits", 1, 16));
  a.finish();
  return bits;
}

TrainingStage parse_stage(const json* j, const std::string& path, bool finetune) {
  TrainingStage s;
  if (!j) return s;
  JsonArgs a(*j, path);
  s.epochs = a.non_negative_int("epochs", 0);
  s.batch_size = a.non_negative_int("batch_size", 0);
  if (const json* o = a.object("optimizer")) s.optimizer = *o;
  if (const json* l = a.object("lr_schedule")) s.lr_schedule = *l;
  if (finetune) s.train_uncompressed = a.boolean("train_uncompressed", true);
  a.finish();
  return s;
}

json stage_json(const TrainingStage& s, bool finetune) {
  json j = {{"epochs", s.epochs},
            {"batch_size", s.batch_size},
            {"optimizer", s.optimizer},
            {"lr_schedule", s.lr_schedule}};
  if (finetune) j["train_uncompressed"] = s.train_uncompressed;
  return j;
}

// Per-layer entries: an object keyed by parameter name or label.
template <class F>
void for_each_layer_entry(JsonArgs& parent, const char* key, F&& f) {
  const json* layers = parent.object(key);
  if (!layers) return;
  const std::string path = parent.path_of(key);
  for (const auto& [name, value] : layers->items()) {
    LB_CHECK(!name.empty(), path, ": empty layer name");
    f(name, value, key_path(path, name));
  }
}

}  // namespace

std::string CompressConfig::experiment_file() const {
  return train_file.empty() ? run_dir + "/config.json" : train_file;
}

json CompressConfig::experiment_json() const {
  json raw = load_json_file(experiment_file());
  for (const std::string& s : train_sets) {
    try {
      apply_override(raw, s);
    } catch (const Error& e) {
      LB_FAIL("train_set: ", e.what());
    }
  }
  return raw;
}

CompressConfig parse_compress_config(const json& config) {
  CompressConfig cfg;
  JsonArgs top(config, "");
  cfg.name = top.string("name");
  LB_CHECK(!cfg.name.empty() && cfg.name.find('/') == std::string::npos,
           "name: expected a non-empty name without '/', got ", json_brief(config.at("name")));
  const bool has_run = top.has("run"), has_train = top.has("train");
  LB_CHECK(has_run != has_train, has_run ? "run" : "train",
           has_run ? ": give either \"run\" or \"train\", not both"
                   : ": required: \"run\": a trained run folder (e.g. \"runs/mnist_lenet300\") or "
                     "\"train\": an experiment file to train first (e.g. "
                     "\"experiments/mnist/lenet300.json\")");
  if (has_run) cfg.run_dir = top.string("run");
  if (has_train) cfg.train_file = top.string("train");
  LB_CHECK(!(has_run ? cfg.run_dir : cfg.train_file).empty(), has_run ? "run" : "train",
           ": expected a non-empty path");
  cfg.seed = static_cast<uint64_t>(top.non_negative_int("seed", 0));
  if (const json* sets = top.array("train_set")) {
    LB_CHECK(has_train, "train_set: only with \"train\" (overrides of the experiment to train)");
    for (size_t i = 0; i < sets->size(); ++i) {
      LB_CHECK((*sets)[i].is_string(), json_path("train_set", i), ": expected a --set string such as ",
               "\"seed=2\", got ", json_brief((*sets)[i]));
      cfg.train_sets.push_back((*sets)[i].get<std::string>());
    }
  }
  cfg.train_out = top.string("train_out", "");
  LB_CHECK(cfg.train_out.empty() || has_train, "train_out: only with \"train\" (where to train it)");

  if (const json* layers = top.object("layers")) {
    std::set<std::string> labels;
    for (const auto& [param, label] : layers->items()) {
      const std::string p = key_path("layers", param);
      LB_CHECK(label.is_string() && !label.get<std::string>().empty(), p,
               ": expected the layer's report label, a non-empty string (e.g. \"ip1\"), got ",
               json_brief(label));
      LB_CHECK(labels.insert(label.get<std::string>()).second, p, ": label \"",
               label.get<std::string>(), "\" is used twice");
      cfg.layers.emplace_back(param, label.get<std::string>());
    }
  }

  // ---- prune (optional)
  if (const json* p = top.object("prune")) {
    cfg.prune = true;
    JsonArgs a(*p, "prune");
    if (const json* d = a.object("default"))
      cfg.prune_default = parse_prune_spec(*d, "prune.default");
    for_each_layer_entry(a, "layers",
                         [&](const std::string& name, const json& v, const std::string& path) {
                           cfg.prune_layers[name] = parse_prune_spec(v, path);
                         });
    cfg.retrain = parse_stage(a.object("retrain"), "prune.retrain", false);
    a.finish();
  }

  // ---- quantize (required: the compressed file stores codebooks)
  {
    const json* q = top.object("quantize");
    LB_CHECK(
        q, "quantize: required (e.g. {\"default\": {\"bits\": 5}, \"finetune\": {\"epochs\": 3}})");
    JsonArgs a(*q, "quantize");
    cfg.quantize_default = json::object();
    if (const json* d = a.object("default")) {
      parse_sharing(*d, "quantize.default");
      cfg.quantize_default = *d;
    }
    for_each_layer_entry(
        a, "layers", [&](const std::string& name, const json& v, const std::string& path) {
          parse_sharing(v, path);  // validates; merged over the default in plan_layers
          cfg.quantize_layers[name] = v;
        });
    cfg.finetune = parse_stage(a.object("finetune"), "quantize.finetune", true);
    a.finish();
  }

  // ---- huffman (optional: defaults)
  if (const json* h = top.object("huffman")) {
    JsonArgs a(*h, "huffman");
    cfg.coding_name = a.choice("coding", {"smallest", "huffman", "fixed"}, "smallest");
    cfg.coding = coding_policy_from_string(cfg.coding_name);
    cfg.index_bits = static_cast<int>(a.int_in("index_bits", 1, 16, 5));
    for_each_layer_entry(a, "layers",
                         [&](const std::string& name, const json& v, const std::string& path) {
                           cfg.index_bits_layers[name] = parse_index_bits(v, path);
                         });
    a.finish();
  }

  cfg.output_dir = parse_output_dir(top, cfg.name);
  top.finish();

  json& r = cfg.resolved;
  r["name"] = cfg.name;
  if (has_run)
    r["run"] = cfg.run_dir;
  else
    r["train"] = cfg.train_file;
  r["seed"] = cfg.seed;
  // Only when given: configs written before these keys existed resolve as they did.
  if (!cfg.train_sets.empty()) r["train_set"] = cfg.train_sets;
  if (!cfg.train_out.empty()) r["train_out"] = cfg.train_out;
  json layers = json::object();
  for (const auto& [param, label] : cfg.layers) layers[param] = label;
  r["layers"] = layers;
  if (cfg.prune) {
    json pl = json::object();
    for (const auto& [k, v] : cfg.prune_layers) pl[k] = v;
    r["prune"] = {{"default", cfg.prune_default ? json(*cfg.prune_default) : json(nullptr)},
                  {"layers", pl},
                  {"retrain", stage_json(cfg.retrain, false)}};
  }
  json ql = json::object();
  for (const auto& [k, v] : cfg.quantize_layers) ql[k] = v;
  json qd;
  to_json(qd, parse_sharing(cfg.quantize_default, "quantize.default"));
  r["quantize"] = {{"default", qd}, {"layers", ql}, {"finetune", stage_json(cfg.finetune, true)}};
  json hl = json::object();
  for (const auto& [k, v] : cfg.index_bits_layers) hl[k] = {{"index_bits", v}};
  r["huffman"] = {{"coding", cfg.coding_name}, {"index_bits", cfg.index_bits}, {"layers", hl}};
  r["output"] = {{"dir", cfg.output_dir}};
  return cfg;
}

std::vector<LayerPlan> plan_layers(const CompressConfig& cfg, const Module& model) {
  const std::vector<NamedParameter> params = model.named_parameters();
  std::vector<std::pair<std::string, std::string>> chosen = cfg.layers;
  if (chosen.empty()) {
    for (const NamedParameter& p : params)
      if (p.var.dim() >= 2) chosen.emplace_back(p.name, p.name);
  }
  std::string all_params;
  for (const NamedParameter& p : params) all_params += (all_params.empty() ? "" : ", ") + p.name;
  for (const auto& [param, label] : chosen) {
    bool found = false;
    for (const NamedParameter& p : params) found = found || p.name == param;
    LB_CHECK(found, key_path("layers", param), ": the model has no parameter \"", param,
             "\"; its parameters: ", all_params);
  }
  LB_CHECK(!chosen.empty(),
           "layers: nothing to compress: the model has no parameter with two or "
           "more dimensions; name the parameters in \"layers\"");

  // A per-layer key is a parameter name or a label; each must match one compressed layer.
  std::string all_layers;
  for (const auto& [param, label] : chosen)
    all_layers +=
        (all_layers.empty() ? "" : ", ") + (param == label ? param : label + " (" + param + ")");
  auto find_entry = [&](const auto& entries, const std::string& stage_path,
                        const std::string& param, const std::string& label)
      -> const typename std::decay_t<decltype(entries)>::mapped_type* {
    const auto by_param = entries.find(param), by_label = entries.find(label);
    LB_CHECK(!(param != label && by_param != entries.end() && by_label != entries.end()),
             stage_path, ": layer ", label, " is given twice, as \"", param, "\" and as \"", label,
             "\"");
    if (by_param != entries.end()) return &by_param->second;
    if (by_label != entries.end()) return &by_label->second;
    return nullptr;
  };
  auto check_keys = [&](const auto& entries, const std::string& stage_path) {
    for (const auto& [key, _] : entries) {
      bool ok = false;
      for (const auto& [param, label] : chosen) ok = ok || key == param || key == label;
      LB_CHECK(ok, key_path(stage_path, key),
               ": not a compressed layer; the layers are: ", all_layers);
    }
  };
  check_keys(cfg.prune_layers, "prune.layers");
  check_keys(cfg.quantize_layers, "quantize.layers");
  check_keys(cfg.index_bits_layers, "huffman.layers");

  std::vector<LayerPlan> plan;
  for (const auto& [param, label] : chosen) {
    LayerPlan l;
    l.param = param;
    l.label = label;
    if (cfg.prune) {
      if (const PruneSpec* s = find_entry(cfg.prune_layers, "prune.layers", param, label))
        l.prune = *s;
      else
        l.prune = cfg.prune_default;
    }
    json sharing = cfg.quantize_default;
    if (const json* s = find_entry(cfg.quantize_layers, "quantize.layers", param, label))
      for (const auto& [k, v] : s->items()) sharing[k] = v;
    l.sharing = parse_sharing(sharing, key_path("quantize.layers", label));
    l.index_bits = cfg.index_bits;
    if (const int* b = find_entry(cfg.index_bits_layers, "huffman.layers", param, label))
      l.index_bits = *b;
    plan.push_back(std::move(l));
  }
  return plan;
}

}  // namespace lowbit
