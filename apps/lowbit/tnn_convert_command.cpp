// lowbit tnn-convert RUN_DIR [--out DIR] [--examples N]
// lowbit tnn-convert TEACHER.json [--out DIR] [--set KEY=VALUE ...] [--examples N]
//
// TNN's second stage (experiment/tnn_convert.h, docs/tnn.md): a trained teacher (ternary
// activations, float weights) converted into the ternary student, neuron by neuron; prints
// and writes the student's test accuracy beside the teacher's. Given an experiment file
// instead of a run folder, both stages (experiment/tnn_run.h): the teacher is trained (or
// resumed, or reused) in DIR/teacher first; this is what a study's "kind": "tnn" runs.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>

#include "apps/lowbit/commands.h"
#include "core/check.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/progress.h"
#include "experiment/tnn_run.h"
#include "experiment/train_or_reuse.h"

namespace lowbit::cli {

namespace {
struct TnnArgs {
  std::string source;
  std::string out;
  std::vector<std::string> sets;
  int64_t examples = 1000;
};

void convert_run_folder(const TnnArgs& args) {
  namespace fs = std::filesystem;
  LB_CHECK(args.sets.empty(), "--set: only with an experiment file (a run folder's config is fixed)");
  const std::string out_dir = args.out.empty() ? (fs::path(args.source) / "tnn_student").string() : args.out;
  const std::unique_ptr<Experiment> ex = load_finished_run(args.source, "teacher run");
  convert_and_write_tnn(*ex, args.source, out_dir, args.examples);
}

void run_tnn_convert(const TnnArgs& args) {
  if (std::filesystem::is_directory(args.source)) return convert_run_folder(args);
  LB_CHECK(std::filesystem::is_regular_file(args.source), args.source,
           ": neither a run folder nor an experiment file");
  train_and_convert_tnn(args.source, args.sets, {.out_dir = args.out, .examples = args.examples,
                                                 .interactive = Progress::stderr_is_terminal()});
}
}  // namespace

void add_tnn_convert_command(CLI::App& app) {
  auto args = std::make_shared<TnnArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tnn-convert",
      "TNN: convert a trained teacher (ternary activations, float weights) into the ternary student; given an "
      "experiment file, train the teacher first (resumable)");
  cmd->add_option("source", args->source, "Run folder of a trained teacher, or the teacher's experiment file")
      ->required();
  cmd->add_option("--out", args->out,
                  "Output folder (default RUN/tnn_student; for a file, the experiment's output.dir, teacher in "
                  "OUT/teacher)");
  cmd->add_option("--set", args->sets, "Override a teacher config value (experiment file only), e.g. seed=2");
  cmd->add_option("--examples", args->examples, "Training images the neurons are fitted on (default 1000)")
      ->check(CLI::PositiveNumber);
  cmd->callback([args] { run_tnn_convert(*args); });
}

}  // namespace lowbit::cli
