// Engine benchmark: forward + backward + Adam update of two nets on real MNIST batches
// (batch 100), as bench/torch_reference.py does in PyTorch. Prints one JSON line per net.
//
//   LOWBIT_NUM_THREADS=2 build/bench/engine_bench [--steps 50] [--data data/mnist]
//
// Nets: (a) MLP 784-2048-2048-2048-10 with batch norm and ReLU; (b) LeNet-5
// 32C5-MP2-64C5-MP2-512FC-10 with ReLU. Cross-entropy loss. Timing excludes 5 warm-up steps.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/heap.h"
#include "core/core.h"
#include "datasets/data_loader.h"
#include "datasets/idx.h"
#include "layers/registry.h"
#include "optim/adam.h"

using namespace lowbit;
using nlohmann::json;

namespace {

json mlp_spec() {
  json layers = json::array({{{"type", "flatten"}}});
  int64_t width = 784;
  for (int i = 0; i < 3; ++i) {
    layers.push_back({{"type", "linear"}, {"in_features", width}, {"out_features", 2048}});
    layers.push_back({{"type", "batch_norm1d"}, {"num_features", 2048}});
    layers.push_back({{"type", "relu"}});
    width = 2048;
  }
  layers.push_back({{"type", "linear"}, {"in_features", width}, {"out_features", 10}});
  return layers;
}

json lenet5_spec() {
  return json::parse(R"([
    {"type": "conv2d", "in_channels": 1, "out_channels": 32, "kernel_size": 5},
    {"type": "relu"}, {"type": "max_pool2d", "kernel_size": 2},
    {"type": "conv2d", "in_channels": 32, "out_channels": 64, "kernel_size": 5},
    {"type": "relu"}, {"type": "max_pool2d", "kernel_size": 2},
    {"type": "flatten"},
    {"type": "linear", "in_features": 1024, "out_features": 512},
    {"type": "relu"},
    {"type": "linear", "in_features": 512, "out_features": 10}])");
}

double time_net(const json& spec, const DataLoader& loader, int steps, int warmup) {
  Rng rng(0);
  ModulePtr model = make_module(spec, rng, "bench");
  Adam opt(model->parameters(), model->param_lr_scales(), {.lr = 1e-3});
  model->train();
  auto step = [&](int i) {
    const Batch b = loader.batch(i % loader.num_batches());
    opt.zero_grad();
    cross_entropy((*model)(Var(b.images)), b.labels).backward();
    opt.step();
  };
  for (int i = 0; i < warmup; ++i) step(i);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step(warmup + i);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return steps * 100.0 / secs;
}

}  // namespace

int main(int argc, char** argv) {
  lowbit::keep_freed_memory();  // as the lowbit command does
  int steps = 50;
  std::string root = "data/mnist";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--data")) root = argv[i + 1];
  }
  try {
    const InMemoryDataset train = load_mnist(root, "train").slice(0, 10000);
    DataLoader loader(train, {transforms::scale(0, 1)}, {.batch_size = 100, .shuffle = true, .seed = 1});
    // Pre-assembled batches would flatter us; the loader runs inside the timed step as in
    // PyTorch's reference, which slices a preloaded tensor (cheaper than our transform).
    for (const auto& [name, spec] : {std::pair{"mlp", mlp_spec()}, std::pair{"lenet5", lenet5_spec()}}) {
      const double ips = time_net(spec, loader, steps, 5);
      std::cout << json{{"net", name}, {"framework", "lowbit"}, {"threads", num_threads()},
                        {"batch", 100}, {"images_per_second", std::round(ips * 10) / 10}}
                       .dump()
                << std::endl;
    }
  } catch (const Error& e) {
    std::cerr << "engine_bench: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
