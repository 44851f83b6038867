// lowbit: train, evaluate, compress, export and benchmark low-bit networks.
#include <CLI/CLI.hpp>
#include <iostream>

#include "apps/lowbit/commands.h"
#include "core/blas_setup.h"
#include "core/check.h"
#include "core/heap.h"

int main(int argc, char** argv) {
  lowbit::prepare_compute_runtime(argv);  // may re-execute: before anything else runs
  lowbit::keep_freed_memory();
  CLI::App app{"lowbit: train binary, ternary and low-bit neural networks from JSON experiments"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  lowbit::cli::add_train_command(app);
  lowbit::cli::add_eval_command(app);
  lowbit::cli::add_compress_command(app);
  lowbit::cli::add_export_command(app);
  lowbit::cli::add_bench_command(app);
  lowbit::cli::add_table_command(app);
  lowbit::cli::add_study_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const lowbit::Error& e) {
    std::cerr << "lowbit: error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lowbit: internal error: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
