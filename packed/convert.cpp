#include "packed/convert.h"

#include <iomanip>
#include <sstream>

#include "experiment/config.h"
#include "experiment/experiment.h"
#include "experiment/run_files.h"
#include "core/check.h"
#include "core/random.h"
#include "layers/registry.h"
#include "layers/sequential.h"
#include "quant/quant_conv2d.h"
#include "quant/quant_linear.h"

namespace lowbit::packed {

namespace {

struct Leaf {
  std::string name;
  Module* module;
};

void collect_leaves(Module& m, const std::string& name, std::vector<Leaf>& out) {
  if (dynamic_cast<const Sequential*>(&m)) {
    for (const auto& [child_name, child] : m.children())
      collect_leaves(*child, name.empty() ? child_name : name + "." + child_name, out);
    return;
  }
  out.push_back({name.empty() ? "0" : name, &m});
}

std::string layer_type(const PackedOp& op) {
  if (const auto* m = dynamic_cast<const ModuleOp*>(&op))
    return m->spec().value("type", std::string());
  return std::string(op.kind());
}

/// What the op does at inference, asked of its module (packed ops: Compute).
InferenceTraits traits(PackedOp& op) {
  if (auto* m = dynamic_cast<ModuleOp*>(&op)) return m->module().inference_traits();
  return {};
}
bool is_role(PackedOp& op, InferenceTraits::Role role) { return traits(op).role == role; }

/// The quantized weights as the simulation computes them in eval mode, as (rows, k).
Tensor quantized_weights(Quantizer& q, const Var& weight) {
  NoGradGuard no_grad;
  const bool was = q.is_training();
  q.set_training(false);
  Tensor wq = q(weight).data().clone();
  q.set_training(was);
  return wq.reshape({wq.size(0), wq.numel() / wq.size(0)});
}

class Converter {
 public:
  Converter(ConvertReport* report, const ConvertOptions& options)
      : report_(report), options_(options) {}

  void add(const Leaf& leaf) {
    Module& m = *leaf.module;
    if (m.inference_traits().role == InferenceTraits::Role::Identity) {
      note(leaf, "dropped (identity at inference)");
      return;
    }
    if (dynamic_cast<const QuantLinear*>(&m) || dynamic_cast<const QuantConv2d*>(&m)) {
      std::string why;
      if (try_pack(leaf, &why)) return;
      keep_float(leaf, "kept float: " + why);
      return;
    }
    keep_float(leaf, "float");
  }

  std::vector<PackedOpPtr> take() { return std::move(ops_); }

 private:
  void note(const Leaf& leaf, std::string how) {
    if (report_) report_->layers.push_back({leaf.name, std::string(leaf.module->type()), std::move(how)});
  }

  void keep_float(const Leaf& leaf, std::string how) {
    auto op = std::make_unique<ModuleOp>(module_to_json(*leaf.module),
                                         leaf.module->state_tensors(), leaf.name);
    ops_.push_back(std::move(op));
    note(leaf, std::move(how));
  }

