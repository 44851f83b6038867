// Engine benchmark: forward + backward + Adam update (+ the layers' after-step hooks, e.g.
// weight clipping) on real batches of 100, as bench/torch_reference.py does in PyTorch. Prints
// one JSON line per net, then one for OpenBLAS sgemm measured in the same process.
//
//   build/bench/engine_bench [--steps 50] [--warmup 5] [--nets mlp,lenet5,vgg_small,vgg_small_bnn]
//                            [--mnist data/mnist]
//   (threads: LOWBIT_NUM_THREADS, default all cores)
//
// Nets: (a) MLP 784-2048-2048-2048-10 with batch norm and ReLU; (b) LeNet-5
// 32C5-MP2-64C5-MP2-512FC-10 with ReLU, both on MNIST; (c) VGG-small FP and (d) VGG-small BNN,
// the networks of experiments/cifar10/vgg_small.json and vgg_small_bnn.json (read from those
// files), on random pixels of CIFAR-10's shape, as in the PyTorch reference (the work of a step
// does not depend on pixel values; decoding the JPEG data would cost more than the benchmark
// and would write a cache next to the data). Cross-entropy loss for all (the BNN experiment trains with squared
// hinge; the loss is a negligible share of the step). Timing excludes the warm-up steps.
//
// "gflops" counts 6 FLOPs per multiply-accumulate of the forward pass per image (forward,
// weight gradient, input gradient: 3 GEMMs of 2 FLOPs per MAC), the usual training estimate.
// The sgemm line is OpenBLAS's rate on a large square product at the same thread count: the
// machine's attainable float rate, so gflops / sgemm_gflops says how much of it lowbit uses.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/blas_setup.h"
#include "core/core.h"
#include "core/heap.h"
#include "datasets/data_loader.h"
#include "datasets/idx.h"
#include "experiment/config.h"
#include "layers/registry.h"
#include "optim/adam.h"
#include "quant/registry.h"

using namespace lowbit;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

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

/// Forward multiply-accumulates per image of a layer list on (C, H, W) inputs: convolutions
/// and linear layers (the rest is a rounding error of the count).
double forward_macs(const json& layers, Shape chw) {
  double macs = 0;
  for (const json& l : layers) {
    const std::string type = l.at("type");
    if (type == "conv2d" || type == "quant_conv2d") {
      const int64_t k = l.at("kernel_size"), p = l.value("padding", 0), s = l.value("stride", 1);
      const int64_t oc = l.at("out_channels");
      const int64_t oh = (chw[1] + 2 * p - k) / s + 1, ow = (chw[2] + 2 * p - k) / s + 1;
      macs += double(oc) * double(chw[0]) * double(k * k) * double(oh * ow);
      chw = {oc, oh, ow};
    } else if (type == "max_pool2d" || type == "avg_pool2d") {
      const int64_t k = l.at("kernel_size"), s = l.value("stride", k);
      chw = {chw[0], (chw[1] - k) / s + 1, (chw[2] - k) / s + 1};
    } else if (type == "linear" || type == "quant_linear") {
      macs += double(l.at("in_features").get<int64_t>()) * double(l.at("out_features").get<int64_t>());
    }
  }
  return macs;
}

/// Images per second of training steps (after `warmup` untimed ones).
double time_net(const json& spec, const DataLoader& loader, int steps, int warmup) {
  Rng rng(0);
  ModulePtr model = make_module(spec, rng, "bench");
  Adam opt(model->parameters(), model->param_lr_scales(), {.lr = 1e-3});
  model->train();
  int64_t images = 0;
  auto step = [&](int i) {
    const Batch b = loader.batch(i % loader.num_batches());
    opt.zero_grad();
    cross_entropy((*model)(Var(b.images)), b.labels).backward();
    opt.step();
    model->apply_after_step();
    return b.images.size(0);
  };
  for (int i = 0; i < warmup; ++i) step(i);
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) images += step(warmup + i);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return double(images) / secs;
}

