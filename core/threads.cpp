#include "core/threads.h"

#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <string>

#include "core/check.h"

namespace lowbit {

namespace {
int& thread_count() {
  static int n = [] {
    int cores = omp_get_num_procs();
    if (const char* env = std::getenv("LOWBIT_NUM_THREADS"); env && *env) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      LB_CHECK(end && *end == '\0' && v >= 1 && v <= 1024,
               "LOWBIT_NUM_THREADS: expected a positive integer, got \"", env, "\"");
      cores = static_cast<int>(v);
    }
    omp_set_num_threads(cores);
    openblas_set_num_threads(cores);
    return cores;
  }();
  return n;
}
}  // namespace

int num_threads() { return thread_count(); }

void set_num_threads(int n) {
  LB_CHECK(n >= 1, "set_num_threads: expected n >= 1, got ", n);
  thread_count() = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

}  // namespace lowbit
