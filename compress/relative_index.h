#pragma once
/// Sparse relative-index form of a pruned, weight-shared layer (Deep Compression §2, Fig. 2).
///
/// The layer is a dense array of cluster indices over its flattened (row-major) weights,
/// 0 marking a pruned weight. Only the non-zero entries are stored, each as
///   diff  = gap − 1, gap = position − previous stored position (first: position + 1),
///   code  = its cluster index,
/// so positions are recovered as cumsum(diff + 1) − 1 (the convention of the authors'
/// decode.py). `diff` has a fixed width of `index_bits` bits, so gaps up to 2^index_bits
/// are direct; a longer gap gets **filler zeros**: entries at previous + 2^index_bits whose
/// code is 0 (the zero cluster), repeated until the gap fits. Trailing pruned weights after
/// the last entry cost nothing (the layer shape is stored beside the streams).
///
///   std::vector<uint16_t> codes = {0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};  // 13 weights
///   RelativeIndex r = encode_relative_index(codes, 3);   // 3 bits: gaps up to 8
///   // r.diffs = {1, 7, 2}, r.codes = {3, 0, 1}: the middle entry is a filler at 9
///   std::vector<uint16_t> back = decode_relative_index(r, 13);   // == codes
#include <cstdint>
#include <span>
#include <vector>

namespace lowbit {

struct RelativeIndex {
  int index_bits = 0;
  /// Per entry: gap to the previous entry minus 1, in [0, 2^index_bits − 1].
  std::vector<uint32_t> diffs;
  /// Per entry: cluster index; 0 only for filler entries.
  std::vector<uint32_t> codes;

  uint64_t num_entries() const { return diffs.size(); }
  /// Entries whose code is 0 (fillers).
  uint64_t num_fillers() const;
};

/// Encodes a dense code array (0 = pruned). index_bits in [1, 16].
RelativeIndex encode_relative_index(std::span<const uint16_t> dense_codes, int index_bits);

/// Inverse of encode_relative_index for a layer of `numel` weights. Throws lowbit::Error
/// when the streams disagree in length, a diff does not fit index_bits, or a position runs
/// past numel (a corrupt stream is never decoded into garbage).
std::vector<uint16_t> decode_relative_index(const RelativeIndex& r, int64_t numel);

}  // namespace lowbit