/// OpenBLAS sgemm GFLOP/s on n×n×n at the current thread count: the best of several runs.
double sgemm_gflops(int n) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  double best = 0;
  const auto until = Clock::now() + std::chrono::milliseconds(1500);
  for (int rep = 0; rep < 3 || (Clock::now() < until && rep < 50); ++rep) {
    const auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n,
                0.f, c.data(), n);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (rep > 0) best = std::max(best, 2.0 * n * n * double(n) / secs / 1e9);  // rep 0: warm-up
  }
  return best;
}

/// 10,000 random images of CIFAR-10's shape (3, 32, 32) with random labels, seeded.
InMemoryDataset random_cifar10() {
  const int64_t n = 10000, numel = 3 * 32 * 32;
  Rng rng(7);
  std::vector<uint8_t> px(static_cast<size_t>(n * numel));
  for (uint8_t& p : px) p = static_cast<uint8_t>(rng.below(256));
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int32_t& l : labels) l = static_cast<int32_t>(rng.below(10));
  std::vector<std::string> classes;
  for (int c = 0; c < 10; ++c) classes.push_back("class" + std::to_string(c));
  return InMemoryDataset(std::move(px), std::move(labels), {3, 32, 32}, std::move(classes));
}

double round1(double v) { return std::round(v * 10) / 10; }

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  lowbit::prepare_compute_runtime(argv);  // as the lowbit command does (may re-execute)
  lowbit::keep_freed_memory();            // as the lowbit command does
  int steps = 50, warmup = 5;
  std::string mnist = "data/mnist";
  std::vector<std::string> nets = {"mlp", "lenet5", "vgg_small", "vgg_small_bnn"};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--data") || !std::strcmp(argv[i], "--mnist")) mnist = argv[i + 1];
    else if (!std::strcmp(argv[i], "--warmup")) warmup = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--nets")) nets = split_commas(argv[i + 1]);
    else {
      std::cerr << "engine_bench: unknown option " << argv[i] << '\n';
      return 2;
    }
  }
  try {
    register_quant_modules();
    std::unique_ptr<DataLoader> mnist_loader, cifar_loader;
    auto loader_for = [&](bool cifar) -> const DataLoader& {
      // Pre-assembled batches would flatter us; the loader runs inside the timed step as in
      // PyTorch's reference, which slices a preloaded tensor (cheaper than our transform).
      std::unique_ptr<DataLoader>& l = cifar ? cifar_loader : mnist_loader;
      if (!l) {
        const InMemoryDataset train = cifar ? random_cifar10() : load_mnist(mnist, "train").slice(0, 10000);
        l = std::make_unique<DataLoader>(train, TransformList{transforms::scale(0, 1)},
                                         DataLoaderOptions{.batch_size = 100, .shuffle = true, .seed = 1});
      }
      return *l;
    };
    for (const std::string& name : nets) {
      json spec;
      bool cifar = false;
      if (name == "mlp") spec = mlp_spec();
      else if (name == "lenet5") spec = lenet5_spec();
      else if (name == "vgg_small" || name == "vgg_small_bnn") {
        spec = load_json_file("experiments/cifar10/" + name + ".json").at("model").at("layers");
        cifar = true;
      } else {
        std::cerr << "engine_bench: unknown net " << name << " (mlp, lenet5, vgg_small, vgg_small_bnn)\n";
        return 2;
      }
      const double ips = time_net(spec, loader_for(cifar), steps, warmup);
      const double macs = forward_macs(spec, cifar ? Shape{3, 32, 32} : Shape{1, 28, 28});
      std::cout << json{{"net", name},
                        {"framework", "lowbit"},
                        {"threads", num_threads()},
                        {"batch", 100},
                        {"images_per_second", round1(ips)},
                        {"forward_mmacs", round1(macs / 1e6)},
                        {"gflops", round1(ips * 6 * macs / 1e9)}}
                       .dump()
                << std::endl;
    }
    std::cout << json{{"net", "sgemm"},
                      {"framework", "openblas " + blas_core_name()},
                      {"threads", num_threads()},
                      {"shape", "1024x1024x1024"},
                      {"gflops", round1(sgemm_gflops(1024))},
                      {"compute_runtime", compute_runtime_summary()}}
                     .dump()
              << std::endl;
  } catch (const Error& e) {
    std::cerr << "engine_bench: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
