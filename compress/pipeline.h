#pragma once
/// `lowbit compress`: Deep Compression (Han, Mao & Dally, ICLR 2016) end to end on a trained
/// network — prune, retrain with masks, share weights by k-means, fine-tune the centroids,
/// encode (relative indices, Huffman) into a compressed model file, report the storage with
/// the columns of the paper's Tables 2-5 (docs/deep_compression.md).
///
///   json raw = load_json_file("experiments/mnist/deep_compression_lenet300.json");
///   CompressConfig cfg = parse_compress_config(raw);
///   std::vector<LayerPlan> plan = check_compress_config(cfg);   // before any training
///   std::unique_ptr<Experiment> ex = prepare_source(cfg, {});   // trains or loads the network
///   CompressOutcome out = compress_experiment(*ex, cfg, plan, {});
///   // out.dir holds model.lbc, report.md, report.json, config.json, log.jsonl
///
///   // lowbit eval --compressed:
///   CompressedNetwork net = load_compressed_network("runs/dc/model.lbc");
///
/// The stages are public so that tests (and other pipelines) can drive them one by one.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compress/compress_config.h"
#include "compress/stage_trainer.h"
#include "experiment/experiment.h"
#include "compress/compressed_model.h"
#include "compress/prune.h"
#include "compress/weight_sharing.h"

namespace lowbit {

struct CompressRunOptions {
  bool interactive = false;  ///< progress bars on stderr
  bool overwrite = false;    ///< replace the files of an earlier compression in the output dir
};

/// Validates what needs the network before anything trains: reads the experiment file
/// (cfg.experiment_file()), builds its model without data and resolves the per-layer
/// settings (plan_layers). Throws naming the JSON path.
std::vector<LayerPlan> check_compress_config(const CompressConfig& cfg);

/// The trained network named by cfg, with its data loaded:
///  - "run": the run folder's config.json and model.safetensors;
///  - "train": the experiment's run folder (output.dir) when it holds a finished run with
///    the same config (reused), else trains it there — resuming its checkpoint when one
///    exists — with the trainer of `lowbit train`.
std::unique_ptr<Experiment> prepare_source(const CompressConfig& cfg,
                                           const CompressRunOptions& opt);

/// The parameter named `name` of `model` (throws listing the names).
Var find_parameter(const Module& model, const std::string& name);

/// Prunes each planned layer by its rule and zeroes the pruned weights. Layers without a
/// rule get an undefined mask (nothing pruned). Aligned with `plan`.
std::vector<PruneMask> prune_layers(const Module& model, const std::vector<LayerPlan>& plan);

/// Retrains ex.model with the masks held: gradients of pruned weights are zeroed before
/// each optimizer step and the masks re-applied after it, so pruned weights stay exactly 0
/// whatever the optimizer's state or weight decay. The optimizer is built from
/// stage.optimizer (default: the experiment's train.optimizer) over all model parameters.
std::vector<nlohmann::json> retrain_pruned(Experiment& ex, const std::vector<LayerPlan>& plan,
                                           const std::vector<PruneMask>& masks,
                                           const TrainingStage& stage, uint64_t seed,
                                           bool interactive = false);

/// k-means weight sharing of each planned layer over its surviving weights; the layer's
/// weights become codebook[index] (pruned: 0). Aligned with `plan`.
std::vector<SharedWeights> share_layers(const Module& model, const std::vector<LayerPlan>& plan,
                                        const std::vector<PruneMask>& masks);

/// Fine-tunes the centroids (Deep Compression §3.2): forward with W = codebook[I], then
/// dL/dC_k = Σ_{i: I_i = k} dL/dW_i; the optimizer (stage.optimizer, default the
/// experiment's) updates the codebooks, and — with stage.train_uncompressed — the
/// parameters that are not compressed (biases). The weights are rebuilt from the codebooks
/// after every step, so they always equal codebook[I] exactly (pruned: 0).
std::vector<nlohmann::json> finetune_centroids(Experiment& ex, const std::vector<LayerPlan>& plan,
                                               std::vector<SharedWeights>& shared,
                                               const TrainingStage& stage, uint64_t seed,
                                               bool interactive = false);

/// The compressed form of `model`: the planned layers from `shared` (encoded with each
/// layer's index_bits and `policy`), every other parameter and buffer raw.
CompressedModel build_compressed_model(const Module& model, const std::vector<LayerPlan>& plan,
                                       const std::vector<SharedWeights>& shared,
                                       CodingPolicy policy);

struct CompressOutcome {
  std::string dir;         ///< output folder
  std::string model_path;  ///< dir/model.lbc
  StorageReport storage;   ///< with error_before (baseline) and error_after (decoded)
  nlohmann::json report;   ///< report.json content
  std::string markdown;    ///< report.md content
};

/// Runs the stages of `cfg` on the trained ex.model (modified in place: it ends as the
/// fine-tuned network), writes the output folder (config.json, log.jsonl, model.lbc,
/// report.md, report.json), decodes model.lbc again and checks that it reconstructs the
/// fine-tuned weights bit for bit. Test errors of every stage go into the report.
CompressOutcome compress_experiment(Experiment& ex, const CompressConfig& cfg,
                                    const std::vector<LayerPlan>& plan,
                                    const CompressRunOptions& opt);

/// A network restored from a compressed model file written by compress_experiment.
struct CompressedNetwork {
  nlohmann::json config;  ///< the resolved experiment config of the compressed network
  ModulePtr model;        ///< built from it, weights decoded from the file
  CompressedModel file;
};

/// Loads `path` (CRC-checked, see docs/compressed_format.md), builds the network of its
/// "config" metadata and loads every decoded tensor into it (strict: names and shapes must
/// match the network).
CompressedNetwork load_compressed_network(const std::string& path);

}  // namespace lowbit
