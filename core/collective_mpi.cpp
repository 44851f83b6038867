// The MPI process group (compiled when CMake finds MPI; core/collective.h).
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "core/check.h"
#include "core/collective.h"

namespace lowbit {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class MpiCollective final : public Collective {
 public:
  MpiCollective() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    // Errors come back as codes (ended with a message naming the rank), not a silent abort.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    timeout_seconds_ = env_int("LOWBIT_COLLECTIVE_TIMEOUT", 300);
    watchdog_ = std::thread([this] { watch(); });
  }
  ~MpiCollective() override {
    stop_ = true;
    watchdog_.join();
    MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }

  [[noreturn]] void abort(const std::string& message) override {
    std::cerr << "lowbit: rank " << rank_ << " of " << size_ << ": " << message << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

 protected:
  void do_allreduce_sum(float* data, int64_t n) override {
    guarded("allreduce", [&] {
      return MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD);
    });
  }
  void do_allreduce_sum(double* data, int64_t n) override {
    guarded("allreduce", [&] {
      return MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, MPI_SUM,
                           MPI_COMM_WORLD);
    });
  }
  std::vector<uint64_t> do_allgather(uint64_t value) override {
    std::vector<uint64_t> out(static_cast<size_t>(size_));
    guarded("allgather", [&] {
      return MPI_Allgather(&value, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
    });
    return out;
  }
  void do_allgather(const float* mine, float* all, const std::vector<int64_t>& counts) override {
    gatherv(mine, all, counts, MPI_FLOAT);
  }
  void do_allgather(const double* mine, double* all, const std::vector<int64_t>& counts) override {
    gatherv(mine, all, counts, MPI_DOUBLE);
  }

 private:
  template <typename T>
  void gatherv(const T* mine, T* all, const std::vector<int64_t>& counts, MPI_Datatype type) {
    std::vector<int> n(counts.size()), at(counts.size());
    int64_t offset = 0;
    for (size_t r = 0; r < counts.size(); ++r) {
      LB_CHECK(counts[r] >= 0 && counts[r] <= INT32_MAX && offset <= INT32_MAX,
               "allgather: ", counts[r], " values at offset ", offset, " exceed MPI's int counts");
      n[r] = static_cast<int>(counts[r]);
      at[r] = static_cast<int>(offset);
      offset += counts[r];
    }
    guarded("allgather", [&] {
      return MPI_Allgatherv(mine, n[size_t(rank_)], type, all, n.data(), at.data(), type,
                            MPI_COMM_WORLD);
    });
  }

  // Runs an MPI call under the watchdog's deadline; a failed call ends the job.
  template <typename F>
  void guarded(const char* what, F&& call) {
    what_ = what;
    deadline_ = std::chrono::steady_clock::now().time_since_epoch().count() +
                int64_t(timeout_seconds_) * 1'000'000'000;
    const int rc = call();
    deadline_ = 0;
    if (rc != MPI_SUCCESS) {
      char text[MPI_MAX_ERROR_STRING];
      int len = 0;
      MPI_Error_string(rc, text, &len);
      abort(std::string(what) + " failed: " + std::string(text, size_t(len)) +
            " (another process has probably died)");
    }
  }

  // A collective call that waits past its deadline means a peer is stuck (or gone without
  // the launcher noticing): end this process; the launcher then ends the others.
  void watch() {
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const int64_t d = deadline_;
      if (d != 0 && std::chrono::steady_clock::now().time_since_epoch().count() > d) {
        std::cerr << "lowbit: rank " << rank_ << " of " << size_ << ": " << what_.load()
                  << " waited more than " << timeout_seconds_
                  << " s (LOWBIT_COLLECTIVE_TIMEOUT): another process is stuck or has died; "
                     "ending the job"
                  << std::endl;
        std::_Exit(1);
      }
    }
  }

  int rank_ = 0, size_ = 1, timeout_seconds_ = 300;
  std::atomic<int64_t> deadline_{0};
  std::atomic<const char*> what_{""};
  std::atomic<bool> stop_{false};
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<Collective> mpi_collective_from_environment() {
  if (mpi_launcher_size() <= 1) return nullptr;
  return std::make_unique<MpiCollective>();
}

}  // namespace lowbit
