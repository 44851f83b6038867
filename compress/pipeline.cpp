#include "compress/pipeline.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "experiment/config.h"
#include "experiment/run_files.h"
#include "experiment/train_or_reuse.h"
#include "core/check.h"
#include "core/format.h"
#include "core/serialize.h"
#include "layers/registry.h"
#include "optim/registry.h"
#include "quant/registry.h"

namespace lowbit {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string shape_text(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += 'x';  // GCC 12 warns (-Wrestrict, a false positive) on "x" + to_string
    out += std::to_string(s[i]);
  }
  return out;
}

double test_error(Experiment& ex) {
  return 100.0 *
         (1.0 - evaluate(*ex.model, ex.test, ex.transforms, ex.config.train.eval_batch_size));
}

// The optimizer and schedule of a training stage over `params`.
struct StageOptimizer {
  OptimizerPtr opt;
  LrSchedulePtr schedule;
};
StageOptimizer make_stage_optimizer(const Experiment& ex, const TrainingStage& stage,
                                    const std::string& path, std::vector<Var> params,
                                    std::vector<float> scales) {
  const json& spec = stage.optimizer.is_null() ? ex.config.train.optimizer : stage.optimizer;
  StageOptimizer s;
  s.opt = make_optimizer(spec, std::move(params), std::move(scales), path + ".optimizer");
  if (!stage.lr_schedule.is_null())
    s.schedule = make_schedule(stage.lr_schedule, s.opt->lr(), stage.epochs, path + ".lr_schedule");
  return s;
}

StageRun stage_run(const Experiment& ex, const TrainingStage& stage, const char* name,
                   uint64_t seed, bool interactive) {
  return {.name = name,
          .epochs = stage.epochs,
          .batch_size = stage.batch_size > 0 ? stage.batch_size : ex.config.train.batch_size,
          .seed = seed,
          .interactive = interactive};
}

std::string prune_text(const std::optional<PruneSpec>& p) {
  if (!p) return "not pruned";
  if (p->density) return "density " + format_double("%g", *p->density);
  return "quality " + format_double("%g", *p->quality) + " x std";
}

}  // namespace

// ---------------------------------------------------------------------------- configuration

std::vector<LayerPlan> check_compress_config(const CompressConfig& cfg) {
  const std::string file = cfg.experiment_file();
  ExperimentConfig base;
  try {
    base = parse_experiment(cfg.experiment_json());
  } catch (const Error& e) {
    LB_FAIL(cfg.train_file.empty() ? "run" : "train", ": ", file, ": ", e.what());
  }
  Rng rng(base.seed);
  register_quant_modules();  // a quantized network (quant_conv2d, quant_linear) is compressible too
  const ModulePtr model = make_module(base.model_layers, rng, "model.layers");
  std::vector<LayerPlan> plan = plan_layers(cfg, *model);
  // Optimizer and schedule specs are validated now, so a typo fails before the baseline has
  // trained. The registry validates options as it builds, so the check builds the optimizer
  // over no parameters: no state is allocated; the stage's real optimizer (over the model or
  // the codebooks) is built once, by the stage.
  auto check_stage = [&](const TrainingStage& s, const std::string& path) {
    if (s.epochs == 0) return;
    const OptimizerPtr opt = make_optimizer(
        s.optimizer.is_null() ? base.train.optimizer : s.optimizer, {}, {}, path + ".optimizer");
    if (!s.lr_schedule.is_null())
      make_schedule(s.lr_schedule, opt->lr(), s.epochs, path + ".lr_schedule");
  };
  if (cfg.prune) check_stage(cfg.retrain, "prune.retrain");
  check_stage(cfg.finetune, "quantize.finetune");
  return plan;
}

std::unique_ptr<Experiment> prepare_source(const CompressConfig& cfg,
                                           const CompressRunOptions& opt) {
  if (!cfg.run_dir.empty())
    return load_finished_run(cfg.run_dir, "run",
                             "train it with lowbit train, or name the experiment with \"train\" instead of \"run\"");
  ExperimentConfig base = parse_experiment(cfg.experiment_json());
  if (!cfg.train_out.empty()) {
    base.output_dir = cfg.train_out;
    base.resolved["output"]["dir"] = cfg.train_out;
  }
  return train_or_reuse(base, {.source = cfg.train_file,
                               .again = "lowbit compress",
                               .interactive = opt.interactive});
}

