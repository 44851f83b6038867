// lowbit train CONFIG [--set path=value]... [--out DIR] [--resume] [--stop-after-batches N]
// Under mpirun -np N / srun: data-parallel over N processes (docs/distributed.md).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "experiment/budget_override.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/progress.h"
#include "experiment/trainer.h"
#include "apps/lowbit/commands.h"
#include "core/blas_setup.h"
#include "core/check.h"
#include "core/collective.h"
#include "core/threads.h"
#include "quant/summary.h"

namespace lowbit::cli {

namespace {
struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string out;
  bool resume = false;
  int64_t stop_after_batches = 0;
};

void train(const TrainArgs& args, bool prints) {
  const nlohmann::json raw = load_experiment_file(args.config, args.sets);
  if (prints && !args.sets.empty()) {
    const std::string w = budget_override_warning(load_json_file(args.config), args.sets);
    if (!w.empty()) std::cerr << "lowbit train: warning: " << args.config << ": " << w << "\n";
  }
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
  if (prints) {
    std::cout << "lowbit train: " << cfg.name << " (" << cfg.data.dataset << ": " << ex->train.size()
              << " train, " << ex->val.size() << " val, " << ex->test.size() << " test; "
              << num_threads() << " threads";
    if (collective().size() > 1) std::cout << " per process, " << collective().size() << " processes";
    std::cout << ")\n";
    std::cout << "compute: " << compute_runtime_summary() << "\n";
    print_summary(std::cout, summarize(*ex->model, ex->image_shape));
    std::cout << std::flush;
  }
  install_interrupt_handler();
  const TrainOutcome outcome = train_experiment(
      *ex, {.out_dir = cfg.output_dir, .resume = args.resume, .interactive = Progress::stderr_is_terminal(),
              .stop_after_batches = args.stop_after_batches});
  if (outcome.interrupted) std::exit(130);
}

// Under mpirun/srun with N > 1: the MPI process group (docs/distributed.md). An error in any
// process ends them all, with the message naming the rank, instead of leaving the others
// waiting in a collective call.
void run_train(const TrainArgs& args) {
  if (auto mpi = mpi_collective_from_environment()) set_collective(std::move(mpi));
  Collective& world = collective();
  if (world.size() == 1) return train(args, true);
  try {
    train(args, world.rank() == 0);
  } catch (const std::exception& e) {
    world.abort(e.what());
  }
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
  cmd->add_option("--stop-after-batches", args->stop_after_batches,
                  "Stop as if interrupted after this many batches, writing a checkpoint (exit "
                  "code 130; continue with --resume): for jobs with a time limit")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([args] { run_train(*args); });
}

}  // namespace lowbit::cli
