#pragma once
/// Training progress output: a live bar on a terminal (epoch, batch, loss, images/s, ETA),
/// plain per-epoch lines otherwise (logs, CI, pipes).
#include <chrono>
#include <cstdint>
#include <string>

namespace lowbit {

class Progress {
 public:
  /// `interactive`: redraw a bar on stderr (true when stderr is a terminal).
  Progress(int64_t epochs, int64_t batches_per_epoch, bool interactive);
  /// Starts epoch `epoch` (1-based) at batch `first_batch` (non-zero when resuming).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  /// After each batch: running mean loss and images processed in this epoch so far.
  void batch_done(int64_t batch, double mean_loss, int64_t images);
  /// Ends the epoch with its summary line (always printed, on stdout).
  void end_epoch(const std::string& summary);
  /// True when stderr is a terminal.
  static bool stderr_is_terminal();

 private:
  using Clock = std::chrono::steady_clock;
  int64_t epochs_, batches_;
  bool interactive_;
  int64_t epoch_ = 0, first_batch_ = 0;
  Clock::time_point start_, last_draw_;
};

}  // namespace lowbit
