// lowbit export RUN_DIR --packed FILE
#include <CLI/CLI.hpp>
#include <iostream>

#include "apps/lowbit/commands.h"
#include "packed/convert.h"
#include "packed/packed_file.h"
#include "core/serialize.h"

namespace lowbit::cli {

namespace {
struct ExportArgs {
  std::string run_dir;
  std::string packed;
};

void run_export(const ExportArgs& args) {
  packed::ConvertReport report;
  const packed::PackedModel model = packed::export_run(args.run_dir, &report);
  const std::string bytes = packed::serialize_packed_file(model.to_file());
  write_file_atomic(args.packed, bytes);
  std::cout << packed::format_report(report, static_cast<int64_t>(bytes.size()));
  std::cout << "packed ops:\n" << model.summary();
  std::cout << "wrote " << args.packed << '\n';
}
}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Export a trained run as a packed model (bit planes + scales, folded batch norm)");
  cmd->add_option("run_dir", args->run_dir, "Run folder written by lowbit train")->required();
  cmd->add_option("--packed", args->packed, "Packed model file to write (docs/packed_format.md)")
      ->required();
  cmd->callback([args] { run_export(*args); });
}

}  // namespace lowbit::cli
