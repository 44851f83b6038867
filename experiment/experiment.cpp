#include "experiment/experiment.h"

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"
#include "core/serialize.h"
#include "datasets/data_loader.h"
#include "datasets/registry.h"
#include "layers/registry.h"
#include "optim/registry.h"
#include "quant/registry.h"

namespace lowbit {

using nlohmann::json;

Transform make_transform(const json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  const std::string type = a.choice("type", transform_names());
  Transform t;
  if (type == "scale") {
    const std::vector<int64_t> range = a.int_list("range", -1000, {0, 1});
    LB_CHECK(range.size() == 2 && range[0] < range[1], a.path_of("range"),
             ": expected [lo, hi] with lo < hi, e.g. [0, 1] or [-1, 1]");
    t = transforms::scale(static_cast<float>(range[0]), static_cast<float>(range[1]));
  } else if (type == "normalize") {
    auto floats = [&](const char* key) {
      const json& v = a.required(key);
      LB_CHECK(v.is_array() && !v.empty(), a.path_of(key), ": expected a list of numbers");
      std::vector<float> out;
      for (const json& x : v) {
        LB_CHECK(x.is_number(), a.path_of(key), ": expected numbers, got ", json_brief(x));
        out.push_back(x.get<float>());
      }
      return out;
    };
    std::vector<float> mean = floats("mean"), std = floats("std");
    for (float s : std) LB_CHECK(s > 0, a.path_of("std"), ": every std must be > 0");
    t = transforms::normalize(std::move(mean), std::move(std));
  } else if (type == "random_crop") {
    t = transforms::random_crop(a.non_negative_int("padding", 0), a.non_negative_int("size", 0));
  } else {
    t = transforms::horizontal_flip(static_cast<float>(a.number_in("p", 0.0, 1.0, 0.5)));
  }
  a.finish();
  return t;
}

TransformList make_transforms(const json& list, const std::string& path) {
  TransformList out;
  for (size_t i = 0; i < list.size(); ++i) out.push_back(make_transform(list[i], json_path(path, i)));
  return out;
}

Experiment::Experiment(ExperimentConfig cfg, bool load_data)
    : config(std::move(cfg)), init_rng(config.seed) {
  transforms = make_transforms(config.data.transforms, "data.transforms");
  if (load_data) {
    const InMemoryDataset full = load_dataset(config.data.dataset, config.data.root, "train");
    LB_CHECK(config.data.validation < full.size(), "data.validation: ", config.data.validation,
             " held-out examples leave none to train on (", full.size(), " in the training set)");
    TrainValSplit split = train_val_split(full, config.data.validation);
    train = split.train;
    val = split.val;
    test = load_dataset(config.data.dataset, config.data.root, "test");
    num_classes = full.num_classes();
    image_shape = TransformPipeline(transforms, full.image_shape()).output_shape();
  }
  register_quant_modules();  // quant_linear, quant_conv2d (quant depends on layers, not back)
  model = make_module(config.model_layers, init_rng, "model.layers");
  const std::vector<NamedParameter> params = model->named_parameters();
  std::vector<Var> vars;
  std::vector<float> scales;
  for (const NamedParameter& p : params) {
    vars.push_back(p.var);
    scales.push_back(p.lr_scale);
  }
  optimizer = make_optimizer(config.train.optimizer, vars, scales, "train.optimizer");
  base_lr = optimizer->lr();
  if (!config.train.lr_schedule.is_null())
    schedule = make_schedule(config.train.lr_schedule, base_lr, config.train.epochs, "train.lr_schedule");
}

Var Experiment::loss(const Var& logits, const Tensor& labels) const {
  if (config.train.loss == "squared_hinge") return squared_hinge(logits, labels);
  return cross_entropy(logits, labels);
}

ModulePtr load_trained_model(const json& resolved, const std::string& weights_path) {
  ExperimentConfig cfg = parse_experiment(resolved);
  Rng rng(cfg.seed);
  register_quant_modules();
  ModulePtr model = make_module(cfg.model_layers, rng, "model.layers");
  model->load_state_tensors(load_safetensors(weights_path), weights_path);
  return model;
}

}  // namespace lowbit
