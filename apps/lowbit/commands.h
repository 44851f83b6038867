#pragma once
// The lowbit command's subcommands, one file each. Each add_* function registers its
// subcommand, options and callback on the top-level CLI11 app; callbacks throw
// lowbit::Error on user errors, which main() prints as one line and turns into exit code 1.
namespace CLI {
class App;
}

namespace lowbit::cli {

void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_compress_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_table_command(CLI::App& app);
void add_study_command(CLI::App& app);
void add_tnn_convert_command(CLI::App& app);

}  // namespace lowbit::cli
