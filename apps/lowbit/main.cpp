// lowbit: train, evaluate, compress, export and benchmark low-bit networks.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "apps/lowbit/commands.h"
#include "core/blas_setup.h"
#include "core/check.h"
#include "core/collective.h"
#include "core/heap.h"
#include "core/json_args.h"

namespace {
// `lowbit trian`: CLI11 alone says only "A subcommand is required".
int unknown_command(const CLI::App& app, const std::string& name) {
  std::vector<std::string> names;
  std::string all;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
    all += (all.empty() ? "" : ", ") + sub->get_name();
  }
  const std::string closest = lowbit::closest_match(name, names);
  std::cerr << "lowbit: error: unknown command \"" << name << "\"";
  if (!closest.empty()) std::cerr << "; did you mean \"" << closest << "\"?";
  std::cerr << "\ncommands: " << all << " (lowbit --help)\n";
  return 1;
}

// Only training divides its work between MPI processes; started by mpirun -np N, any other
// command would run N times over into the same files, so every copy refuses at once.
bool runs_on_several_processes(const std::string& command) { return command == "train"; }
}  // namespace

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
  lowbit::cli::add_tnn_convert_command(app);
  if (argc > 1 && argv[1][0] != '-' && app.get_subcommands([&](const CLI::App* s) {
                                          return s->check_name(argv[1]);
                                        }).empty())
    return unknown_command(app, argv[1]);
  try {
    if (argc > 1 && argv[1][0] != '-' && !runs_on_several_processes(argv[1]))
      lowbit::require_one_process(std::string("lowbit ") + argv[1]);
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
