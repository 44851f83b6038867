// A/B timing of a whole network inside one process: training steps (forward + backward +
// Adam, batch 100) and evaluation (the trainer's evaluate(), no gradients, batch 1000), with
// conv2d's plain algorithms (A) and its defaults (B) alternating step by step, keeping each
// one's minimum (a busy machine makes separate runs incomparable). bench/conv_ab does the same
// per convolution. Random pixels of the config's image shape (the work does not depend on them).
//
//   build/bench/net_ab [--config experiments/cifar10/vgg_small.json] [--reps 10] [--cpu]
//   (threads: LOWBIT_NUM_THREADS)
//
// A: ConvWeightGrad::Direct, Im2colRows::Segments, ConvProduct::Blas (core/kernels/conv_algo.h);
// the input gradient is the default in both. --cpu times by the process's CPU time summed over
// its threads instead of wall time (for a loaded machine; waiting threads sleep, cost none).
// Prints min ms per training step and per evaluation of 2,000 images for A and B, and A / B.
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
#include "core/kernels/conv_algo.h"
#include "datasets/data_loader.h"
#include "datasets/transforms.h"
#include "experiment/config.h"
#include "experiment/evaluate.h"
#include "layers/registry.h"
#include "optim/adam.h"

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

void use_variant(bool b) {
  kernels::set_conv_weight_grad(b ? kernels::ConvWeightGrad::Auto : kernels::ConvWeightGrad::Direct);
  kernels::set_im2col_rows(b ? kernels::Im2colRows::Auto : kernels::Im2colRows::Segments);
  kernels::set_conv_product(b ? kernels::ConvProduct::Auto : kernels::ConvProduct::Blas);
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
  int reps = 10;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--cpu")) cpu_time = true;
    else if (i + 1 >= argc) break;
    else if (!std::strcmp(argv[i], "--config")) config = argv[++i];
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[++i]);
  }
  const auto cfg = load_json_file(config);
  const std::string dataset = cfg.at("data").at("dataset");
  const Shape chw = dataset == "cifar10" ? Shape{3, 32, 32} : Shape{1, 28, 28};
  const TransformList transforms = make_transforms(cfg.at("data").value("transforms", nlohmann::json::array()),
                                                   "data.transforms");
  const InMemoryDataset data = random_images(2000, chw);
  const DataLoader loader(data, transforms, {.batch_size = 100, .shuffle = false, .augment = false});
  Rng rng(0);
  ModulePtr model = make_module(cfg.at("model").at("layers"), rng, "net_ab");
  Adam opt(model->parameters(), model->param_lr_scales(), {.lr = 1e-3});

  double train[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
  double eval[2] = {train[0], train[1]};
  for (int r = 0; r < reps + 1; ++r)
    for (int v = 0; v < 2; ++v) {
      use_variant(v == 1);
      model->train();
      const Batch b = loader.batch(r % loader.num_batches());
      double t0 = now_ms();
      opt.zero_grad();
      cross_entropy((*model)(Var(b.images)), b.labels).backward();
      opt.step();
      model->apply_after_step();
      const double step_ms = now_ms() - t0;
      t0 = now_ms();
      evaluate(*model, data, transforms, 1000);
      const double eval_ms = now_ms() - t0;
      if (r > 0) {  // r = 0: warm-up
        train[v] = std::min(train[v], step_ms);
        eval[v] = std::min(eval[v], eval_ms);
      }
    }
  use_variant(true);
  std::cout << config << " (" << num_threads() << " threads)\n"
            << "training step, batch 100: A " << train[0] << " ms, B " << train[1] << " ms, A/B "
            << train[0] / train[1] << '\n'
            << "evaluation of " << data.size() << " images: A " << eval[0] << " ms, B " << eval[1]
            << " ms, A/B " << eval[0] / eval[1] << '\n';
  return 0;
}
