// A/B timing of evaluation (validation/test: forward only, no gradients) at two batch sizes
// inside one process, alternating and keeping each one's minimum (a busy machine makes
// separate runs incomparable). The network and transforms of a config (default
// experiments/cifar10/vgg_small.json), on random images of CIFAR-10's shape, through the
// trainer's own evaluate().
//
//   build/bench/eval_ab [--config FILE] [--images 2000] [--reps 5] [--a 1000] [--b 100] [--cpu]
//   (threads: LOWBIT_NUM_THREADS)
//
// --cpu times by the process's CPU time summed over its threads instead of wall time (for a
// loaded machine; threads waiting for work sleep and cost none).
// Prints min ms of A and B and the ratio A / B (> 1: batch size B is faster).
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "core/blas_setup.h"
#include "core/core.h"
#include "core/heap.h"
#include "datasets/transforms.h"
#include "experiment/config.h"
#include "experiment/evaluate.h"
#include "layers/registry.h"

using namespace lowbit;

namespace {

bool cpu_time = false;

double now_ms() {
  if (!cpu_time)
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

InMemoryDataset random_images(int64_t n, const Shape& chw) {
  Rng rng(7);
  std::vector<uint8_t> px(static_cast<size_t>(n * shape_numel(chw)));
  for (uint8_t& p : px) p = static_cast<uint8_t>(rng.below(256));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int32_t& l : labels) l = static_cast<int32_t>(rng.below(10));
  std::vector<std::string> classes;
  for (int c = 0; c < 10; ++c) classes.push_back("class" + std::to_string(c));
  return InMemoryDataset(std::move(px), std::move(labels), chw, std::move(classes));
}

}  // namespace

int main(int argc, char** argv) {
  lowbit::prepare_compute_runtime(argv);  // as the lowbit command does (may re-execute)
  keep_freed_memory();
  std::string config = "experiments/cifar10/vgg_small.json";
  int64_t images = 2000, batch[2] = {1000, 100};
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--cpu")) cpu_time = true;
    else if (i + 1 >= argc) break;
    else if (!std::strcmp(argv[i], "--config")) config = argv[++i];
    else if (!std::strcmp(argv[i], "--images")) images = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--a")) batch[0] = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--b")) batch[1] = std::atoll(argv[++i]);
  }
  const auto cfg = load_json_file(config);
  Rng rng(0);
  ModulePtr model = make_module(cfg.at("model").at("layers"), rng, "eval_ab");
  const TransformList transforms = make_transforms(cfg.at("data").at("transforms"), "data.transforms");
  const InMemoryDataset data = random_images(images, {3, 32, 32});
  double best[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
  double acc[2] = {0, 0};
  for (int r = 0; r < reps + 1; ++r)
    for (int v = 0; v < 2; ++v) {
      const double t0 = now_ms();
      acc[v] = evaluate(*model, data, transforms, batch[v]);
      const double ms = now_ms() - t0;
      if (r > 0) best[v] = std::min(best[v], ms);  // r = 0: warm-up
    }
  std::cout << "eval of " << images << " images: batch " << batch[0] << " (A) " << best[0]
            << " ms, batch " << batch[1] << " (B) " << best[1] << " ms, A/B " << best[0] / best[1]
            << "; accuracy A " << acc[0] << ", B " << acc[1] << '\n';
  return 0;
}
