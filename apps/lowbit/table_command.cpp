// lowbit table RUN_DIR... [--markdown FILE] [--json FILE] [--baseline RUN_DIR]
#include <CLI/CLI.hpp>
#include <iostream>

#include "experiment/results_table.h"
#include "apps/lowbit/commands.h"
#include "core/check.h"
#include "core/serialize.h"

namespace lowbit::cli {

namespace {
struct TableArgs {
  std::vector<std::string> run_dirs;
  std::string markdown;
  std::string json;
  std::string baseline;
};

void run_table(const TableArgs& args) {
  std::vector<std::string> skipped;
  ResultsTable table;
  table.rows = read_runs(args.run_dirs, &skipped);
  for (const std::string& s : skipped) std::cerr << "lowbit table: skipped " << s << '\n';
  if (!args.baseline.empty()) table.set_baseline(read_run(args.baseline));
  // Files first: a failed write ends the command before anything is printed.
  if (!args.markdown.empty()) write_file_atomic(args.markdown, table.to_markdown());
  if (!args.json.empty()) write_file_atomic(args.json, table.to_json().dump(2) + "\n");
  std::cout << table.to_text();
  if (!args.markdown.empty()) std::cout << "markdown written to " << args.markdown << '\n';
  if (!args.json.empty()) std::cout << "json written to " << args.json << '\n';
}
}  // namespace

void add_table_command(CLI::App& app) {
  auto args = std::make_shared<TableArgs>();
  CLI::App* cmd = app.add_subcommand(
      "table", "Compare training runs in one table (accuracy, bits, size, compression)");
  cmd->add_option("run_dirs", args->run_dirs,
                  "Run folders written by lowbit train (shell globs welcome: runs/cifar10_*)")
      ->required();
  cmd->add_option("--markdown", args->markdown, "Also write the table as Markdown to this file");
  cmd->add_option("--json", args->json, "Also write the rows as a JSON array to this file");
  cmd->add_option("--baseline", args->baseline,
                  "Finished run to compare with: adds a column test accuracy minus the baseline's "
                  "(percentage points)");
  cmd->callback([args] { run_table(*args); });
}

}  // namespace lowbit::cli
