// lowbit train CONFIG [--set path=value]... [--out DIR] [--resume]
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/progress.h"
#include "experiment/trainer.h"
#include "apps/lowbit/commands.h"
#include "core/blas_setup.h"
#include "core/check.h"
#include "core/threads.h"
#include "quant/summary.h"

namespace lowbit::cli {

namespace {
struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string out;
  bool resume = false;
};

void run_train(const TrainArgs& args) {
  nlohmann::json raw = load_json_file(args.config);
  for (const std::string& s : args.sets) apply_override(raw, s);
  ExperimentConfig cfg;
  try {
    cfg = parse_experiment(raw);
  } catch (const Error& e) {
    LB_FAIL(args.config, ": ", e.what());
  }
  if (!args.out.empty()) {
    cfg.output_dir = args.out;
    cfg.resolved["output"]["dir"] = args.out;
  }
  std::unique_ptr<Experiment> ex;
  try {
    ex = std::make_unique<Experiment>(cfg);
  } catch (const Error& e) {
    LB_FAIL(args.config, ": ", e.what());
  }
  std::cout << "lowbit train: " << cfg.name << " (" << cfg.data.dataset << ": " << ex->train.size()
            << " train, " << ex->val.size() << " val, " << ex->test.size() << " test; "
            << num_threads() << " threads)\n";
  std::cout << "compute: " << compute_runtime_summary() << "\n";
  print_summary(std::cout, summarize(*ex->model, ex->image_shape));
  std::cout << std::flush;
  install_interrupt_handler();
  const TrainOutcome outcome = train_experiment(
      *ex, {.out_dir = cfg.output_dir, .resume = args.resume, .interactive = Progress::stderr_is_terminal()});
  if (outcome.interrupted) std::exit(130);
}
}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train the network of a JSON experiment");
  cmd->add_option("config", args->config, "Experiment JSON file (docs/config.md)")->required();
  cmd->add_option("--set", args->sets,
                  "Override a config value, e.g. --set train.epochs=1 (repeatable; JSON values)");
  cmd->add_option("--out", args->out, "Run folder (default: output.dir, i.e. runs/<name>)");
  cmd->add_flag("--resume", args->resume, "Continue the interrupted run in the run folder");
  cmd->callback([args] { run_train(*args); });
}

}  // namespace lowbit::cli
