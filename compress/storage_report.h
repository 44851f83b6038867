#pragma once
/// Storage accounting with the columns of Deep Compression's per-layer tables (Tables 2-5).
///
/// For each compressed layer (n weights, e stored entries = surviving weights + filler zeros,
/// weight code width b, index width r):
///   weights %            = surviving / n                              ("Weights% (P)")
///   weight bits (P+Q)    = b                        per stored entry
///   weight bits (P+Q+H)  = bits of the stored weight stream / e       (Huffman when chosen)
///   index bits (P+Q)     = r                        per stored entry
///   index bits (P+Q+H)   = bits of the stored index stream / e
///   bits (P+Q)           = codebook + e·(b + r)
///   bits (P+Q+H)         = codebook + weight stream + index stream + Huffman tables
///   rate (P+Q), (P+Q+H)  = bits / (32·n)            (the paper's "3.1%", i.e. 32×)
/// The codebook costs 32·(2^b − 1) bits (the zero cluster is implicit). Rates therefore
/// include the codebook and the sparse-index overhead, as the paper's do, and also the
/// Huffman tables. Framing (names, shapes, counts, checksums) is not in the rates; the file
/// size is reported separately. Float tensors stored raw (biases, batch norm) are counted
/// at 32 bits in the overall rate.
///
///   StorageReport rep = model.storage_report();
///   rep.error_before = 1.64; rep.error_after = 1.58;   // percent, from the caller's eval
///   std::cout << rep.to_markdown();
///   write_file_atomic("report.json", rep.to_json().dump(2));
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lowbit {

/// One row. All *_bits fields are totals in bits; the per-entry averages are methods.
struct LayerStorage {
  std::string name;
  int64_t num_weights = 0;  // n, dense
  int64_t num_nonzero = 0;  // survivors of pruning
  int64_t num_entries = 0;  // stored entries: survivors + fillers
  int weight_bits = 0;      // b (0 in a total row: mixed)
  int index_bits = 0;       // r (0 in a total row)
  uint64_t codebook_bits = 0;
  uint64_t weight_bits_pq = 0;   // e·b
  uint64_t index_bits_pq = 0;    // e·r
  uint64_t weight_bits_pqh = 0;  // the stored weight stream
  uint64_t index_bits_pqh = 0;   // the stored index stream
  uint64_t table_bits = 0;       // Huffman tables stored

  int64_t num_fillers() const { return num_entries - num_nonzero; }
  /// num_nonzero / num_weights (1 for an empty layer).
  double density() const;
  double avg_weight_bits_pq() const { return per_entry(weight_bits_pq); }
  double avg_weight_bits_pqh() const { return per_entry(weight_bits_pqh); }
  double avg_index_bits_pq() const { return per_entry(index_bits_pq); }
  double avg_index_bits_pqh() const { return per_entry(index_bits_pqh); }
  uint64_t bits_pq() const { return codebook_bits + weight_bits_pq + index_bits_pq; }
  uint64_t bits_pqh() const {
    return codebook_bits + weight_bits_pqh + index_bits_pqh + table_bits;
  }
  uint64_t dense_bits() const { return 32 * static_cast<uint64_t>(num_weights); }
  /// bits / dense bits (0.031 = 3.1 % = 32×).
  double rate_pq() const;
  double rate_pqh() const;

  /// Sums another row into this one (for totals).
  LayerStorage& operator+=(const LayerStorage& o);

 private:
  double per_entry(uint64_t bits) const;
};

struct StorageReport {
  std::vector<LayerStorage> layers;
  /// Floats stored uncompressed (biases, batch-norm parameters and statistics).
  int64_t raw_floats = 0;
  /// Size of the compressed model file, when written.
  std::optional<uint64_t> file_bytes;
  /// Test error in percent before and after compression, filled by the caller.
  std::optional<double> error_before;
  std::optional<double> error_after;

  /// Sum of the layer rows (name "total"); averages are entry-weighted.
  LayerStorage total() const;
  /// Compressed layers (P+Q+H) plus raw floats, over the dense float32 size of the same.
  double overall_rate() const;

  /// {"layers": [...], "total": {...}, "raw_floats", "overall": {...}, "file_bytes",
  ///  "error_before", "error_after"}. In a row, "weight_bits_pq(h)" and "index_bits_pq(h)"
  /// are bits per stored entry (the paper's columns), "bits_pq(h)", "codebook_bits",
  /// "huffman_table_bits" and "dense_bits" are totals in bits, "rate_*" are fractions of
  /// the dense size and "ratio_*" their inverses (32.0 = 32x).
  nlohmann::json to_json() const;
  /// The paper's table layout, one row per layer and a total row, then the overall line.
  std::string to_markdown() const;
};

}  // namespace lowbit