Var find_parameter(const Module& model, const std::string& name) {
  std::string names;
  for (const NamedParameter& p : model.named_parameters()) {
    if (p.name == name) return p.var;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  LB_FAIL("compress: the model has no parameter \"", name, "\"; its parameters: ", names);
}

// ---------------------------------------------------------------------------- stages

std::vector<PruneMask> prune_layers(const Module& model, const std::vector<LayerPlan>& plan) {
  std::vector<PruneMask> masks;
  for (const LayerPlan& l : plan) {
    if (!l.prune) {
      masks.emplace_back();
      continue;
    }
    const Var w = find_parameter(model, l.param);
    masks.push_back(prune(w.data(), *l.prune));
    masks.back().apply_to_weight(w);
  }
  return masks;
}

std::vector<json> retrain_pruned(Experiment& ex, const std::vector<LayerPlan>& plan,
                                 const std::vector<PruneMask>& masks, const TrainingStage& stage,
                                 uint64_t seed, bool interactive) {
  LB_CHECK(masks.size() == plan.size(), "retrain_pruned: ", masks.size(), " masks for ",
           plan.size(), " layers");
  if (stage.epochs == 0) return {};
  std::vector<Var> weights;
  std::vector<const PruneMask*> held;
  for (size_t i = 0; i < plan.size(); ++i)
    if (masks[i].defined()) {
      weights.push_back(find_parameter(*ex.model, plan[i].param));
      held.push_back(&masks[i]);
    }
  StageOptimizer so = make_stage_optimizer(ex, stage, "prune.retrain", ex.model->parameters(),
                                           ex.model->param_lr_scales());
  const StepHooks hooks{.after_backward =
                            [&] {
                              for (size_t i = 0; i < weights.size(); ++i)
                                held[i]->apply_to_grad(weights[i]);
                            },
                        .after_step =
                            [&] {
                              for (size_t i = 0; i < weights.size(); ++i)
                                held[i]->apply_to_weight(weights[i]);
                            }};
  return train_stage(ex, *so.opt, so.schedule.get(),
                     stage_run(ex, stage, "retrain", seed, interactive), hooks);
}

std::vector<SharedWeights> share_layers(const Module& model, const std::vector<LayerPlan>& plan,
                                        const std::vector<PruneMask>& masks) {
  LB_CHECK(masks.empty() || masks.size() == plan.size(), "share_layers: ", masks.size(),
           " masks for ", plan.size(), " layers");
  std::vector<SharedWeights> shared;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Var w = find_parameter(model, plan[i].param);
    shared.push_back(
        share_weights(w.data(), masks.empty() ? PruneMask() : masks[i], plan[i].sharing));
    shared.back().reconstruct_into(w.data());
  }
  return shared;
}

std::vector<json> finetune_centroids(Experiment& ex, const std::vector<LayerPlan>& plan,
                                     std::vector<SharedWeights>& shared, const TrainingStage& stage,
                                     uint64_t seed, bool interactive) {
  LB_CHECK(shared.size() == plan.size(), "finetune_centroids: ", shared.size(),
           " shared layers for ", plan.size(), " layers");
  if (stage.epochs == 0) return {};
  std::vector<Var> weights, codebooks, params;
  std::vector<float> scales;
  for (size_t i = 0; i < plan.size(); ++i) {
    weights.push_back(find_parameter(*ex.model, plan[i].param));
    codebooks.emplace_back(shared[i].codebook, /*requires_grad=*/true);  // aliases the codebook
    params.push_back(codebooks.back());
    scales.push_back(1.f);
  }
  if (stage.train_uncompressed) {
    for (const NamedParameter& p : ex.model->named_parameters()) {
      bool compressed = false;
      for (const LayerPlan& l : plan) compressed = compressed || l.param == p.name;
      if (!compressed) {
        params.push_back(p.var);
        scales.push_back(p.lr_scale);
      }
    }
  }
  StageOptimizer so = make_stage_optimizer(ex, stage, "quantize.finetune", params, scales);
  const StepHooks hooks{.after_backward =
                            [&] {
                              for (size_t i = 0; i < weights.size(); ++i) {
                                const Tensor g = weights[i].grad();
                                if (g.defined())
                                  codebooks[i].set_grad(shared[i].centroid_gradients(g));
                              }
                            },
                        .after_step =
                            [&] {
                              for (size_t i = 0; i < weights.size(); ++i) {
                                shared[i].codebook.data()[0] =
                                    0.f;  // the zero cluster is not trained
                                shared[i].reconstruct_into(weights[i].data());
                              }
                            }};
  return train_stage(ex, *so.opt, so.schedule.get(),
                     stage_run(ex, stage, "finetune", seed, interactive), hooks);
}

CompressedModel build_compressed_model(const Module& model, const std::vector<LayerPlan>& plan,
                                       const std::vector<SharedWeights>& shared,
                                       CodingPolicy policy) {
  LB_CHECK(shared.size() == plan.size(), "build_compressed_model: ", shared.size(),
           " shared layers for ", plan.size(), " layers");
  CompressedModel m;
  for (size_t i = 0; i < plan.size(); ++i)
    m.layers.push_back(compress_layer(plan[i].param, shared[i], plan[i].index_bits, policy));
  for (const auto& [name, t] : model.state_tensors()) {
    bool compressed = false;
    for (const LayerPlan& l : plan) compressed = compressed || l.param == name;
    if (!compressed) m.raw.emplace_back(name, t.clone());
  }
  return m;
}

