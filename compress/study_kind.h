#pragma once
/// The "compress" run kind of `lowbit study` (docs/study.md): a study entry
///   {"file": "experiments/mnist/deep_compression_lenet300.json", "kind": "compress", ...}
/// runs, per seed S,
///   lowbit compress FILE --out runs/<study>/<run>_sS [--force] --set <compress_set>...
///       --set seed=S --set train_out=runs/<study>/<run>_sS/baseline --set train_set=[<set>..., "seed=S"]
/// i.e. it trains its own baseline (the compress file's "train" experiment with the study's
/// --set overrides and seed S) in the run folder's baseline/, then prunes, quantizes and
/// Huffman-codes it. Finished: report.md. Copied to results/: config.json, log.jsonl,
/// report.json, report.md. Its table is Deep Compression's per-stage table (pruned,
/// quantized, Huffman: accuracy, size, compression ratio; mean ± std over seeds) with the
/// paper's numbers (reference entries with "stage_ratios" and "size_kb").
namespace lowbit {

/// Registers the kind (idempotent).
void register_compress_run_kind();

}  // namespace lowbit
