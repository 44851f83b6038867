#include "quant/summary.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "core/check.h"
#include "core/json_args.h"
#include "layers/sequential.h"
#include "quant/quant_layer.h"

namespace lowbit {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

Shape drop_batch(const Shape& s) { return s.empty() ? s : Shape(s.begin() + 1, s.end()); }

std::string mac_category(const Quantizer* wq, const Quantizer* iq) {
  const int wb = wq ? wq->precision() : 32, ab = iq ? iq->precision() : 32;
  const int bits = std::max(wb, ab);
  if (bits > 16) return "float";
  if (bits == 1) return "binary";
  const int64_t wl = wq ? wq->levels() : int64_t{1} << 30;
  const int64_t al = iq ? iq->levels() : int64_t{1} << 30;
  if (wl <= 3 && al <= 3) return "ternary";
  return "k-bit";
}

void add_macs(MacCounts& c, const std::string& category, int64_t macs) {
  if (category == "binary")
    c.binary += macs;
  else if (category == "ternary")
    c.ternary += macs;
  else if (category == "k-bit")
    c.kbit += macs;
  else if (category == "float")
    c.floating += macs;
}

/// One leaf layer's row from its input and output shapes (batch included).
LayerSummary leaf_row(const Module& m, const std::string& name, const Shape& out_shape) {
  LayerSummary r;
  r.name = name;
  r.type = std::string(m.type());
  r.output_shape = drop_batch(out_shape);
  const auto* q = dynamic_cast<const QuantizedLayer*>(&m);
  const Quantizer* iq = q ? q->input_quantizer() : nullptr;
  const Quantizer* wq = q ? q->weight_quantizer() : nullptr;
  if (iq) {
    r.input_quantizer = iq->label();
    r.activation_bits = iq->precision();
  }
  if (wq) {
    r.weight_quantizer = wq->label();
    r.weight_bits = wq->precision();
  }
  for (const NamedParameter& p : m.named_parameters()) {
    const int64_t n = p.var.numel();
    r.params += n;
    r.float32_bits += 32 * n;
    if (p.name == "weight" && p.var.dim() >= 2) {
      // A weight-bearing layer: out[n, o, ...] = Σ over weight[o] (linear, conv):
      // MACs per sample = output elements · weight elements per output filter.
      const int64_t per_filter = n / p.var.size(0);
      r.macs = shape_numel(r.output_shape) * per_filter;
      r.mac_precision = mac_category(wq, iq);
      r.quantized_bits +=
          wq ? int64_t{wq->precision()} * n + 32 * wq->num_scales(p.var.shape()) : 32 * n;
    } else {
      r.quantized_bits += 32 * n;
    }
  }
  return r;
}

/// Walks Sequential containers child by child; everything else is one row.
Var walk(Module& m, const std::string& name, const Var& x, ModelSummary& s) {
  const bool leaf = m.children().empty() || dynamic_cast<const QuantizedLayer*>(&m) != nullptr;
  if (dynamic_cast<const Sequential*>(&m)) {
    Var h = x;
    for (const auto& [child_name, child] : m.children())
      h = walk(*child, join(name, child_name), h, s);
    return h;
  }
  Var y = m(x);
  if (leaf) {
    s.layers.push_back(leaf_row(m, name, y.shape()));
  } else {
    LayerSummary r;
    r.name = name;
    r.type = std::string(m.type());
    r.output_shape = drop_batch(y.shape());
    r.params = m.num_parameters();
    r.float32_bits = r.quantized_bits = 32 * r.params;
    r.mac_precision = "unknown";
    s.layers.push_back(r);
  }
  return y;
}

nlohmann::json shape_json(const Shape& s) { return nlohmann::json(s); }

nlohmann::json name_or_null(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

std::string shape_text(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}

/// 1234567 -> "1,234,567".
std::string grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string kib(int64_t bits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f KiB", static_cast<double>(bits) / 8.0 / 1024.0);
  return buf;
}

}  // namespace

double ModelSummary::compression_ratio() const {
  return quantized_bits > 0
             ? static_cast<double>(float32_bits) / static_cast<double>(quantized_bits)
             : 1.0;
}

ModelSummary summarize(Module& model, const Shape& input_shape) {
  ModelSummary s;
  s.input_shape = input_shape;
  Shape batch_shape{1};
  batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
  const bool was_training = model.is_training();
  model.eval();
  try {
    NoGradGuard no_grad;
    walk(model, "", Var(Tensor::zeros(batch_shape)), s);
  } catch (const Error& e) {
    model.train(was_training);
    LB_FAIL("summarize: the shape pass with input ", shape_str(batch_shape), " failed: ", e.what());
  }
  model.train(was_training);
  for (const LayerSummary& r : s.layers) {
    s.params += r.params;
    s.float32_bits += r.float32_bits;
    s.quantized_bits += r.quantized_bits;
    add_macs(s.macs, r.mac_precision, r.macs);
  }
  return s;
}

nlohmann::json summary_to_json(const ModelSummary& s) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerSummary& r : s.layers) {
    layers.push_back({{"name", r.name},
                      {"type", r.type},
                      {"input_quantizer", name_or_null(r.input_quantizer)},
                      {"weight_quantizer", name_or_null(r.weight_quantizer)},
                      {"weight_bits", r.weight_bits},
                      {"activation_bits", r.activation_bits},
                      {"output_shape", shape_json(r.output_shape)},
                      {"params", r.params},
                      {"macs", r.macs},
                      {"mac_precision", name_or_null(r.mac_precision)},
                      {"float32_bits", r.float32_bits},
                      {"quantized_bits", r.quantized_bits}});
  }
  nlohmann::json totals = {{"params", s.params},
                           {"macs",
                            {{"binary", s.macs.binary},
                             {"ternary", s.macs.ternary},
                             {"k_bit", s.macs.kbit},
                             {"float", s.macs.floating},
                             {"total", s.macs.total()}}},
                           {"float32_bits", s.float32_bits},
                           {"quantized_bits", s.quantized_bits},
                           {"float32_bytes", static_cast<double>(s.float32_bits) / 8.0},
                           {"quantized_bytes", static_cast<double>(s.quantized_bits) / 8.0},
                           {"compression_ratio", s.compression_ratio()}};
  return {{"input_shape", shape_json(s.input_shape)}, {"layers", layers}, {"totals", totals}};
}