  bool try_pack(const Leaf& leaf, std::string* why) {
    Module& m = *leaf.module;
    PackedLayerOptions o;
    QuantizerPtr iq, wq;
    Var weight, bias;
    if (auto* ql = dynamic_cast<QuantLinear*>(&m)) {
      o.in_features = ql->options().in_features;
      o.out_features = ql->options().out_features;
      iq = ql->options().input_quantizer;
      wq = ql->options().weight_quantizer;
      weight = ql->weight();
      bias = ql->bias();
    } else if (auto* qc = dynamic_cast<QuantConv2d*>(&m)) {
      o.conv = true;
      o.in_features = qc->options().in_channels;
      o.out_features = qc->options().out_channels;
      o.kernel_size = qc->options().kernel_size;
      o.stride = qc->options().stride;
      o.padding = qc->options().padding;
      iq = qc->options().input_quantizer;
      wq = qc->options().weight_quantizer;
      weight = qc->weight();
      bias = qc->bias();
    } else {
      *why = "not a QuantLinear/QuantConv2d";
      return false;
    }
    if (!wq) {
      *why = "no weight quantizer (float weights)";
      return false;
    }
    std::optional<PackedWeights> w =
        decompose_weights(quantized_weights(*wq, weight), wq->precision() == 1, why);
    if (!w) {
      *why = "weights (" + std::string(wq->name()) + "): " + *why;
      return false;
    }
    std::string how = "packed " + w->describe();
    std::vector<std::string> folded;
    size_t insert_at = ops_.size(), remove_end = ops_.size();
    std::optional<ChannelThresholds> th;
    if (iq) {
      if (!is_threshold_quantizer(*iq)) {
        *why = "input quantizer " + std::string(iq->name()) + " is not a binary/ternary sign";
        return false;
      }
      if (iq->output_scale_kind() != Quantizer::OutputScale::None) {
        if (iq->output_scale_kind() != Quantizer::OutputScale::XnorK) {
          *why = "input quantizer " + std::string(iq->name()) + " scales the output";
          return false;
        }
        o.k_scaling = true;
        th = fold_thresholds({}, *iq, 1, false, why);
        if (!th) return false;
        o.self_quantize = th;
        how += ", self-quantized input with XNOR K scaling";
      } else {
        // The foldable run right before this layer (a flatten may sit between it and the
        // layer as long as nothing foldable comes after the flatten).
        size_t first = ops_.size();
        for (size_t i = ops_.size(); i > 0; --i) {
          const InferenceTraits::Role role = traits(*ops_[i - 1]).role;
          if (role == InferenceTraits::Role::Reshape && first == ops_.size()) continue;
          if (role != InferenceTraits::Role::Monotone) break;
          first = i - 1;
        }
        size_t last = first;  // one past the run
        while (last < ops_.size() && is_role(*ops_[last], InferenceTraits::Role::Monotone)) ++last;
        std::vector<Module*> chain;
        int64_t channels = 1;
        bool four_d = false;
        for (size_t i = first; i < last; ++i) {
          Module& cm = static_cast<ModuleOp&>(*ops_[i]).module();
          chain.push_back(&cm);
          const InferenceTraits t = cm.inference_traits();
          if (t.channels > 0) channels = t.channels;
          if (t.probe_rank == 4) four_d = true;
        }
        std::string fold_why;
        if (!chain.empty()) th = fold_thresholds(chain, *iq, channels, four_d, &fold_why);
        if (th) {
          for (size_t i = first; i < last; ++i) folded.push_back(layer_type(*ops_[i]));
          insert_at = first;
          remove_end = last;
        } else {
          th = fold_thresholds({}, *iq, 1, false, why);
          if (!th) return false;
        }
        folded.push_back(std::string(iq->name()));
      }
      o.input = th->ternary ? InputMode::Ternary : InputMode::Binary;
      how += std::string(", ") + (th->ternary ? "ternary" : "binary") + " input";
    } else {
      o.input = InputMode::Float;
      // Fed by the model input (only flattens before it) with 8-bit pixels: bit planes.
      bool first = !o.conv && !options_.input_lut.empty() &&
                   w->scale != PackedWeights::Scale::PosNeg;
      for (const auto& prev : ops_) first = first && is_role(*prev, InferenceTraits::Role::Reshape);
      if (first) {
        o.input_lut = options_.input_lut;
        how += ", 8-bit input grid (integer GEMM)";
      } else {
        how += ", float input (float GEMM)";
      }
    }
    auto op = std::make_unique<PackedLayerOp>(o, std::move(*w),
                                              bias.defined() ? bias.data().clone() : Tensor());
    op->source = leaf.name;
    if (o.input != InputMode::Float && !o.self_quantize) {
      auto t = std::make_unique<ThresholdOp>(*th, folded);
      std::string src = leaf.name;
      if (insert_at < remove_end) src = ops_[insert_at]->source + "-" + leaf.name;
      t->source = src;
      if (report_)
        for (size_t i = insert_at; i < remove_end; ++i)
          for (auto& row : report_->layers)
            if (row.name == ops_[i]->source)
              row.how = "folded into the input thresholds of layer " + leaf.name;
      ops_.erase(ops_.begin() + static_cast<std::ptrdiff_t>(insert_at),
                 ops_.begin() + static_cast<std::ptrdiff_t>(remove_end));
      ops_.insert(ops_.begin() + static_cast<std::ptrdiff_t>(insert_at), std::move(t));
      if (folded.size() > 1) {
        how += ", folds";
        for (size_t i = 0; i + 1 < folded.size(); ++i) how += " " + folded[i];
        how += " into thresholds";
      }
    }
    ops_.push_back(std::move(op));
    note(leaf, how);
    return true;
  }

