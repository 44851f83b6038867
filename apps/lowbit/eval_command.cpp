// lowbit eval RUN_DIR [--split test|val] [--predictions FILE.csv]
// lowbit eval --compressed FILE.lbc [--split test|val] [--predictions FILE.csv]
// lowbit eval --packed FILE.lbp [--split test|val] [--predictions FILE.csv]
#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "compress/pipeline.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/run_files.h"
#include "apps/lowbit/commands.h"
#include "packed/packed_eval.h"
#include "core/check.h"
#include "core/serialize.h"
#include "datasets/registry.h"

namespace lowbit::cli {

namespace {
struct EvalArgs {
  std::string run_dir;
  std::string split = "test";
  std::string predictions;
  std::string compressed;
  std::string packed;
};

void run_eval(const EvalArgs& args) {
  LB_CHECK(args.run_dir.empty() + args.compressed.empty() + args.packed.empty() == 2,
           "eval: give a run folder, --compressed FILE or --packed FILE (one of them)");
  const RunPaths paths(args.run_dir);
  CompressedNetwork net;
  if (!args.compressed.empty()) net = load_compressed_network(args.compressed);
  packed::PackedModel packed_model;
  if (!args.packed.empty()) packed_model = packed::PackedModel::load(args.packed);
  const std::string config_source = !args.compressed.empty() ? args.compressed
                                    : !args.packed.empty()   ? args.packed
                                                             : paths.config;
  const nlohmann::json resolved = !args.compressed.empty() ? net.config
                                  : !args.packed.empty()   ? packed::source_config(packed_model, args.packed)
                                                           : load_json_file(paths.config);
  ExperimentConfig cfg;
  try {
    cfg = parse_experiment(resolved);
  } catch (const Error& e) {
    LB_FAIL(config_source, ": ", e.what());
  }
  ModulePtr model = !args.compressed.empty() ? net.model
                   : args.packed.empty()     ? load_trained_model(resolved, paths.model)
                                             : nullptr;
  const TransformList transforms = make_transforms(cfg.data.transforms, "data.transforms");
  InMemoryDataset data;
  if (args.split == "test") {
    data = cfg.data.source->load(cfg.data.root, "test");
  } else {
    LB_CHECK(cfg.data.validation > 0, config_source, ": the run has no validation split (data.validation is 0)");
    data = train_val_split(cfg.data.source->load(cfg.data.root, "train"), cfg.data.validation).val;
  }
  Tensor logits;
  Tensor* logits_out = args.predictions.empty() ? nullptr : &logits;
  const double acc = model ? evaluate(*model, data, transforms, cfg.train.eval_batch_size, logits_out)
                           : packed::evaluate_packed(packed_model, data, transforms,
                                                     cfg.train.eval_batch_size, logits_out);
  std::cout << cfg.name << " " << args.split << " accuracy " << 100.0 * acc << "% ("
            << data.size() << " examples)\n";
  if (!args.predictions.empty()) {
    std::ostringstream csv;
    const int64_t c = logits.size(1);
    csv << "index,label,predicted";
    for (int64_t j = 0; j < c; ++j) csv << ",logit_" << j;
    csv << '\n';
    for (int64_t i = 0; i < data.size(); ++i) {
      const float* row = logits.data() + i * c;
      csv << i << ',' << data.label(i) << ',' << (std::max_element(row, row + c) - row);
      for (int64_t j = 0; j < c; ++j) csv << ',' << row[j];
      csv << '\n';
    }
    write_file_atomic(args.predictions, csv.str());
    std::cout << "predictions written to " << args.predictions << '\n';
  }
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a trained run folder or a compressed model");
  cmd->add_option("run_dir", args->run_dir, "Run folder written by lowbit train");
  cmd->add_option("--compressed", args->compressed,
                  "Evaluate a compressed model file written by lowbit compress instead of a run");
  cmd->add_option("--packed", args->packed,
                  "Evaluate a packed model written by lowbit export (bit-packed kernels)");
  cmd->add_option("--split", args->split, "Which split to evaluate")
      ->check(CLI::IsMember({"test", "val"}));
  cmd->add_option("--predictions", args->predictions,
                  "Write index,label,predicted,logit_0..logit_9 per example to this CSV");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace lowbit::cli
