#pragma once
/// A network trained as the first stage of a longer command (`lowbit compress` trains the
/// baseline it compresses, `lowbit tnn-convert` the teacher it converts): train it into its
/// output folder, or pick up what that folder already holds, so that killing the command and
/// starting it again loses at most the epoch in flight.
///
///   std::unique_ptr<Experiment> ex = train_or_reuse(parse_experiment(j), {
///       .source = "experiments/mnist/lenet5_tnn_teacher.json",
///       .again = "lowbit tnn-convert"});
#include <memory>
#include <string>

#include "experiment/config.h"
#include "experiment/experiment.h"

namespace lowbit {

struct TrainOrReuseOptions {
  std::string source;        ///< the experiment file, for messages
  std::string again;         ///< the command to run again after an interruption, for messages
  bool interactive = false;  ///< progress bar on stderr
};

/// In config.output_dir: a finished run of the same resolved config is loaded (not trained
/// again), an unfinished one resumed from its checkpoint, an empty folder trained from the
/// start. Throws, before training, when the folder holds a finished run of another config (it
/// is never overwritten), and after it when training was interrupted (the checkpoint is
/// written: the same command resumes). Returns the experiment with the trained weights.
std::unique_ptr<Experiment> train_or_reuse(const ExperimentConfig& config,
                                           const TrainOrReuseOptions& options);

/// A finished `lowbit train` run folder (config.json and model.safetensors) as an experiment
/// with its trained weights, the data set read. Throws naming the folder when either file is
/// missing (`role` says what the caller wanted it for: "run", "teacher run"; `hint` what to
/// do about it) and naming config.json when it is not a valid experiment.
std::unique_ptr<Experiment> load_finished_run(const std::string& dir, const std::string& role = "run",
                                              const std::string& hint = "lowbit train writes it when the run ends");

}  // namespace lowbit
