#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <zlib.h>

#include "core/core.h"
#include "core/serialize.h"
#include "compress/compressed_model.h"
#include "compress/prune.h"

using namespace lowbit;

namespace {

struct Fixture {
  std::vector<SharedWeights> shared;
  CompressedModel model;
};

// A LeNet-like pair of layers (conv 8-bit codes / 8-bit indices, fc 5 / 5) plus biases.
Fixture make_model(CodingPolicy policy, Shape fc_shape = {100, 300}, Shape conv_shape = {20, 1, 5, 5}) {
  Rng rng(41);
  Fixture f;
  const Tensor conv = Tensor::normal(conv_shape, rng, 0.f, 0.2f);
  const Tensor fc = Tensor::normal(fc_shape, rng, 0.f, 0.05f);
  f.shared.push_back(share_weights(conv, prune_to_density(conv, 0.66), {.bits = 8}));
  f.shared.push_back(share_weights(fc, prune_to_density(fc, 0.08), {.bits = 5}));
  f.model.layers.push_back(compress_layer("conv1.weight", f.shared[0], 8, policy));
  f.model.layers.push_back(compress_layer("ip1.weight", f.shared[1], 5, policy));
  f.model.raw.push_back({"conv1.bias", Tensor::normal({conv_shape[0]}, rng)});
  f.model.raw.push_back({"ip1.bias", Tensor::normal({fc_shape[0]}, rng)});
  f.model.metadata["config"] = R"({"model": "lenet5"})";
  return f;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / name).string();
}

}  // namespace

TEST_CASE("compressed model file: round trip is bit-exact for every coding policy") {
  for (CodingPolicy policy : {CodingPolicy::kFixed, CodingPolicy::kHuffman, CodingPolicy::kSmallest}) {
    CAPTURE(static_cast<int>(policy));
    Fixture f = make_model(policy);
    const std::string path = temp_path("lowbit_compress_test.lbc");
    const uint64_t size = save_compressed_model(path, f.model);
    CHECK(std::filesystem::file_size(path) == size);
    CHECK(!std::filesystem::exists(path + ".tmp"));
    const CompressedModel back = load_compressed_model(path);
    REQUIRE(back.layers.size() == 2);
    CHECK(back.metadata == f.model.metadata);
    const NamedTensors tensors = back.decode();
    REQUIRE(tensors.size() == 4);
    CHECK(tensors[0].first == "conv1.weight");
    CHECK(bit_equal(tensors[0].second, f.shared[0].reconstruct()));
    CHECK(tensors[1].first == "ip1.weight");
    CHECK(bit_equal(tensors[1].second, f.shared[1].reconstruct()));
    CHECK(tensors[2].first == "conv1.bias");
    CHECK(bit_equal(tensors[2].second, f.model.raw[0].second));
    CHECK(bit_equal(tensors[3].second, f.model.raw[1].second));
    for (int i = 0; i < 2; ++i) {
      const SharedWeights sw = back.layers[i].decode();
      CHECK(sw.indices == f.shared[i].indices);
      CHECK(sw.bits == f.shared[i].bits);
    }
    if (policy == CodingPolicy::kHuffman) {
      CHECK(back.layers[1].weights.coding == StreamCoding::kHuffman);
      CHECK(back.layers[1].index.coding == StreamCoding::kHuffman);
    }
    if (policy == CodingPolicy::kFixed) CHECK(back.layers[1].weights.coding == StreamCoding::kFixed);
    std::filesystem::remove(path);
  }
}

TEST_CASE("compressed model file: edge-case layers round trip") {
  CompressedModel m;
  std::vector<SharedWeights> sw;
  const Tensor w = Tensor::from_vector({2, 3}, {0.5f, -0.25f, 0.f, 1.f, 2.f, -3.f});
  sw.push_back(share_weights(w, PruneMask(Tensor::zeros({2, 3})), {.bits = 2}));     // all pruned
  sw.push_back(share_weights(Tensor::zeros({0, 4}), PruneMask(), {.bits = 3}));      // empty
  sw.push_back(share_weights(Tensor::full({1}, 0.75f), PruneMask(), {.bits = 1}));   // one weight
  sw.push_back(share_weights(w, PruneMask(), {.bits = 16}));                          // dense, 16 bits
  Rng rng(42);
  const Tensor sparse = Tensor::normal({5000}, rng);
  sw.push_back(share_weights(sparse, prune_to_density(sparse, 0.002), {.bits = 4}));  // fillers
  for (size_t i = 0; i < sw.size(); ++i)
    m.layers.push_back(compress_layer("l" + std::to_string(i), sw[i], i == 4 ? 2 : 5,
                                      CodingPolicy::kHuffman));
  m.raw.push_back({"scalar", Tensor::scalar(3.5f)});
  CHECK(m.layers[4].num_entries() > m.layers[4].num_nonzero);  // filler zeros present
  const CompressedModel back = parse_compressed_model(serialize_compressed_model(m), "mem");
  const NamedTensors t = back.decode();
  REQUIRE(t.size() == sw.size() + 1);
  for (size_t i = 0; i < sw.size(); ++i) {
    CAPTURE(i);
    CHECK(bit_equal(t[i].second, sw[i].reconstruct()));
  }
  CHECK(t[2].second.to_vector() == std::vector<float>{0.75f});
  CHECK(t.back().second.shape().empty());
  CHECK(t.back().second.item() == 3.5f);
}