  ConvertReport* report_;
  ConvertOptions options_;
  std::vector<PackedOpPtr> ops_;
};

}  // namespace

std::vector<float> input_lut_from_transforms(const TransformList& transforms) {
  // A constant image of each level through the evaluation pipeline (centre crop, no flip);
  // the centre pixel is never padding. Channels: as many as a normalisation names.
  int64_t C = 1, S = 1;
  for (const Transform& t : transforms) {
    C = std::max<int64_t>(C, static_cast<int64_t>(t.mean.size()));
    S = std::max<int64_t>(S, t.size);
  }
  const TransformPipeline pipeline(transforms, {C, S, S});
  const Shape out = pipeline.output_shape();
  const int64_t plane = out[1] * out[2], centre = (out[1] / 2) * out[2] + out[2] / 2;
  Rng rng(0);
  const AugmentDraw draw = pipeline.draw(rng, /*augment=*/false);
  std::vector<float> lut(256);
  std::vector<uint8_t> src(static_cast<size_t>(C * S * S));
  std::vector<float> dst(static_cast<size_t>(C * plane));
  for (int v = 0; v < 256; ++v) {
    std::fill(src.begin(), src.end(), static_cast<uint8_t>(v));
    pipeline.apply(src.data(), dst.data(), draw);
    for (int64_t c = 0; c < C; ++c)
      if (dst[static_cast<size_t>(c * plane + centre)] != dst[static_cast<size_t>(centre)])
        return {};  // channels differ
    lut[static_cast<size_t>(v)] = dst[static_cast<size_t>(centre)];
    if (v > 0 && !(lut[static_cast<size_t>(v)] > lut[static_cast<size_t>(v - 1)])) return {};
  }
  return lut;
}

PackedModel convert_model(Module& model, ConvertReport* report, const ConvertOptions& options) {
  model.eval();
  std::vector<Leaf> leaves;
  collect_leaves(model, "", leaves);
  Converter conv(report, options);
  for (const Leaf& leaf : leaves) conv.add(leaf);
  PackedModel pm;
  pm.ops = conv.take();
  int64_t f32 = 0;
  for (const auto& [name, t] : model.state_tensors()) f32 += t.numel() * 4;
  if (report) {
    report->float32_bytes = f32;
    report->packed_bytes = pm.stored_bytes();
  }
  pm.meta["memory"] = {{"float32_bytes", f32}, {"packed_bytes", pm.stored_bytes()}};
  return pm;
}

PackedModel export_run(const std::string& run_dir, ConvertReport* report) {
  const RunPaths paths(run_dir);
  const nlohmann::json resolved = load_json_file(paths.config);
  ExperimentConfig cfg;
  try {
    cfg = parse_experiment(resolved);
  } catch (const Error& e) {
    LB_FAIL(paths.config, ": ", e.what());
  }
  ModulePtr model = load_trained_model(resolved, paths.model);
  ConvertOptions options;
  options.input_lut = input_lut_from_transforms(make_transforms(cfg.data.transforms, "data.transforms"));
  PackedModel pm = convert_model(*model, report, options);
  pm.meta["name"] = cfg.name;
  pm.meta["source"] = {{"run_dir", run_dir}, {"config", cfg.resolved}};
  return pm;
}

std::string format_report(const ConvertReport& report, int64_t file_bytes) {
  std::ostringstream os;
  size_t wn = 5, wt = 4;
  for (const auto& l : report.layers) {
    wn = std::max(wn, l.name.size());
    wt = std::max(wt, l.type.size());
  }
  os << std::left << std::setw(static_cast<int>(wn)) << "layer" << "  "
     << std::setw(static_cast<int>(wt)) << "type" << "  export\n";
  for (const auto& l : report.layers)
    os << std::setw(static_cast<int>(wn)) << l.name << "  " << std::setw(static_cast<int>(wt))
       << l.type << "  " << l.how << "\n";
  os << std::right;
  auto mib = [](int64_t b) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(3) << static_cast<double>(b) / (1024.0 * 1024.0) << " MiB";
    return s.str();
  };
  auto ratio = [&](int64_t b) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1)
      << (b > 0 ? static_cast<double>(report.float32_bytes) / static_cast<double>(b) : 0.0) << "x";
    return s.str();
  };
  os << "memory: float32 " << mib(report.float32_bytes) << " (" << report.float32_bytes
     << " bytes); packed tensors " << mib(report.packed_bytes) << " (" << ratio(report.packed_bytes)
     << " smaller)";
  if (file_bytes > 0)
    os << "; packed file " << mib(file_bytes) << " (" << file_bytes << " bytes, "
       << ratio(file_bytes) << " smaller)";
  os << "\n";
  return os.str();
}

}  // namespace lowbit::packed
