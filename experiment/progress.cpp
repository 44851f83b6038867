#include "experiment/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace lowbit {

Progress::Progress(int64_t epochs, int64_t batches_per_epoch, bool interactive)
    : epochs_(epochs), batches_(batches_per_epoch), interactive_(interactive) {}

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

void Progress::start_epoch(int64_t epoch, int64_t first_batch) {
  epoch_ = epoch;
  first_batch_ = first_batch;
  start_ = last_draw_ = Clock::now();
}

void Progress::batch_done(int64_t batch, double mean_loss, int64_t images) {
  if (!interactive_) return;
  const auto now = Clock::now();
  // Redrawing costs a syscall; 10 times a second is plenty for a human.
  if (batch + 1 < batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double ips = secs > 0 ? images / secs : 0.0;
  const int64_t done = batch + 1 - first_batch_;
  const double eta = done > 0 ? secs / done * (batches_ - batch - 1) : 0.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * (batch + 1) / std::max<int64_t>(batches_, 1));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld  loss %.4f  %.0f img/s  ETA %.0fs",
               static_cast<long long>(epoch_), static_cast<long long>(epochs_), bar.c_str(),
               static_cast<long long>(batch + 1), static_cast<long long>(batches_), mean_loss, ips,
               eta);
  std::fflush(stderr);
}

void Progress::end_epoch(const std::string& summary) {
  if (interactive_) std::fprintf(stderr, "\r\033[K");
  std::cout << summary << std::endl;
}

}  // namespace lowbit
