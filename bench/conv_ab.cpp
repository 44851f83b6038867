// A/B timing of conv2d's algorithms inside one process (a busy machine makes separate runs
// incomparable; alternating the two variants step by step and keeping each one's minimum
// does not). For each convolution of VGG-small and LeNet-5 (batch 100): forward + backward of
// conv2d → batch_norm → relu, the block those nets train, with variant A (the plain
// algorithms: col2im input gradient, relu after batch norm) and B (the defaults: correlation
// where it applies, batch norm with the fused relu) alternating.
//
//   build/bench/conv_ab [--reps 20] [--batch 100]     (threads: LOWBIT_NUM_THREADS)
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
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "core/core.h"
#include "core/heap.h"
#include "core/kernels/conv_algo.h"

using namespace lowbit;

namespace {

using Clock = std::chrono::steady_clock;

struct Layer {
  std::string name;
  int64_t C, H, OC, K, pad;
};

void use_variant(bool b) {
  kernels::set_conv_input_grad(b ? kernels::ConvInputGrad::Auto : kernels::ConvInputGrad::Col2im);
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
  keep_freed_memory();
  int reps = 20;
  int64_t batch = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
  }
  const std::vector<Layer> layers = {
      {"vgg conv2 32->32 @32x32", 32, 32, 32, 3, 1},  {"vgg conv3 32->64 @16x16", 32, 16, 64, 3, 1},
      {"vgg conv4 64->64 @16x16", 64, 16, 64, 3, 1},  {"vgg conv5 64->128 @8x8", 64, 8, 128, 3, 1},
      {"vgg conv6 128->128 @8x8", 128, 8, 128, 3, 1}, {"lenet conv2 32->64 @12x12", 32, 12, 64, 5, 0},
  };
  Rng rng(1);
  double total_a = 0, total_b = 0;
  for (const Layer& l : layers) {
    const Tensor x0 = Tensor::uniform({batch, l.C, l.H, l.H}, rng, -1.f, 1.f);
    Var w(Tensor::uniform({l.OC, l.C, l.K, l.K}, rng, -0.1f, 0.1f), true);
    Var gamma(Tensor::ones({l.OC}), true), beta(Tensor::zeros({l.OC}), true);
    Tensor rm = Tensor::zeros({l.OC}), rv = Tensor::ones({l.OC});
    auto step = [&] {
      Var x(x0, true);
      const bool fused = kernels::conv_input_grad() == kernels::ConvInputGrad::Auto;  // B
      Var h = conv2d(x, w, Var(), {.stride = 1, .padding = l.pad});
      Var y = fused ? batch_norm(h, gamma, beta, rm, rv, {.relu = true})
                    : relu(batch_norm(h, gamma, beta, rm, rv, {}));
      y.backward(Tensor::ones(y.shape()));
    };
    double best[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
    for (int r = 0; r < reps + 1; ++r)
      for (int v = 0; v < 2; ++v) {
        const auto t0 = Clock::now();
        if (v == 0) variant_a(step);
        else variant_b(step);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
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
