// lowbit tnn-convert RUN_DIR [--out DIR] [--examples N]
//
// TNN's second stage (experiment/tnn_convert.h, docs/tnn.md): the trained teacher of a run
// folder (ternary activations, float weights) converted into the ternary student, neuron by
// neuron; prints and writes the student's test accuracy beside the teacher's.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/lowbit/commands.h"
#include "core/check.h"
#include "core/format.h"
#include "core/serialize.h"
#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/run_files.h"
#include "experiment/tnn_convert.h"

namespace lowbit::cli {

namespace {
struct TnnArgs {
  std::string run_dir;
  std::string out;
  int64_t examples = 1000;
};

void run_tnn_convert(const TnnArgs& args) {
  namespace fs = std::filesystem;
  const RunPaths run(args.run_dir);
  LB_CHECK(fs::exists(run.config) && fs::exists(run.model), args.run_dir,
           ": not a finished training run (needs config.json and model.safetensors from lowbit train)");
  const std::string out_dir = args.out.empty() ? (fs::path(args.run_dir) / "tnn_student").string() : args.out;
  std::unique_ptr<Experiment> ex;
  try {
    ex = std::make_unique<Experiment>(parse_experiment(load_json_file(run.config)));
  } catch (const Error& e) {
    LB_FAIL(run.config, ": ", e.what());
  }
  ex->model->load_state_tensors(load_safetensors(run.model), run.model);
  std::cout << "lowbit tnn-convert: " << args.run_dir << " (fitting on the first "
            << std::min<int64_t>(args.examples, ex->train.size()) << " training images)" << std::endl;
  const TnnConversion c = convert_tnn(*ex, {.examples = args.examples});
  for (const auto& l : c.layers) std::cout << "  " << l.dump() << '\n';
  std::cout << "teacher test accuracy " << format_double("%.2f%%", 100 * c.teacher_test_accuracy)
            << ", student " << format_double("%.2f%%", 100 * c.student_test_accuracy) << " (fitting images: "
            << format_double("%.2f%%", 100 * c.student_train_subset_accuracy) << ")" << std::endl;
  fs::create_directories(out_dir);
  save_safetensors((fs::path(out_dir) / "student.safetensors").string(), c.student, {{"format", "pt"}});
  const nlohmann::json metrics = {{"teacher_run", args.run_dir},
                                  {"examples", std::min<int64_t>(args.examples, ex->train.size())},
                                  {"teacher_test_accuracy", c.teacher_test_accuracy},
                                  {"student_test_accuracy", c.student_test_accuracy},
                                  {"student_fit_images_accuracy", c.student_train_subset_accuracy},
                                  {"layers", c.layers}};
  write_json_atomic((fs::path(out_dir) / "metrics.json").string(), metrics);
  std::cout << "written: " << out_dir << "/student.safetensors, " << out_dir << "/metrics.json" << std::endl;
}
}  // namespace

void add_tnn_convert_command(CLI::App& app) {
  auto args = std::make_shared<TnnArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tnn-convert", "TNN: convert a trained teacher (ternary activations, float weights) into the ternary student");
  cmd->add_option("run", args->run_dir, "Run folder of the teacher (lowbit train)")->required();
  cmd->add_option("--out", args->out, "Output folder (default RUN/tnn_student)");
  cmd->add_option("--examples", args->examples, "Training images the neurons are fitted on (default 1000)")
      ->check(CLI::PositiveNumber);
  cmd->callback([args] { run_tnn_convert(*args); });
}

}  // namespace lowbit::cli