void print_summary(std::ostream& os, const ModelSummary& s) {
  const std::vector<std::string> head = {"layer",  "type",   "input q", "weight q", "w bits",
                                         "a bits", "output", "params",  "MACs",     "MAC prec"};
  std::vector<std::vector<std::string>> rows;
  for (const LayerSummary& r : s.layers) {
    const bool has_w = r.macs > 0 || r.mac_precision == "unknown";
    rows.push_back(
        {r.name.empty() ? "-" : r.name, r.type, r.input_quantizer.empty() ? "-" : r.input_quantizer,
         r.weight_quantizer.empty() ? "-" : r.weight_quantizer,
         has_w ? std::to_string(r.weight_bits) : "-",
         has_w ? std::to_string(r.activation_bits) : "-", shape_text(r.output_shape),
         grouped(r.params), grouped(r.macs), r.mac_precision.empty() ? "-" : r.mac_precision});
  }
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  // Text columns left-aligned, numbers right-aligned.
  const std::vector<bool> right = {false, false, false, false, true,
                                   true,  false, true,  true,  false};
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      out += (c ? "  " : "") + (right[c] ? pad + cells[c] : cells[c] + pad);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    os << out << "\n";
  };
  size_t total_width = 0;
  for (size_t w : width) total_width += w + 2;
  const std::string rule(total_width - 2, '-');
  os << "Model summary, input " << shape_text(s.input_shape) << "\n" << rule << "\n";
  line(head);
  os << rule << "\n";
  for (const auto& row : rows) line(row);
  os << rule << "\n";
  os << "params: " << grouped(s.params) << "\n";
  os << "MACs per sample: " << grouped(s.macs.total()) << " (binary " << grouped(s.macs.binary)
     << ", ternary " << grouped(s.macs.ternary) << ", k-bit " << grouped(s.macs.kbit) << ", float "
     << grouped(s.macs.floating) << ")\n";
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2fx", s.compression_ratio());
  os << "size: float32 " << kib(s.float32_bits) << ", quantized " << kib(s.quantized_bits) << " ("
     << grouped(s.quantized_bits) << " bits), compression " << ratio << "\n";
}

}  // namespace lowbit
