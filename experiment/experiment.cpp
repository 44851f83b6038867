#include "experiment/experiment.h"

#include "layers/sequential.h"

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"
#include "core/serialize.h"
#include "datasets/data_loader.h"
#include "layers/registry.h"
#include "optim/registry.h"
#include "quant/registry.h"

namespace lowbit {

using nlohmann::json;

namespace {

/// Runs `x` through `layer` (a Sequential layer by layer), so a shape mismatch is reported
/// with the layer's JSON path and the shape it was given, before any data is read.
Var check_shapes(Module& layer, const Var& x, const std::string& path) {
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    Var h = x;
    for (size_t i = 0; i < seq->size(); ++i)
      h = check_shapes(*seq->layers()[i], h, path + "[" + std::to_string(i) + "]");
    return h;
  }
  try {
    return layer.forward(x);
  } catch (const Error& e) {
    LB_FAIL(path, " (", layer.type(), "): input of shape ", x.shape(), " does not fit: ", e.what());
  }
}

}  // namespace

Experiment::Experiment(ExperimentConfig cfg, bool load_data)
    : config(std::move(cfg)), init_rng(config.seed) {
  LB_CHECK(config.data.source, "Experiment: the config has no data set (use parse_experiment)");
  // Everything is built from the declared shape and classes: no data is read before the
  // whole config is known to be good.
  transforms = make_transforms(config.data.transforms, "data.transforms");
  try {
    image_shape = TransformPipeline(transforms, config.data.source->image_shape()).output_shape();
  } catch (const Error& e) {
    LB_FAIL("data.transforms: ", e.what());
  }
  num_classes = config.data.source->num_classes();
  loss_fn = make_loss(config.train.loss, "train.loss");
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
  // Shape inference: one evaluation-mode pass of a zero batch of two images (no gradients, no
  // statistics updated, no generator drawn) before anything is read or written.
  {
    NoGradGuard no_grad;
    model->eval();
    Shape batch_shape{2};
    batch_shape.insert(batch_shape.end(), image_shape.begin(), image_shape.end());
    const Var out = check_shapes(*model, Var(Tensor::zeros(batch_shape)), "model.layers");
    LB_CHECK(out.dim() == 2 && out.size(1) == num_classes, "model.layers: the model's output has shape ",
             out.shape(), " for a batch of 2; expected (2, ", num_classes, ") for the ", num_classes,
             " classes of ", config.data.dataset, ": end the model with a linear layer of ",
             num_classes, " outputs");
    model->train();
  }
  config.resolved =
      resolved_config(config, module_to_json(*model).at("layers"), transforms_to_json(transforms),
                      optimizer_to_json(*optimizer),
                      schedule ? schedule_to_json(*schedule) : json(nullptr), loss_to_json(*loss_fn));
  if (load_data) read_data();
}

void Experiment::read_data() {
  const DatasetSource& source = *config.data.source;
  const InMemoryDataset full = source.load(config.data.root, "train");
  // An empty set is the data files' fault, not data.validation's.
  LB_CHECK(full.size() > 0, config.data.root, ": the ", config.data.dataset,
           " training set is empty; check the data files (scripts/get_data.sh)");
  // Checked against the declared size already (parse_experiment); again for what was read.
  check_training_examples(config, full.size(), config.data.root);
  TrainValSplit split = train_val_split(full, config.data.validation);
  train = split.train;
  val = split.val;
  test = source.load(config.data.root, "test");
}

Var Experiment::loss(const Var& logits, const Tensor& labels) const {
  return (*loss_fn)(logits, labels);
}

json resolve_experiment(const json& config) {
  return Experiment(parse_experiment(config), /*load_data=*/false).config.resolved;
}

namespace {

// JSON pointer "/model/layers/2/out_features" -> "model.layers[2].out_features".
std::string dotted_path(const std::string& pointer) {
  std::string path;
  size_t k = 1;
  while (k <= pointer.size() && pointer.size() > 1) {
    const size_t e = std::min(pointer.find('/', k), pointer.size());
    const std::string token = pointer.substr(k, e - k);
    const bool index = !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
    path += index ? "[" + token + "]" : (path.empty() ? "" : ".") + token;
    k = e + 1;
  }
  return path.empty() ? "(the whole config)" : path;
}

}  // namespace

std::vector<std::string> run_config_differences(const json& stored, const json& wanted) {
  json a;
  try {
    a = resolve_experiment(stored);
  } catch (const Error&) {
    a = stored;  // no longer a valid experiment: compare it as written
  }
  json b = wanted;
  if (a.is_object()) a.erase("output");
  if (b.is_object()) b.erase("output");
  std::vector<std::string> paths;
  for (const json& op : json::diff(a, b)) paths.push_back(dotted_path(op.at("path").get<std::string>()));
  return paths;
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
