// lowbit study STUDY.json [--jobs N] [--set path=value]... [--only GLOB]... [--report] [--dry-run]
//
// Runs every (experiment, seed) of a study as a child process `lowbit train FILE --out DIR
// [--resume] --set ... --set seed=S` (or `lowbit compress ...` for entries of kind
// "compress"), N at a time with the threads split between them.
// Children checkpoint every epoch, so killing the study loses at most the epochs in flight;
// Ctrl-C / SIGTERM ask the children to checkpoint mid-epoch and stop.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "apps/lowbit/commands.h"
#include "core/check.h"
#include "core/format.h"
#include "core/threads.h"
#include "experiment/run_files.h"
#include "experiment/study.h"
#include "experiment/study_report.h"
#include "experiment/tnn_run.h"
#include "compress/study_kind.h"

namespace lowbit::cli {

namespace {
namespace fs = std::filesystem;

struct StudyArgs {
  std::string study;
  int jobs = 1;
  std::vector<std::string> sets;
  std::vector<std::string> compress_sets;
  std::vector<std::string> only;
  bool report_only = false;
  bool dry_run = false;
  std::string runs_root = "runs";
  std::string results_root = "results";
};

volatile sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
  return buf;
}

// The argument as a shell word: single-quoted when it holds characters a shell would read
// (--set 'train_set=["seed=1"]'), so that a printed command can be pasted.
std::string shell_word(const std::string& a) {
  if (a.find_first_of(" \t\"'[]{}*?$&;|<>()\\!#~`") == std::string::npos) return a;
  std::string out = "'";
  for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<PaperReference> references_for(const Study& st) {
  bool needed = false;
  for (const StudyExperiment& e : st.experiments) needed = needed || !e.references.empty();
  if (!needed && !fs::exists(st.references)) return {};
  return load_references(st.references);
}

void write_report(const Study& st, const StudyPlan& plan, const std::vector<PaperReference>& refs) {
  const StudyReport report = build_study_report(st, plan, refs);
  for (const std::string& p : write_study_report(report, plan.study_results_dir))
    std::cout << "  wrote " << p << '\n';
}

// Starts `lowbit train ...` with stdout/stderr appended to `log`, in its own process group
// (a terminal Ctrl-C reaches only the study, which forwards it once), dying with the study.
pid_t spawn_train(const PlannedRun& run, const std::string& log, int threads) {
  std::vector<std::string> args = run.child_args();
  std::vector<char*> argv;
  static std::string self = "lowbit";
  argv.push_back(self.data());
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  LB_CHECK(pid >= 0, "lowbit study: fork failed: ", std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGINT);  // the study killed: checkpoint and stop
    if (::getppid() != parent) ::_exit(130);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) ::_exit(127);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
    ::setenv("LOWBIT_NUM_THREADS", std::to_string(threads).c_str(), 1);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  return pid;
}

void run_study(const StudyArgs& args) {
  LB_CHECK(args.jobs >= 1, "--jobs: expected a positive number, got ", args.jobs);
  register_compress_run_kind();  // study entries with "kind": "compress"
  register_tnn_run_kind();       // "kind": "tnn" (teacher, then the ternary student)
  const Study st = load_study(args.study);
  StudyPlan plan = plan_study(st, {.runs_root = args.runs_root, .results_root = args.results_root,
                                   .extra_sets = args.sets, .extra_compress_sets = args.compress_sets,
                                   .only = args.only});
  const std::vector<PaperReference> refs = references_for(st);
  build_study_report(st, plan, refs);  // bad reference ids fail now, not after hours of training

  if (args.report_only) {
    std::cout << "lowbit study " << st.name << ": report\n";
    write_report(st, plan, refs);
    return;
  }
  const int threads = std::max(1, num_threads() / args.jobs);
  std::map<RunState, int> count;
  // A run --only leaves out counts as such unless it has finished anyway.
  const auto left_out = [](const PlannedRun& r) { return !r.selected && r.state != RunState::finished; };
  int not_selected = 0;
  for (const PlannedRun& r : plan.runs) left_out(r) ? ++not_selected : ++count[r.state];
  std::cout << "lowbit study " << st.name << " (" << now_text() << " UTC): " << plan.runs.size() << " runs: "
            << count[RunState::finished] << " finished, " << count[RunState::resume] << " to resume, "
            << count[RunState::fresh] << " to start"
            << (not_selected ? ", " + std::to_string(not_selected) + " not selected by --only" : "") << "; "
            << args.jobs << " at a time, " << threads
            << " threads each\n";
  for (const PlannedRun& r : plan.runs) {
    std::cout << "  " << r.name << ": " << to_string(r.state);
    if (left_out(r)) {
      std::cout << " (not selected by --only)";
    } else if (r.state != RunState::finished) {
      std::cout << "  lowbit";
      for (const std::string& a : r.child_args()) std::cout << ' ' << shell_word(a);
    }
    std::cout << '\n';
  }
  for (const std::string& w : plan.warnings) std::cout << "warning: " << w << '\n';
  std::cout << std::flush;
  if (args.dry_run) return;

  fs::create_directories(plan.study_runs_dir);
  // One study process per folder: two would train the same run twice.
  const std::string lock_path = (fs::path(plan.study_runs_dir) / "study.lock").string();
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
  LB_CHECK(lock >= 0 && ::flock(lock, LOCK_EX | LOCK_NB) == 0, lock_path,
           ": another lowbit study is running this study");

  for (const PlannedRun& r : plan.runs)
    if (r.needs_copy) {
      record_finished_run(r);
      std::cout << "  copied " << r.name << " to " << r.results_dir << '\n';
    }

  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: waitpid returns on the signal
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  using Clock = std::chrono::steady_clock;
  std::map<pid_t, std::pair<const PlannedRun*, Clock::time_point>> running;
  std::vector<std::string> failed;
  size_t next = 0;
  bool forwarded = false;
  while (true) {
    while (!g_stop && static_cast<int>(running.size()) < args.jobs && next < plan.runs.size()) {
      const PlannedRun& r = plan.runs[next++];
      if (r.state == RunState::finished || !r.selected) continue;
      const std::string log = (fs::path(plan.study_runs_dir) / (r.name + ".log")).string();
      running[spawn_train(r, log, threads)] = {&r, Clock::now()};
      std::cout << now_text() << "  start " << r.name << " (" << to_string(r.state) << "), log " << log
                << std::endl;
    }
    if (running.empty()) break;
    if (g_stop && !forwarded) {
      for (const auto& [pid, run] : running) ::kill(pid, SIGINT);
      forwarded = true;
      std::cout << now_text() << "  stopping: the running runs checkpoint and stop" << std::endl;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      LB_CHECK(errno == EINTR, "lowbit study: waitpid failed: ", std::strerror(errno));
      continue;
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const PlannedRun& r = *it->second.first;
    const double minutes = std::chrono::duration<double>(Clock::now() - it->second.second).count() / 60.0;
    running.erase(it);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 0 && r.finished_in_runs()) {
      record_finished_run(r);
      std::cout << now_text() << "  done " << r.name << " in " << format_double("%.1f", minutes)
                << " min; copied to " << r.results_dir << std::endl;
      write_report(st, plan, refs);
    } else if (code == 130 || g_stop) {
      std::cout << now_text() << "  interrupted " << r.name << " (resumes on the next start)" << std::endl;
    } else {
      failed.push_back(r.name);
      std::cout << now_text() << "  FAILED " << r.name << " (exit " << code << "); see "
                << (fs::path(plan.study_runs_dir) / (r.name + ".log")).string() << std::endl;
    }
  }
  if (g_stop) {
    std::cout << "lowbit study: stopped; start the same command again to continue" << std::endl;
    std::exit(130);
  }
  const auto left = std::count_if(plan.runs.begin(), plan.runs.end(), left_out);
  if (left == 0)
    std::cout << now_text() << "  study " << st.name << " complete\n";
  else
    std::cout << now_text() << "  the runs selected by --only are done; " << left << " other run(s) of study "
              << st.name << " still to run\n";
  write_report(st, plan, refs);
  LB_CHECK(failed.empty(), "lowbit study: ", failed.size(), " run(s) failed: ", failed.front(),
           failed.size() > 1 ? " ..." : "", " (their logs are in ", plan.study_runs_dir, ")");
}
}  // namespace

