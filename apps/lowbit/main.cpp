// lowbit: train, evaluate, compress, export and benchmark low-bit networks.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "apps/lowbit/commands.h"
#include "core/check.h"
#include "core/heap.h"

namespace {
// Edit distance (insert, delete, substitute, swap of neighbours), for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// `lowbit trian`: CLI11 alone says only "A subcommand is required".
int unknown_command(const CLI::App& app, const std::string& name) {
  std::string closest, all;
  size_t best = SIZE_MAX;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const size_t dist = edit_distance(name, sub->get_name());
    if (dist < best) best = dist, closest = sub->get_name();
    all += (all.empty() ? "" : ", ") + sub->get_name();
  }
  std::cerr << "lowbit: error: unknown command \"" << name << "\"";
  if (best <= 2) std::cerr << "; did you mean \"" << closest << "\"?";
  std::cerr << "\ncommands: " << all << " (lowbit --help)\n";
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
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
  if (argc > 1 && argv[1][0] != '-' && app.get_subcommands([&](const CLI::App* s) {
                                          return s->check_name(argv[1]);
                                        }).empty())
    return unknown_command(app, argv[1]);
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
