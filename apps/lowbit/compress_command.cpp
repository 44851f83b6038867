// lowbit compress CONFIG [--set path=value]... [--out DIR] [--force]
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>

#include "compress/compress_config.h"
#include "compress/pipeline.h"
#include "experiment/config.h"
#include "experiment/progress.h"
#include "apps/lowbit/commands.h"
#include "core/check.h"

namespace lowbit::cli {

namespace {
struct CompressArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string out;
  bool force = false;
};

void run_compress(const CompressArgs& args) {
  nlohmann::json raw = load_json_file(args.config);
  for (const std::string& s : args.sets) apply_override(raw, s);
  CompressConfig cfg;
  std::vector<LayerPlan> plan;
  try {
    cfg = parse_compress_config(raw);
    if (!args.out.empty()) {
      cfg.output_dir = args.out;
      cfg.resolved["output"]["dir"] = args.out;
    }
    plan = check_compress_config(cfg);  // layer names need the network: checked before training
  } catch (const Error& e) {
    LB_FAIL(args.config, ": ", e.what());
  }
  const CompressRunOptions opt{.interactive = Progress::stderr_is_terminal(),
                               .overwrite = args.force};
  // compress_experiment checks this too; checking now saves training a baseline first.
  LB_CHECK(args.force || !std::filesystem::exists(cfg.output_dir + "/model.lbc"), cfg.output_dir,
           ": already holds a compressed model; pass --force to replace it or choose another "
           "output.dir (--out)");
  std::unique_ptr<Experiment> ex = prepare_source(cfg, opt);
  compress_experiment(*ex, cfg, plan, opt);
}
}  // namespace

void add_compress_command(CLI::App& app) {
  auto args = std::make_shared<CompressArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compress", "Deep Compression of a trained network: prune, share weights, Huffman-code");
  cmd->add_option("config", args->config, "Compress JSON file (docs/deep_compression.md)")
      ->required();
  cmd->add_option(
      "--set", args->sets,
      "Override a config value, e.g. --set prune.retrain.epochs=2 (repeatable; JSON values)");
  cmd->add_option("--out", args->out, "Output folder (default: output.dir, i.e. runs/<name>)");
  cmd->add_flag("--force", args->force, "Replace an earlier compression in the output folder");
  cmd->callback([args] { run_compress(*args); });
}

}  // namespace lowbit::cli