void add_study_command(CLI::App& app) {
  auto args = std::make_shared<StudyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "study", "Run every (experiment, seed) of a study, resumably; write its table and pictures");
  cmd->add_option("study", args->study, "Study JSON file (docs/study.md)")->required();
  cmd->add_option("--jobs", args->jobs, "Runs at a time (the threads are split between them)");
  cmd->add_option("--set", args->sets,
                  "Override a value of every run's config, e.g. --set train.epochs=1 (repeatable)");
  cmd->add_option("--compress-set", args->compress_sets,
                  "Override a value of every compress run's compress file, e.g. --compress-set "
                  "prune.retrain.epochs=1 (repeatable; --set goes to the experiment it trains)");
  cmd->add_option("--only", args->only,
                  "Start only the runs whose name (<run>_s<seed>) matches this shell glob, e.g. --only "
                  "'bnn_*' --only '*_s2' (repeatable; the report still covers every finished run)");
  cmd->add_flag("--report", args->report_only, "Only write results/<study>/table.md, table.json and the SVGs");
  cmd->add_flag("--dry-run", args->dry_run, "Print what would run, then stop");
  cmd->add_option("--runs", args->runs_root, "Folder of the run folders (default runs)");
  cmd->add_option("--results", args->results_root, "Folder of the committed results (default results)");
  cmd->callback([args] { run_study(*args); });
}

}  // namespace lowbit::cli
