// One training step of VGG-small FP (experiments/cifar10/vgg_small.json's network) written
// with core ops only: forward, loss, backward, no optimizer. A small target for
// `valgrind --tool=callgrind`, whose instruction counts are repeatable on a busy machine:
//
//   cmake -S . -B build-cg -DCMAKE_BUILD_TYPE=Release -DLB_NATIVE=OFF -DCMAKE_CXX_FLAGS="-march=x86-64-v3 -g"
//   cmake --build build-cg --target step_profile
//   LOWBIT_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell valgrind --tool=callgrind --toggle-collect='*timed_steps*' build-cg/bench/step_profile --batch 10 --steps 1
//
// Valgrind does not decode AVX-512, hence the AVX2 build and OpenBLAS's Haswell kernels; the
// AVX-512 paths of im2col/col2im are not what this profiles (their scalar fallbacks are). One
// step at batch 10 is ~0.5 G instructions (~8 minutes under callgrind on a busy 2-core VM).
// Links only lowbit::core.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "core/core.h"

using namespace lowbit;

namespace {

struct ConvBlock {
  Var w, gamma, beta;
  Tensor rm, rv;
};

ConvBlock block(int64_t c, int64_t oc, Rng& rng) {
  const float a = 1.f / std::sqrt(float(c * 9));
  return {Var(Tensor::uniform({oc, c, 3, 3}, rng, -a, a), true), Var(Tensor::ones({oc}), true),
          Var(Tensor::zeros({oc}), true), Tensor::zeros({oc}), Tensor::ones({oc})};
}

Var apply(const ConvBlock& b, const Var& x) {
  // batch norm + relu fused, as Sequential runs them (layers/sequential.cpp)
  return batch_norm(conv2d(x, b.w, Var(), {.stride = 1, .padding = 1}), b.gamma, b.beta, b.rm, b.rv,
                    {.relu = true});
}

__attribute__((noinline)) void run_steps(int steps, const Tensor& images, const Tensor& labels,
                                         std::vector<ConvBlock>& convs, const Var& fc1,
                                         const ConvBlock& bn1, const Var& fc2) {
  for (int s = 0; s < steps; ++s) {
    Var h(images);
    for (size_t i = 0; i < convs.size(); ++i) {
      h = apply(convs[i], h);
      if (i % 2 == 1) h = max_pool2d(h, 2);
    }
    h = batch_norm(linear(flatten(h), fc1), bn1.gamma, bn1.beta, bn1.rm, bn1.rv, {.relu = true});
    cross_entropy(linear(h, fc2), labels).backward();
  }
}

/// The collected part: `steps` steps after the warm-up one.
__attribute__((noinline)) void timed_steps(int steps, const Tensor& images, const Tensor& labels,
                                           std::vector<ConvBlock>& convs, const Var& fc1,
                                           const ConvBlock& bn1, const Var& fc2) {
  run_steps(steps, images, labels, convs, fc1, bn1, fc2);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 10;
  int steps = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
  }
  Rng rng(1);
  std::vector<ConvBlock> convs;
  const int64_t widths[] = {3, 32, 32, 64, 64, 128, 128};
  for (int i = 0; i < 6; ++i) convs.push_back(block(widths[i], widths[i + 1], rng));
  const Var fc1(Tensor::uniform({256, 2048}, rng, -0.02f, 0.02f), true);
  const ConvBlock bn1{Var(), Var(Tensor::ones({256}), true), Var(Tensor::zeros({256}), true),
                      Tensor::zeros({256}), Tensor::ones({256})};
  const Var fc2(Tensor::uniform({10, 256}, rng, -0.06f, 0.06f), true);
  const Tensor images = Tensor::uniform({batch, 3, 32, 32}, rng, -1.f, 1.f);
  Tensor labels = Tensor::empty({batch});
  for (int64_t i = 0; i < batch; ++i) labels.data()[i] = float(i % 10);
  run_steps(1, images, labels, convs, fc1, bn1, fc2);  // warm-up: not collected
  timed_steps(steps, images, labels, convs, fc1, bn1, fc2);
  std::cout << "step_profile: " << steps << " step(s) of batch " << batch << " done ("
            << num_threads() << " threads)\n";
  return 0;
}
