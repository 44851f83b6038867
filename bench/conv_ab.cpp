// A/B timing of conv2d's algorithms inside one process (a busy machine makes separate runs
// incomparable; alternating the two variants step by step and keeping each one's minimum
// does not). For each convolution of VGG-small and LeNet-5 (batch 100): forward + backward of
// conv2d → batch_norm → relu, the block those nets train, with variant A and B (the defaults)
// alternating. What A is, by --compare:
//   input_grad  the plain algorithms: col2im input gradient, relu after batch norm
//   weight_grad the weight gradient as g · colsᵀ (ConvWeightGrad::Direct), the rest default
//   product     w · cols by im2col + OpenBLAS instead of the panel kernel (ConvProduct::Blas)
//   im2col      im2col segment by segment (Im2colRows::Segments), everything else the default
// --forward times the forward pass only (evaluation), no backward.
//
// --layer NAME runs only the layers whose name contains NAME (e.g. "conv2 32").
// --cpu times by the process's CPU time instead of wall time (for a loaded machine).
//
//   build/bench/conv_ab [--reps 20] [--batch 100] [--compare input_grad] [--forward] [--cpu]
//                       [--layer NAME]
//   (threads: LOWBIT_NUM_THREADS)
//
// Prints one line per layer: min ms of A and B and the ratio A / B (> 1: B is faster).
// Under callgrind (instruction counts do not depend on the machine's load), run one rep on an
// AVX2 build (see bench/step_profile.cpp) and read the inclusive costs of variant_a / variant_b:
//   LOWBIT_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell valgrind --tool=callgrind
//       build-cg/bench/conv_ab --reps 1 --batch 10
//   callgrind_annotate --inclusive=yes callgrind.out.* | grep variant_
#include <algorithm>
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

using namespace lowbit;

namespace {

bool cpu_time = false;

/// Milliseconds of wall time, or with --cpu of CPU time summed over the process's threads:
/// time a thread waits for a core that another process holds is not counted, so on a loaded
/// machine the CPU-time minima stay comparable where wall-clock minima do not (threads that
/// wait for work sleep, OMP_WAIT_POLICY=PASSIVE, and cost no CPU time).
double now_ms() {
  if (!cpu_time)
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

struct Layer {
  std::string name;
  int64_t C, H, OC, K, pad;
};

std::string compare = "input_grad";  // --compare: what variant A changes

void use_variant(bool b) {
  const bool a = !b;
  kernels::set_conv_input_grad(a && compare == "input_grad" ? kernels::ConvInputGrad::Col2im
                                                            : kernels::ConvInputGrad::Auto);
  kernels::set_conv_weight_grad(a && compare == "weight_grad" ? kernels::ConvWeightGrad::Direct
                                                              : kernels::ConvWeightGrad::Auto);
  kernels::set_im2col_rows(a && compare == "im2col" ? kernels::Im2colRows::Segments
                                                    : kernels::Im2colRows::Auto);
  kernels::set_conv_product(a && compare == "product" ? kernels::ConvProduct::Blas
                                                      : kernels::ConvProduct::Auto);
}

// Separate functions so that callgrind attributes each variant's instructions to its own name.
template <class Step>
__attribute__((noinline)) void variant_a(Step& step) {
  use_variant(false);
  step();
}
template <class Step>
__attribute__((noinline)) void variant_b(Step& step) {
  use_variant(true);
  step();
}

}  // namespace

int main(int argc, char** argv) {
  // As the lowbit command does (may re-execute): above all OMP_WAIT_POLICY=PASSIVE, without
  // which idle OpenMP threads spin and --cpu would count their spinning.
  lowbit::prepare_compute_runtime(argv);
  keep_freed_memory();
  int reps = 20;
  int64_t batch = 100;
  bool forward_only = false;
  std::string only;  // --layer: the layers whose name contains it
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--forward")) forward_only = true;
    else if (!std::strcmp(argv[i], "--cpu")) cpu_time = true;
    else if (i + 1 >= argc) break;
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--layer")) only = argv[++i];
    else if (!std::strcmp(argv[i], "--compare")) {
      compare = argv[++i];
      if (compare != "input_grad" && compare != "weight_grad" && compare != "im2col" &&
          compare != "product") {
        std::cerr << "conv_ab: --compare " << compare
                  << ": expected input_grad, weight_grad, im2col or product\n";
        return 2;
      }
    }
  }
  const std::vector<Layer> layers = {
      {"vgg conv1 3->32 @32x32", 3, 32, 32, 3, 1},    {"vgg conv2 32->32 @32x32", 32, 32, 32, 3, 1},  {"vgg conv3 32->64 @16x16", 32, 16, 64, 3, 1},
      {"vgg conv4 64->64 @16x16", 64, 16, 64, 3, 1},  {"vgg conv5 64->128 @8x8", 64, 8, 128, 3, 1},
      {"vgg conv6 128->128 @8x8", 128, 8, 128, 3, 1}, {"lenet conv2 32->64 @12x12", 32, 12, 64, 5, 0},
  };
  Rng rng(1);
  double total_a = 0, total_b = 0;
  for (const Layer& l : layers) {
    if (l.name.find(only) == std::string::npos) continue;
    const Tensor x0 = Tensor::uniform({batch, l.C, l.H, l.H}, rng, -1.f, 1.f);
    Var w(Tensor::uniform({l.OC, l.C, l.K, l.K}, rng, -0.1f, 0.1f), true);
    Var gamma(Tensor::ones({l.OC}), true), beta(Tensor::zeros({l.OC}), true);
    Tensor rm = Tensor::zeros({l.OC}), rv = Tensor::ones({l.OC});
    auto step = [&] {
      Var x(x0, true);
      const bool fused = kernels::conv_input_grad() == kernels::ConvInputGrad::Auto;
      if (forward_only) {
        NoGradGuard no_grad;
        (void)conv2d(x, w, Var(), {.stride = 1, .padding = l.pad});
        return;
      }
      Var h = conv2d(x, w, Var(), {.stride = 1, .padding = l.pad});
      Var y = fused ? batch_norm(h, gamma, beta, rm, rv, {.relu = true})
                    : relu(batch_norm(h, gamma, beta, rm, rv, {}));
      y.backward(Tensor::ones(y.shape()));
    };
    double best[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
    for (int r = 0; r < reps + 1; ++r)
      for (int v = 0; v < 2; ++v) {
        const double t0 = now_ms();
        if (v == 0) variant_a(step);
        else variant_b(step);
        const double ms = now_ms() - t0;
        if (r > 0) best[v] = std::min(best[v], ms);  // r = 0: warm-up
      }
    total_a += best[0], total_b += best[1];
    std::cout << l.name << ": A " << best[0] << " ms, B " << best[1] << " ms, A/B "
              << best[0] / best[1] << '\n';
  }
  std::cout << "all layers: A/B " << total_a / total_b << '\n';
  use_variant(true);
  return 0;
}