TEST_CASE("compressed model file: every flipped byte and every truncation is rejected") {
  Fixture f = make_model(CodingPolicy::kSmallest, {10, 30}, {4, 1, 3, 3});
  const std::string bytes = serialize_compressed_model(f.model);
  REQUIRE(bytes.size() < 4000);
  CHECK_NOTHROW(parse_compressed_model(bytes, "good.lbc"));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    CAPTURE(i);
    CHECK_THROWS_WITH_AS(parse_compressed_model(bad, "bad.lbc"), doctest::Contains("bad.lbc"), Error);
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    const std::string expected = "cut.lbc: truncated at byte offset " + std::to_string(n) + ":";
    CHECK_THROWS_WITH_AS(parse_compressed_model(bytes.substr(0, n), "cut.lbc"),
                         doctest::Contains(expected.c_str()), Error);
  }
  CHECK_THROWS_WITH_AS(parse_compressed_model(bytes + "x", "long.lbc"),
                       doctest::Contains("unexpected bytes"), Error);
  CHECK_THROWS_WITH_AS(parse_compressed_model("PK\x03\x04 not ours", "zip.lbc"),
                       doctest::Contains("bad magic"), Error);
}

TEST_CASE("compressed model file: corruption names the file, the record and the byte offset") {
  Fixture f = make_model(CodingPolicy::kHuffman);
  const std::string path = temp_path("lowbit_compress_corrupt.lbc");
  save_compressed_model(path, f.model);
  std::string bytes = read_file(path);
  // The second layer's streams sit near the end of its record; flip a byte in the middle.
  const size_t at = bytes.size() / 2;
  bytes[at] = static_cast<char>(~bytes[at]);
  write_file_atomic(path, bytes);
  CHECK_THROWS_WITH_AS(load_compressed_model(path), doctest::Contains("lowbit_compress_corrupt.lbc"), Error);
  CHECK_THROWS_WITH_AS(load_compressed_model(path), doctest::Contains("fails its checksum"), Error);
  CHECK_THROWS_WITH_AS(load_compressed_model(path), doctest::Contains("at bytes ["), Error);
  write_file_atomic(path, bytes.substr(0, bytes.size() - 100));
  CHECK_THROWS_WITH_AS(load_compressed_model(path), doctest::Contains("truncated at byte offset"), Error);
  std::filesystem::remove(path);
  CHECK_THROWS_WITH_AS(load_compressed_model(path), doctest::Contains("cannot open"), Error);
}

namespace {

// A hand-made model: one layer record "big" of shape (rows, cols) holding no entries (all
// pruned: fixed-width empty streams, 1-bit codes and indices), checksums valid. 2 × 8-byte
// dimensions sit after the record's type/size (12 bytes) and the name (2 + 3 bytes) and ndim.
std::string all_pruned_layer_file(uint64_t rows, uint64_t cols) {
  CompressedModel m;
  CompressedLayer l;
  l.name = "big";
  l.shape = {4, 4};
  l.weight_bits = l.index_bits = 1;
  l.codebook = {0.f, 0.5f};
  l.weights.symbol_bits = l.index.symbol_bits = 1;
  m.layers.push_back(l);
  std::string b = serialize_compressed_model(m);
  const size_t rec = 28, dims = rec + 12 + 2 + 3 + 1;
  for (int k = 0; k < 8; ++k) {
    b[dims + k] = static_cast<char>(rows >> (8 * k));
    b[dims + 8 + k] = static_cast<char>(cols >> (8 * k));
  }
  auto crc_at = [&](size_t at, size_t from, size_t n) {
    const uint32_t c = static_cast<uint32_t>(
        crc32_z(0, reinterpret_cast<const Bytef*>(b.data() + from), n));
    for (int k = 0; k < 4; ++k) b[at + k] = static_cast<char>(c >> (8 * k));
  };
  uint64_t body = 0;
  std::memcpy(&body, b.data() + rec + 4, 8);
  crc_at(rec + 12 + body, rec, 12 + body);    // record checksum
  crc_at(b.size() - 4, 0, b.size() - 4);      // file checksum
  return b;
}

}  // namespace

