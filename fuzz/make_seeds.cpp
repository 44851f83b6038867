// Writes a small valid seed input per binary parser into <out>/<target>/ (scripts/fuzz.sh
// runs it before fuzzing): libFuzzer mutates from valid files, so it reaches the parsers'
// deeper checks at once instead of rediscovering each format's magic number.
//   make_seeds OUT_DIR
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/random.h"
#include "core/serialize.h"
#ifndef LB_DATA_SEEDS_ONLY
#include "compress/compressed_model.h"
#include "compress/prune.h"
#include "experiment/run_files.h"
#include "layers/registry.h"
#include "packed/convert.h"
#include "packed/packed_file.h"
#include "quant/registry.h"
#endif

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string idx_bytes(std::vector<uint32_t> dims, uint8_t fill) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  size_t n = 1;
  for (uint32_t d : dims) {
    for (int k = 3; k >= 0; --k) s += static_cast<char>((d >> (8 * k)) & 0xff);
    n *= d;
  }
  for (size_t i = 0; i < n; ++i) s += static_cast<char>((i * 7 + fill) % (fill ? 256 : 10));
  return s;
}

std::string gzip(const std::string& raw) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, raw.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void append_to_string(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

#ifndef LB_DATA_SEEDS_ONLY
ModulePtr tiny_bnn(Rng& rng) {
  register_quant_modules();
  const auto layers = nlohmann::json::parse(R"([
    {"type": "flatten"},
    {"type": "quant_linear", "in_features": 16, "out_features": 8, "bias": false,
     "weight_quantizer": "binary_connect"},
    {"type": "batch_norm1d", "num_features": 8},
    {"type": "quant_linear", "in_features": 8, "out_features": 4, "bias": false,
     "input_quantizer": "ste_sign", "weight_quantizer": "binary_connect"},
    {"type": "batch_norm1d", "num_features": 4}])");
  return make_module(layers, rng, "model.layers");
}
#endif

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  Rng rng(7);

  put(out / "idx", "images", idx_bytes({3, 4, 4}, 1));
  put(out / "idx", "labels", idx_bytes({3}, 0));
  put(out / "idx_gz", "images.gz", gzip(idx_bytes({3, 4, 4}, 1)));
  put(out / "idx_gz", "labels.gz", gzip(idx_bytes({3}, 0)));

  std::string cifar(2 * 3073, '\0');
  for (size_t i = 0; i < cifar.size(); ++i) cifar[i] = static_cast<char>(i % 3073 == 0 ? i % 10 : i * 13);
  put(out / "cifar10", "batch.bin", cifar);

  std::vector<uint8_t> rgb(8 * 6 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 37);
  for (int c : {1, 3}) {
    std::string png, jpg, bmp;
    stbi_write_png_to_func(append_to_string, &png, 8, 6, c, rgb.data(), 8 * c);
    stbi_write_jpg_to_func(append_to_string, &jpg, 8, 6, c, rgb.data(), 90);
    stbi_write_bmp_to_func(append_to_string, &bmp, 8, 6, c, rgb.data());
    put(out / "image", "c" + std::to_string(c) + ".png", png);
    put(out / "image", "c" + std::to_string(c) + ".jpg", jpg);
    put(out / "image", "c" + std::to_string(c) + ".bmp", bmp);
  }

  const fs::path tmp = fs::temp_directory_path() / ("lowbit_seeds_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  const NamedTensors tensors = {{"0.weight", Tensor::normal({3, 2}, rng)}, {"0.bias", Tensor::normal({3}, rng)}};
  save_safetensors((tmp / "a.safetensors").string(), tensors, {{"format", "pt"}});
  put(out / "safetensors", "a.safetensors", read_file((tmp / "a.safetensors").string()));
#ifndef LB_DATA_SEEDS_ONLY  // make_data_seeds: core + datasets only (fuzz/CMakeLists.txt)
  save_checkpoint((tmp / "c.safetensors").string(), tensors,
                  {.epoch = 2, .next_batch = 3, .extra = {{"best_val", 0.5}, {"rng", {1, 2, 3}}}});
  put(out / "checkpoint", "c.safetensors", read_file((tmp / "c.safetensors").string()));
#endif
  fs::remove_all(tmp);

#ifndef LB_DATA_SEEDS_ONLY
  ModulePtr net = tiny_bnn(rng);
  put(out / "packed", "bnn.lbp", packed::serialize_packed_file(packed::convert_model(*net).to_file()));

  CompressedModel m;
  const Tensor w = Tensor::normal({6, 10}, rng, 0.f, 0.1f);
  const Tensor c = Tensor::normal({4, 1, 3, 3}, rng, 0.f, 0.1f);
  m.layers.push_back(compress_layer("fc.weight", share_weights(w, prune_to_density(w, 0.3), {.bits = 3}), 3,
                                    CodingPolicy::kHuffman));
  m.layers.push_back(compress_layer("conv.weight", share_weights(c, prune_to_density(c, 0.5), {.bits = 2}), 4,
                                    CodingPolicy::kFixed));
  m.raw.push_back({"fc.bias", Tensor::normal({6}, rng)});
  m.metadata["config"] = R"({"model": "tiny"})";
  put(out / "compressed", "tiny.lbc", serialize_compressed_model(m));
#endif
  return 0;
}