// ---------------------------------------------------------------------------- loading

CompressedNetwork load_compressed_network(const std::string& path) {
  CompressedNetwork net;
  net.file = load_compressed_model(path);
  const auto it = net.file.metadata.find("config");
  LB_CHECK(it != net.file.metadata.end(), path,
           ": no \"config\" metadata, so the network cannot be rebuilt; the file was not written "
           "by lowbit compress");
  try {
    net.config = json::parse(it->second);
  } catch (const json::parse_error& e) {
    LB_FAIL(path, ": the \"config\" metadata is not JSON: ", e.what());
  }
  const ExperimentConfig cfg = parse_experiment(net.config);
  Rng rng(cfg.seed);
  register_quant_modules();
  net.model = make_module(cfg.model_layers, rng, "model.layers");
  net.model->load_state_tensors(net.file.decode(), path);
  return net;
}

// ---------------------------------------------------------------------------- the pipeline

CompressOutcome compress_experiment(Experiment& ex, const CompressConfig& cfg,
                                    const std::vector<LayerPlan>& plan,
                                    const CompressRunOptions& opt) {
  CompressOutcome out;
  out.dir = cfg.output_dir;
  const std::string config_path = out.dir + "/config.json", log_path = out.dir + "/log.jsonl",
                    report_md = out.dir + "/report.md", report_json = out.dir + "/report.json";
  out.model_path = out.dir + "/model.lbc";
  LB_CHECK(opt.overwrite || !fs::exists(out.model_path), out.dir,
           ": already holds a compressed model; pass --force to replace it or choose another "
           "output.dir (--out)");
  fs::create_directories(out.dir);
  write_json_atomic(config_path, cfg.resolved);
  std::vector<json> log;
  write_log(log_path, log);
  auto append_log = [&](std::vector<json> lines) {
    for (json& l : lines) log.push_back(std::move(l));
    write_log(log_path, log);
  };
  using Clock = std::chrono::steady_clock;
  const auto t_start = Clock::now();

  json stages = json::array();
  auto stage_error = [&](const std::string& stage, const std::string& what) {
    const double err = test_error(ex);
    stages.push_back({{"stage", stage}, {"description", what}, {"test_error_percent", err}});
    std::cout << "  " << what << ": test error " << format_double("%.2f%%", err) << std::endl;
    return err;
  };

  std::cout << "lowbit compress: " << cfg.name << " (" << ex.config.name << ", " << plan.size()
            << " layers)\n";
  const double error_before = stage_error("baseline", "uncompressed");

  // ---- pruning
  std::vector<PruneMask> masks;
  if (cfg.prune) {
    masks = prune_layers(*ex.model, plan);
    for (size_t i = 0; i < plan.size(); ++i)
      std::cout << "  prune " << plan[i].label << ": " << prune_text(plan[i].prune) << " -> "
                << (masks[i].defined() ? format_double("%.2f%%", 100 * masks[i].density()) : "100%")
                << " kept\n";
    stage_error("pruned", "pruned, before retraining");
    if (cfg.retrain.epochs > 0) {
      append_log(retrain_pruned(ex, plan, masks, cfg.retrain, cfg.seed + 1, opt.interactive));
      stage_error("retrained",
                  "pruned + retrained " + std::to_string(cfg.retrain.epochs) + " epochs");
    }
  }

  // ---- weight sharing
  std::vector<SharedWeights> shared = share_layers(*ex.model, plan, masks);
  for (size_t i = 0; i < plan.size(); ++i)
    std::cout << "  quantize " << plan[i].label << ": " << plan[i].sharing.bits << " bits ("
              << to_string(plan[i].sharing.init) << " init), k-means "
              << (shared[i].converged ? "converged" : "stopped") << " after "
              << shared[i].iterations << " iterations\n";
  stage_error("quantized", "quantized, before fine-tuning");
  if (cfg.finetune.epochs > 0) {
    append_log(finetune_centroids(ex, plan, shared, cfg.finetune, cfg.seed + 2, opt.interactive));
    stage_error("finetuned", "quantized + centroids fine-tuned " +
                                 std::to_string(cfg.finetune.epochs) + " epochs");
  }
  const double error_finetuned = stages.back()["test_error_percent"].get<double>();

  // ---- encoding and the file
  CompressedModel cm = build_compressed_model(*ex.model, plan, shared, cfg.coding);
  json labels = json::object();
  for (const LayerPlan& l : plan) labels[l.param] = l.label;
  cm.metadata["config"] = ex.config.resolved.dump();
  cm.metadata["compress_config"] = cfg.resolved.dump();
  cm.metadata["source"] = cfg.run_dir.empty() ? ex.config.output_dir : cfg.run_dir;
  cm.metadata["labels"] = labels.dump();
  const uint64_t file_bytes = save_compressed_model(out.model_path, cm);

  // ---- decode the file again: the weights must be the fine-tuned ones, bit for bit
  CompressedNetwork back = load_compressed_network(out.model_path);
  const NamedTensors now = ex.model->state_tensors(), decoded = back.model->state_tensors();
  LB_CHECK(now.size() == decoded.size(), "compress: internal error: ", out.model_path,
           " decodes to ", decoded.size(), " tensors, the model has ", now.size());
  for (size_t i = 0; i < now.size(); ++i) {
    const Tensor& a = now[i].second;
    const Tensor& b = decoded[i].second;
    LB_CHECK(now[i].first == decoded[i].first && a.shape() == b.shape() &&
                 std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.numel())) == 0,
             "compress: internal error: ", out.model_path, " does not reconstruct ", now[i].first,
             " bit for bit");
  }
  const double error_decoded = 100.0 * (1.0 - evaluate(*back.model, ex.test, ex.transforms,
                                                       ex.config.train.eval_batch_size));
  stages.push_back({{"stage", "decoded"},
                    {"description", "decoded from model.lbc"},
                    {"test_error_percent", error_decoded}});
  std::cout << "  decoded from " << out.model_path << ": test error "
            << format_double("%.2f%%", error_decoded)
            << (error_decoded == error_finetuned ? " (identical)" : " (DIFFERS)") << std::endl;

  // ---- report
  out.storage = cm.storage_report();
  out.storage.file_bytes = file_bytes;
  out.storage.error_before = error_before;
  out.storage.error_after = error_decoded;
  for (size_t i = 0; i < plan.size(); ++i) out.storage.layers[i].name = plan[i].label;
  json r = out.storage.to_json();
  for (size_t i = 0; i < plan.size(); ++i) {
    json& row = r["layers"][i];
    row["parameter"] = plan[i].param;
    row["shape"] = cm.layers[i].shape;
    row["prune"] = plan[i].prune ? json(*plan[i].prune) : json(nullptr);
    json sharing;
    to_json(sharing, plan[i].sharing);
    row["sharing"] = sharing;
    row["kmeans_iterations"] = shared[i].iterations;
    row["kmeans_converged"] = shared[i].converged;
    row["weights_coding"] =
        cm.layers[i].weights.coding == StreamCoding::kHuffman ? "huffman" : "fixed";
    row["index_coding"] = cm.layers[i].index.coding == StreamCoding::kHuffman ? "huffman" : "fixed";
  }
  r["name"] = cfg.name;
  r["network"] = ex.config.name;
  r["source"] = cm.metadata["source"];
  r["stages"] = stages;
  r["seconds"] = std::chrono::duration<double>(Clock::now() - t_start).count();
  r["model_file"] = out.model_path;
  out.report = r;

  std::ostringstream md;
  md << "# Deep Compression: " << cfg.name << "\n\n"
     << "Network `" << ex.config.name << "` from `" << r["source"].get<std::string>()
     << "`; compress config in `config.json`, compressed model `model.lbc` (" << file_bytes
     << " bytes).\n\n"
     << "| Stage | Test error |\n|---|---:|\n";
  for (const json& s : stages)
    md << "| " << s["description"].get<std::string>() << " | "
       << format_double("%.2f%%", s["test_error_percent"].get<double>()) << " |\n";
  md << "\n## Storage (columns of Deep Compression Tables 2-5)\n\n"
     << out.storage.to_markdown()
     << "\n## Layers\n\n| Layer | Parameter | Shape | Pruning | Bits | Init | k-means iterations "
        "| Index bits | Weight stream | Index stream "
        "|\n|---|---|---|---|---:|---|---:|---:|---|---|\n";
  for (size_t i = 0; i < plan.size(); ++i) {
    const json& row = r["layers"][i];
    md << "| " << plan[i].label << " | `" << plan[i].param << "` | "
       << shape_text(cm.layers[i].shape) << " | " << prune_text(plan[i].prune) << " | "
       << plan[i].sharing.bits << " | " << to_string(plan[i].sharing.init) << " | "
       << shared[i].iterations << (shared[i].converged ? "" : " (not converged)") << " | "
       << plan[i].index_bits << " | " << row["weights_coding"].get<std::string>() << " | "
       << row["index_coding"].get<std::string>() << " |\n";
  }
  out.markdown = md.str();
  write_json_atomic(report_json, r);
  write_file_atomic(report_md, out.markdown);
  std::cout << "\n"
            << out.storage.to_markdown() << "\nwritten: " << out.model_path << ", " << report_md
            << ", " << report_json << std::endl;
  return out;
}

}  // namespace lowbit
