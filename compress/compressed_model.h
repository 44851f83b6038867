#pragma once
/// Compressed model: Deep Compression's storage of pruned, weight-shared layers (codebook +
/// cluster-index stream + relative-index stream, each stream fixed-width or Huffman coded)
/// beside float tensors kept raw, and its file format (docs/compressed_format.md): magic,
/// version, records with their own CRC32, a whole-file CRC32. Files are written atomically;
/// a truncated or corrupted file is rejected with a lowbit::Error naming the file and byte
/// offset, never decoded into garbage. Decoding gives back exactly (bit for bit) the
/// weights `SharedWeights::reconstruct()` produced before encoding.
///
///   CompressedModel m;
///   m.layers.push_back(compress_layer("0.weight", shared, /*index_bits=*/5));
///   m.raw.push_back({"0.bias", bias});
///   m.metadata["config"] = config.dump();
///   save_compressed_model("lenet.lbc", m);
///   NamedTensors back = load_compressed_model("lenet.lbc").decode();
///   std::cout << m.storage_report().to_markdown();
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/serialize.h"
#include "core/tensor.h"
#include "compress/huffman.h"
#include "compress/storage_report.h"
#include "compress/weight_sharing.h"

namespace lowbit {

/// How a stream is stored in the file.
enum class StreamCoding : uint8_t { kFixed = 0, kHuffman = 1 };
/// How compress_layer codes each stream: always fixed-width (P+Q), always Huffman (P+Q+H),
/// or whichever is smaller including the Huffman table (default; a tiny layer's table can
/// outweigh Huffman's savings).
enum class CodingPolicy { kFixed, kHuffman, kSmallest };
/// "fixed" | "huffman" | "smallest".
CodingPolicy coding_policy_from_string(std::string_view name);

/// A stream of `count` symbols over {0, …, 2^symbol_bits − 1}, as stored.
struct EncodedStream {
  StreamCoding coding = StreamCoding::kFixed;
  int symbol_bits = 0;
  uint64_t count = 0;
  HuffmanCode code;  // kHuffman only
  uint64_t bit_count = 0;
  std::vector<uint8_t> bytes;  // ceil(bit_count / 8)

  /// Bits of the stored Huffman table (0 when fixed-width).
  uint64_t table_bits() const { return coding == StreamCoding::kHuffman ? code.table_bits() : 0; }
  /// Throws if a symbol is outside the alphabet. symbol_bits in [1, 16].
  static EncodedStream encode(std::span<const uint32_t> symbols, int symbol_bits,
                              CodingPolicy policy);
  /// The symbols; throws when the bits do not hold exactly `count` symbols.
  std::vector<uint32_t> decode() const;
};

/// One pruned, weight-shared layer in its stored form.
struct CompressedLayer {
  std::string name;
  Shape shape;
  int weight_bits = 0;          // codebook of 2^weight_bits entries
  int index_bits = 0;           // relative-index width
  std::vector<float> codebook;  // 2^weight_bits entries, codebook[0] = 0
  uint64_t num_nonzero = 0;
  EncodedStream weights;  // cluster index per entry (0 for filler zeros)
  EncodedStream index;    // gap − 1 per entry

  int64_t numel() const { return shape_numel(shape); }
  uint64_t num_entries() const { return weights.count; }
  /// The SharedWeights that were encoded (indices and codebook; iterations/converged unset).
  SharedWeights decode() const;
  /// decode().reconstruct(): the layer's weights.
  Tensor decode_tensor() const;
  /// This layer's row of the storage report.
  LayerStorage storage() const;
};

/// Encodes `sw` (validated) with relative indices of `index_bits` bits (in [1, 16]; the
/// paper uses 8 for conv and 5 for fully connected layers).
CompressedLayer compress_layer(std::string name, const SharedWeights& sw, int index_bits,
                               CodingPolicy policy = CodingPolicy::kSmallest);

struct CompressedModel {
  std::vector<CompressedLayer> layers;
  /// Tensors stored as raw float32 (biases, batch norm parameters and statistics, …).
  NamedTensors raw;
  /// Free-form strings (e.g. the resolved JSON config, the source checkpoint).
  std::map<std::string, std::string> metadata;

  /// Every tensor by name: the decoded layers, then the raw tensors, in stored order.
  NamedTensors decode() const;
  /// Storage accounting of the layers, raw float count, and the file size.
  StorageReport storage_report() const;
};

/// The file's bytes. Throws on empty or duplicate names.
std::string serialize_compressed_model(const CompressedModel& m);
/// Parses bytes produced by serialize_compressed_model; `source` names them in errors.
CompressedModel parse_compressed_model(std::string_view bytes, const std::string& source);
/// Writes atomically (temporary file + rename). Returns the file size in bytes.
uint64_t save_compressed_model(const std::string& path, const CompressedModel& m);
CompressedModel load_compressed_model(const std::string& path);

}  // namespace lowbit