TEST_CASE("compressed model file: a small layer record cannot declare millions of weights") {
  // The unpatched record round-trips (checksums are right).
  const CompressedModel small = parse_compressed_model(all_pruned_layer_file(4, 4), "small.lbc");
  CHECK(small.layers.at(0).numel() == 16);
  // 2^20 weights are allowed whatever the record's size: a fully pruned layer stores nothing.
  const CompressedModel ok = parse_compressed_model(all_pruned_layer_file(1024, 1024), "ok.lbc");
  const Tensor w = ok.decode().at(0).second;
  CHECK(w.shape() == Shape{1024, 1024});
  const std::vector<float> v = w.to_vector();
  CHECK(std::count(v.begin(), v.end(), 0.f) == static_cast<std::ptrdiff_t>(v.size()));
  // 2^27 weights from a record of a few dozen bytes: a decompression bomb (1.5 GB decoded),
  // rejected before anything is allocated, naming the file, the record and the layer.
  const std::string bomb = all_pruned_layer_file(1 << 14, 1 << 13);
  CHECK_THROWS_WITH_AS(parse_compressed_model(bomb, "bomb.lbc"),
                       doctest::Contains("bomb.lbc: record 0 (compressed layer) at byte offset 28"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_compressed_model(bomb, "bomb.lbc"),
                       doctest::Contains("layer \"big\" at byte offset"), Error);
  CHECK_THROWS_WITH_AS(parse_compressed_model(bomb, "bomb.lbc"),
                       doctest::Contains("weights a record of that size may expand to"), Error);
  // And the writer refuses to write such a layer (it would not load).
  CompressedModel m;
  m.layers.push_back(small.layers.at(0));
  m.layers[0].shape = {1 << 14, 1 << 13};
  CHECK_THROWS_WITH_AS(serialize_compressed_model(m),
                       doctest::Contains("a record may expand to at most"), Error);
}

TEST_CASE("compressed model: names must be unique and non-empty") {
  Fixture f = make_model(CodingPolicy::kFixed, {4, 4}, {2, 1, 2, 2});
  f.model.raw.push_back({"ip1.weight", Tensor::zeros({1})});
  CHECK_THROWS_WITH_AS(serialize_compressed_model(f.model), doctest::Contains("duplicate"), Error);
  f.model.raw.back().first = "";
  CHECK_THROWS_AS(serialize_compressed_model(f.model), Error);
}

TEST_CASE("storage accounting of a compressed layer follows the paper's columns") {
  Fixture f = make_model(CodingPolicy::kFixed);
  const LayerStorage fixed = f.model.layers[1].storage();
  const uint64_t e = static_cast<uint64_t>(fixed.num_entries);
  CHECK(fixed.num_weights == 30000);
  CHECK(fixed.num_nonzero == 2400);
  CHECK(fixed.density() == doctest::Approx(0.08));
  CHECK(fixed.codebook_bits == 31 * 32);
  CHECK(fixed.bits_pq() == 31 * 32 + e * (5 + 5));
  CHECK(fixed.bits_pqh() == fixed.bits_pq());  // fixed-width streams: no Huffman gain
  CHECK(fixed.avg_weight_bits_pq() == 5.0);
  CHECK(fixed.avg_index_bits_pq() == 5.0);
  CHECK(fixed.rate_pq() == doctest::Approx(double(fixed.bits_pq()) / (32.0 * 30000)));

  Fixture h = make_model(CodingPolicy::kSmallest);
  const LayerStorage huff = h.model.layers[1].storage();
  CHECK(huff.bits_pq() == fixed.bits_pq());
  CHECK(huff.bits_pqh() <= huff.bits_pq());
  CHECK(huff.avg_weight_bits_pqh() < 5.0);  // peaked weight distribution: Huffman pays
  CHECK(huff.table_bits > 0);
  const StorageReport rep = h.model.storage_report();
  CHECK(rep.raw_floats == 120);
  CHECK(rep.file_bytes.value() == serialize_compressed_model(h.model).size());
  // The file holds the accounted bits plus framing only.
  const uint64_t accounted = (rep.total().bits_pqh() + 32 * 120) / 8;
  CHECK(*rep.file_bytes >= accounted);
  CHECK(*rep.file_bytes < accounted + 400);
}
