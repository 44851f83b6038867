#include "experiment/train_or_reuse.h"

#include <filesystem>
#include <iostream>

#include "core/blas_setup.h"
#include "core/check.h"
#include "core/serialize.h"
#include "experiment/run_files.h"
#include "experiment/trainer.h"

namespace lowbit {

namespace fs = std::filesystem;

std::unique_ptr<Experiment> train_or_reuse(const ExperimentConfig& config,
                                           const TrainOrReuseOptions& opt) {
  // The data is read only once the folder is known to be this run's (a refusal is instant).
  auto ex = std::make_unique<Experiment>(config, /*load_data=*/false);
  const RunPaths paths(config.output_dir);
  const bool finished =
      fs::exists(paths.model) && fs::exists(paths.metrics) && fs::exists(paths.config);
  const bool same = finished && resolve_experiment(load_json_file(paths.config)) == ex->config.resolved;
  LB_CHECK(!finished || same, "train: ", paths.dir, " holds a finished run of another config than ",
           opt.source, "; it is never overwritten: remove it or choose another output folder");
  ex->read_data();
  if (same) {
    std::cout << "using the trained run " << paths.dir << " (same config as " << opt.source << ")\n";
    ex->model->load_state_tensors(load_safetensors(paths.model), paths.model);
    return ex;
  }
  const bool resume = fs::exists(paths.checkpoint);
  std::cout << (resume ? "resuming" : "training") << " " << opt.source << " in " << paths.dir << "\n"
            << "compute: " << compute_runtime_summary() << std::endl;
  install_interrupt_handler();
  const TrainOutcome outcome = train_experiment(
      *ex, {.out_dir = paths.dir, .resume = resume, .interactive = opt.interactive});
  LB_CHECK(!outcome.interrupted, "train: interrupted; run ", opt.again, " again to resume ",
           paths.dir);
  return ex;
}

std::unique_ptr<Experiment> load_finished_run(const std::string& dir, const std::string& role,
                                              const std::string& hint) {
  const RunPaths paths(dir);
  for (const std::string& file : {paths.config, paths.model})
    LB_CHECK(fs::exists(file), role, " ", dir, ": not a finished training run (", file, " not found; ", hint, ")");
  // Parsed before the data is read: a bad config fails at once, naming its file.
  std::unique_ptr<Experiment> ex;
  try {
    ex = std::make_unique<Experiment>(parse_experiment(load_json_file(paths.config)), /*load_data=*/false);
  } catch (const Error& e) {
    LB_FAIL(paths.config, ": ", e.what());
  }
  ex->model->load_state_tensors(load_safetensors(paths.model), paths.model);
  ex->read_data();
  return ex;
}

}  // namespace lowbit
