#include "packed/packed_model.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <limits>
#include <memory>
#include <sstream>

#include "core/check.h"
#include "packed/kernels/binary_gemm.h"
#include "core/parallel.h"
#include "core/ops.h"
#include "core/threads.h"
#include "core/random.h"
#include "layers/registry.h"
#include "quant/functions.h"
#include "quant/registry.h"

namespace lowbit::packed {

using kernels::PackedMatrix;
using kernels::PackLayout;

namespace {

std::string kib(int64_t bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1024.0 << " KiB";
  return os.str();
}

const char* scale_name(PackedWeights::Scale s) {
  switch (s) {
    case PackedWeights::Scale::One:
      return "one";
    case PackedWeights::Scale::PerRow:
      return "per_row";
    case PackedWeights::Scale::PosNeg:
      return "pos_neg";
  }
  return "?";
}

const char* input_name(InputMode m) {
  switch (m) {
    case InputMode::Float:
      return "float";
    case InputMode::Binary:
      return "binary";
    case InputMode::Ternary:
      return "ternary";
  }
  return "?";
}

InputMode parse_input(const std::string& s, const std::string& source) {
  if (s == "float") return InputMode::Float;
  if (s == "binary") return InputMode::Binary;
  if (s == "ternary") return InputMode::Ternary;
  LB_FAIL(source, ": unknown packed layer input \"", s, "\" (expected float, binary, ternary)");
}

std::vector<uint64_t> words_of(const Blob& b) {
  std::vector<uint64_t> w(static_cast<size_t>(b.numel()));
  std::memcpy(w.data(), b.bytes.data(), b.bytes.size());
  return w;
}

}  // namespace

// ---- PackedWeights

Tensor PackedWeights::unit() const {
  Tensor u = Tensor::empty({rows, k});
  const int64_t kw = words_per_row();
  float* o = u.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      const int64_t w = r * kw + j / 64;
      const uint64_t bit = uint64_t{1} << (j % 64);
      const bool nz = !ternary || (mask[w] & bit);
      o[r * k + j] = nz ? ((sign[w] & bit) ? -1.f : 1.f) : 0.f;
    }
  return u;
}

Tensor PackedWeights::indicator(float sign_value) const {
  Tensor u = unit();
  float* p = u.data();
  for (int64_t i = 0; i < u.numel(); ++i) p[i] = p[i] == sign_value ? 1.f : 0.f;
  return u;
}

Tensor PackedWeights::dequantize() const {
  Tensor q = unit();
  float* p = q.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j) {
      float& v = p[r * k + j];
      if (scale == Scale::PerRow) v = v < 0 ? -pos[r] : (v > 0 ? pos[r] : 0.f);
      if (scale == Scale::PosNeg) v = v < 0 ? -neg[r] : (v > 0 ? pos[r] : 0.f);
    }
  return q;
}

int64_t PackedWeights::bytes() const {
  return static_cast<int64_t>((sign.size() + mask.size()) * 8 + (pos.size() + neg.size()) * 4);
}

std::string PackedWeights::describe() const {
  std::string s = ternary ? "ternary weights (2 bits)" : "binary weights (1 bit)";
  if (scale == Scale::PerRow) s += ", scale per unit";
  if (scale == Scale::PosNeg) s += ", +Wp/-Wn scales";
  return s;
}

void PackedWeights::save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const {
  spec = {{"rows", rows}, {"k", k}, {"ternary", ternary}, {"scale", scale_name(scale)}};
  const Shape planes{rows, words_per_row()};
  f.add_blob(prefix + ".sign", BlobType::U64, planes, sign.data());
  spec["sign"] = prefix + ".sign";
  if (ternary) {
    f.add_blob(prefix + ".mask", BlobType::U64, planes, mask.data());
    spec["mask"] = prefix + ".mask";
  }
  if (scale != Scale::One) {
    f.add_blob(prefix + ".pos", BlobType::F32, {rows}, pos.data());
    spec["pos"] = prefix + ".pos";
  }
  if (scale == Scale::PosNeg) {
    f.add_blob(prefix + ".neg", BlobType::F32, {rows}, neg.data());
    spec["neg"] = prefix + ".neg";
  }
}

PackedWeights PackedWeights::load(const PackedFile& f, const nlohmann::json& spec,
                                  const std::string& prefix) {
  PackedWeights w;
  w.rows = spec.at("rows").get<int64_t>();
  w.k = spec.at("k").get<int64_t>();
  w.ternary = spec.at("ternary").get<bool>();
  LB_CHECK(w.rows > 0 && w.k > 0, f.source, ": ", prefix, ": bad weight shape (", w.rows, ", ",
           w.k, ")");
  const std::string s = spec.at("scale").get<std::string>();
  if (s == "one") {
    w.scale = Scale::One;
  } else if (s == "per_row") {
    w.scale = Scale::PerRow;
  } else if (s == "pos_neg") {
    w.scale = Scale::PosNeg;
  } else {
    LB_FAIL(f.source, ": ", prefix, ": unknown weight scale \"", s,
            "\" (expected one, per_row, pos_neg)");
  }
  const int64_t words = w.rows * w.words_per_row();
  w.sign = words_of(f.blob(spec.at("sign").get<std::string>(), BlobType::U64, words));
  if (w.ternary) w.mask = words_of(f.blob(spec.at("mask").get<std::string>(), BlobType::U64, words));
  if (w.scale != Scale::One) w.pos = f.f32(spec.at("pos").get<std::string>(), w.rows).to_vector();
  if (w.scale == Scale::PosNeg)
    w.neg = f.f32(spec.at("neg").get<std::string>(), w.rows).to_vector();
  return w;
}

std::optional<PackedWeights> decompose_weights(const Tensor& wq, bool binary_quantizer,
                                               std::string* why) {
  LB_CHECK(wq.defined() && wq.dim() == 2, "decompose_weights: expected (rows, k) weights, got ",
           wq.defined() ? shape_str(wq.shape()) : std::string("an undefined tensor"));
  auto fail = [&](std::string reason) -> std::optional<PackedWeights> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  PackedWeights w;
  w.rows = wq.size(0);
  w.k = wq.size(1);
  const int64_t kw = w.words_per_row();
  const float* q = wq.data();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> p(static_cast<size_t>(w.rows), nan), n(static_cast<size_t>(w.rows), nan);
  bool zeros = false;
  for (int64_t r = 0; r < w.rows; ++r) {
    bool row_zero = false;
    for (int64_t j = 0; j < w.k; ++j) {
      const float v = q[r * w.k + j];
      float& level = v > 0 ? p[r] : n[r];
      if (v == 0.f) {
        row_zero = true;
      } else if (!(std::fabs(v) < std::numeric_limits<float>::infinity())) {
        return fail("weight value " + std::to_string(v) + " is not finite");
      } else if (std::isnan(level)) {
        level = std::fabs(v);
      } else if (std::fabs(v) != level) {
        std::ostringstream os;
        os << "unit " << r << " has weight values " << (v > 0 ? "" : "-") << level << " and " << v
           << ": more than {-n, 0, +p} per unit (k-bit weights stay float)";
        return fail(os.str());
      }
    }
    // A binary quantizer's all-zero row (α = 0) is binary with scale 0.
    const bool all_zero = std::isnan(p[r]) && std::isnan(n[r]);
    if (row_zero && !(binary_quantizer && all_zero)) zeros = true;
  }
  w.ternary = zeros;
  w.sign.assign(static_cast<size_t>(w.rows * kw), 0);
  if (w.ternary) w.mask.assign(w.sign.size(), 0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t j = 0; j < w.k; ++j) {
      const float v = q[r * w.k + j];
      const uint64_t bit = uint64_t{1} << (j % 64);
      if (v < 0) w.sign[r * kw + j / 64] |= bit;
      if (w.ternary && v != 0.f) w.mask[r * kw + j / 64] |= bit;
    }
  bool symmetric = true, ones = true;
  for (int64_t r = 0; r < w.rows; ++r) {
    if (!std::isnan(p[r]) && !std::isnan(n[r]) && p[r] != n[r]) symmetric = false;
    const float a = !std::isnan(p[r]) ? p[r] : (!std::isnan(n[r]) ? n[r] : 0.f);
    if (a != 1.f) ones = false;
  }
  if (symmetric && ones) {
    w.scale = PackedWeights::Scale::One;
  } else if (symmetric) {
    w.scale = PackedWeights::Scale::PerRow;
    for (int64_t r = 0; r < w.rows; ++r)
      w.pos.push_back(!std::isnan(p[r]) ? p[r] : (!std::isnan(n[r]) ? n[r] : 0.f));
  } else {
    w.scale = PackedWeights::Scale::PosNeg;
    for (int64_t r = 0; r < w.rows; ++r) {
      w.pos.push_back(std::isnan(p[r]) ? 0.f : p[r]);
      w.neg.push_back(std::isnan(n[r]) ? 0.f : n[r]);
    }
  }
  return w;
}

// ---- ModuleOp

ModuleOp::ModuleOp(nlohmann::json spec, const NamedTensors& tensors, const std::string& source_name)
    : spec_(std::move(spec)) {
  source = source_name;
  register_quant_modules();
  Rng rng(0);  // initial values are overwritten by the tensors
  module_ = make_module(spec_, rng, "packed layer " + source_name);
  module_->load_state_tensors(tensors, "packed layer " + source_name);
  module_->eval();
}

Tensor ModuleOp::forward(const Tensor& x) {
  NoGradGuard no_grad;
  return module_->forward(Var(x)).data();
}

std::string ModuleOp::describe() const {
  std::string s = spec_.value("type", std::string("?")) + " (float)";
  if (stored_bytes() > 0) s += ", " + kib(stored_bytes());
  return s;
}

void ModuleOp::save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const {
  spec = {{"op", "module"}, {"source", source}, {"spec", spec_}};
  nlohmann::json tensors = nlohmann::json::object();
  for (const auto& [name, t] : module_->state_tensors()) {
    f.add_f32(prefix + "." + name, t);
    tensors[name] = prefix + "." + name;
  }
  spec["tensors"] = tensors;
}

int64_t ModuleOp::stored_bytes() const {
  int64_t n = 0;
  for (const auto& [name, t] : module_->state_tensors()) n += t.numel() * 4;
  return n;
}

// ---- ThresholdOp

std::string ThresholdOp::describe() const {
  std::string s = "threshold -> ";
  s += th_.ternary ? "{-1, 0, +1}" : "{-1, +1}";
  s += ", " + std::to_string(th_.channels) + (th_.channels == 1 ? " channel" : " channels");
  if (!folded_.empty()) {
    s += ", folds";
    for (const auto& f : folded_) s += " " + f;
  }
  return s;
}

void ThresholdOp::save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const {
  spec = {{"op", "threshold"}, {"source", source}, {"folded", folded_}};
  nlohmann::json th;
  th_.save(f, th, prefix);
  spec["thresholds"] = th;
}

// ---- PackedLayerOp

PackedLayerOp::PackedLayerOp(PackedLayerOptions options, PackedWeights weights, Tensor bias)
    : options_(std::move(options)), weights_(std::move(weights)), bias_(std::move(bias)) {
  const auto& o = options_;
  const int64_t k_expected = o.conv ? o.in_features * o.kernel_size * o.kernel_size : o.in_features;
  LB_CHECK(weights_.rows == o.out_features && weights_.k == k_expected, "PackedLayerOp: weights (",
           weights_.rows, ", ", weights_.k, ") do not match the layer (", o.out_features, ", ",
           k_expected, ")");
  LB_CHECK(!bias_.defined() || bias_.numel() == o.out_features, "PackedLayerOp: bias has ",
           bias_.numel(), " values for ", o.out_features, " outputs");
  LB_CHECK(!o.conv || (o.kernel_size >= 1 && o.stride >= 1 && o.padding >= 0),
           "PackedLayerOp: bad conv geometry kernel_size=", o.kernel_size, " stride=", o.stride,
           " padding=", o.padding);
  LB_CHECK(!o.self_quantize || o.input != InputMode::Float,
           "PackedLayerOp: a self-quantizing layer needs a binary or ternary input mode");
  const Shape wshape = o.conv ? Shape{o.out_features, o.in_features, o.kernel_size, o.kernel_size}
                              : Shape{o.out_features, o.in_features};
  w_float_ = weights_.dequantize().reshape(wshape);
  if (weights_.scale == PackedWeights::Scale::PerRow)
    alpha_ = Tensor::from_vector({o.out_features}, weights_.pos);
  if (weights_.scale == PackedWeights::Scale::PosNeg) {
    alpha_ = Tensor::from_vector({o.out_features}, weights_.pos);
    neg_scale_ = Tensor::from_vector({o.out_features}, weights_.neg);
  }
  LB_CHECK(o.input_lut.empty() ||
               (o.input_lut.size() == 256 && !o.conv && o.input == InputMode::Float &&
                weights_.scale != PackedWeights::Scale::PosNeg),
           "PackedLayerOp: an input grid needs a linear layer with float input, symmetric "
           "weights and 256 levels");
  for (size_t v = 1; v < o.input_lut.size(); ++v)
    LB_CHECK(o.input_lut[v - 1] < o.input_lut[v], "PackedLayerOp: the input grid must increase");
  if (o.input == InputMode::Float && o.input_lut.empty()) return;  // float GEMM only
  if (!o.input_lut.empty()) {
    const Tensor u = weights_.unit();
    for (int64_t r = 0; r < weights_.rows; ++r) {
      double sum = 0;
      for (int64_t j = 0; j < weights_.k; ++j) sum += u.data()[r * weights_.k + j];
      unit_row_sums_.push_back(static_cast<int32_t>(sum));
    }
    u8_ = pack_u8_weights(u);
    return;
  }
  if (weights_.scale != PackedWeights::Scale::PosNeg) {
    const Tensor u = weights_.unit().reshape(wshape);
    if (o.conv) {
      c_rows_ = kernels::pack_conv_weights(u, weights_.ternary);
    } else {
      w_rows_ = weights_.ternary ? kernels::pack_ternary(u, PackLayout::Panels)
                                 : kernels::pack_binary(u, PackLayout::Panels);
    }
  } else {
    const Tensor p = weights_.indicator(1.f).reshape(wshape);
    const Tensor n = weights_.indicator(-1.f).reshape(wshape);
    if (o.conv) {
      c_pos_ = kernels::pack_conv_weights(p, true);
      c_neg_ = kernels::pack_conv_weights(n, true);
    } else {
      w_pos_ = kernels::pack_ternary(p, PackLayout::Panels);
      w_neg_ = kernels::pack_ternary(n, PackLayout::Panels);
    }
  }
}

Tensor PackedLayerOp::forward(const Tensor& x) {
  const auto& o = options_;
  if (o.conv) {
    LB_CHECK(x.defined() && x.dim() == 4 && x.size(1) == o.in_features,
             kind(), " ", source, ": expected input (N, ", o.in_features, ", H, W), got ",
             x.defined() ? shape_str(x.shape()) : std::string("undefined"));
    LB_CHECK(x.size(2) + 2 * o.padding >= o.kernel_size && x.size(3) + 2 * o.padding >= o.kernel_size,
             kind(), " ", source, ": input ", x.shape(), " is smaller than the kernel ",
             o.kernel_size);
  } else {
    LB_CHECK(x.defined() && x.dim() == 2 && x.size(1) == o.in_features, kind(), " ", source,
             ": expected input (N, ", o.in_features, "), got ",
             x.defined() ? shape_str(x.shape()) : std::string("undefined"));
  }
  Tensor k_scale, xq = x;
  if (o.self_quantize) {
    if (o.k_scaling) {
      NoGradGuard no_grad;
      const InputWindow window =
          o.conv ? InputWindow{.kernel_h = o.kernel_size,
                               .kernel_w = o.kernel_size,
                               .conv = Conv2dArgs{.stride = o.stride, .padding = o.padding}}
                 : InputWindow{};
      k_scale = xnor_input_scale(Var(x), window).data();
    }
    xq = o.self_quantize->apply(x);
  }
  if (compute_ == Compute::Packed && !o.input_lut.empty()) {
    Tensor y = forward_levels(x);
    if (y.defined()) return y;
  }
  if (o.input == InputMode::Float || compute_ == Compute::Float) return forward_float(xq, k_scale);
  return forward_packed(xq, k_scale);
}

// The training-time float path on the dequantized weights, op for op as QuantLinear /
// QuantConv2d::forward (so the result is bit-identical to the simulation).
Tensor PackedLayerOp::forward_float(const Tensor& xq, const Tensor& k_scale) const {
  NoGradGuard no_grad;
  const auto& o = options_;
  const Var x(xq), w(w_float_), b = bias_.defined() ? Var(bias_) : Var();
  if (!o.conv) {
    if (!k_scale.defined()) return linear(x, w, b).data();
    Var y = mul(linear(x, w), Var(k_scale));
    return (b.defined() ? add(y, b) : y).data();
  }
  const Conv2dArgs args{.stride = o.stride, .padding = o.padding};
  if (!k_scale.defined()) return conv2d(x, w, b, args).data();
  Var y = mul(conv2d(x, w, Var(), args), Var(k_scale));
  return (b.defined() ? add(y, reshape(b, {1, o.out_features, 1, 1})) : y).data();
}

void PackedLayerOp::finish(Tensor& y, const Tensor& k_scale, bool bias_done) const {
  const int64_t N = y.size(0), O = y.size(1), S = y.numel() / (N * O);
  float* p = y.data();
  const float* K = k_scale.defined() ? k_scale.data() : nullptr;  // (N, 1, S) or (N, 1)
  const float* b = bias_.defined() && !bias_done ? bias_.data() : nullptr;
  if (!K && !b) return;
  kernels::parallel_for(
      N * O,
      [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          float* row = p + q * S;
          const int64_t n = q / O, c = q % O;
          if (K)
            for (int64_t s = 0; s < S; ++s) row[s] *= K[n * S + s];
          if (b)
            for (int64_t s = 0; s < S; ++s) row[s] += b[c];
        }
      },
      S);
}

Tensor PackedLayerOp::linear_gemm(const PackedMatrix& a, const Tensor& k_scale) const {
  const bool posneg = weights_.scale == PackedWeights::Scale::PosNeg;
  const float* alpha = alpha_.defined() ? alpha_.data() : nullptr;
  const float* bias = bias_.defined() ? bias_.data() : nullptr;
  const int64_t N = a.rows, O = options_.out_features;
  const float* K = k_scale.defined() ? k_scale.data() : nullptr;  // (N, 1)
  Tensor y = Tensor::empty({N, O});
  kernels::packed_gemm(a, posneg ? w_pos_ : w_rows_, y.data(), O,
                       {.row_scale = K, .col_scale = alpha, .col_bias = bias});
  if (posneg) {
    Tensor t = Tensor::empty({N, O});
    kernels::packed_gemm(a, w_neg_, t.data(), O, {.row_scale = K, .col_scale = neg_scale_.data()});
    y.add_(t, -1.f);
  }
  return y;
}

bool PackedLayerOp::can_fuse_threshold(const ChannelThresholds& th) const {
  const auto& o = options_;
  return compute_ == Compute::Packed && !o.conv && o.input != InputMode::Float &&
         !o.self_quantize && th.ternary == (o.input == InputMode::Ternary) &&
         (th.channels == 1 || th.channels == o.in_features);
}

Tensor PackedLayerOp::forward_thresholded(const Tensor& y, const ChannelThresholds& th) const {
  LB_CHECK(y.defined() && y.dim() == 2 && y.size(1) == options_.in_features, kind(), " ", source,
           ": expected input (N, ", options_.in_features, "), got ",
           y.defined() ? shape_str(y.shape()) : std::string("undefined"));
  return linear_gemm(th.pack_rows(y), Tensor());
}

Tensor PackedLayerOp::forward_packed(const Tensor& xq, const Tensor& k_scale) const {
  const auto& o = options_;
  const bool ternary_in = o.input == InputMode::Ternary;
  const bool posneg = weights_.scale == PackedWeights::Scale::PosNeg;
  const float* alpha = alpha_.defined() ? alpha_.data() : nullptr;
  const float* bias = bias_.defined() ? bias_.data() : nullptr;
  if (!o.conv)
    return linear_gemm(ternary_in ? kernels::pack_ternary(xq, PackLayout::Rows)
                                  : kernels::pack_binary(xq, PackLayout::Rows),
                       k_scale);
  const kernels::PackedImage img = kernels::pack_image(xq, ternary_in);
  // Bias in the conv epilogue unless K (which multiplies before the bias) or the second
  // (−Wn) term still has to come.
  const bool bias_in_conv = !k_scale.defined() && !posneg;
  kernels::BinaryConv2dOptions opt{.stride = o.stride,
                                   .padding = o.padding,
                                   .channel_scale = alpha,
                                   .channel_bias = bias_in_conv ? bias : nullptr};
  Tensor y = kernels::binary_conv2d(img, posneg ? c_pos_ : c_rows_, opt);
  if (posneg) {
    opt.channel_scale = neg_scale_.data();
    opt.channel_bias = nullptr;
    y.add_(kernels::binary_conv2d(img, c_neg_, opt), -1.f);
  }
  finish(y, k_scale, bias_in_conv);
  return y;
}

// x (N, K) with every value on the grid -> levels v (N, K), lut[v] == x; then
//   y_ij = α_j·(a·Σ_k v_ik u_jk + b·Σ_k u_jk) + bias_j,  lut[v] ≈ a·v + b,
// with the exact integer GEMM of u8_gemm.h.
Tensor PackedLayerOp::forward_levels(const Tensor& x) const {
  const auto& lut = options_.input_lut;
  const int64_t N = x.size(0), K = options_.in_features, O = options_.out_features;
  // The grid is nearly affine: guess the level, then check it and its neighbours.
  const float l0 = lut[0], inv_step = 255.f / (lut[255] - lut[0]);
  const float* xd = x.data();
  const auto v = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(N * K));
  auto level_of = [&](float xv) {
    const float g = (xv - l0) * inv_step;
    const int c = g > -1.f && g < 256.f ? static_cast<int>(std::nearbyint(g)) : -2;
    for (int l : {c, c - 1, c + 1})
      if (l >= 0 && l < 256 && lut[static_cast<size_t>(l)] == xv) return l;
    return -1;
  };
  bool on_grid = true;
  kernels::parallel_for(
      N * K,
      [&](int64_t e0, int64_t e1) {
        bool ok = true;
        int64_t e = e0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
// GCC 12 reports the intrinsics' internal _mm512_undefined_* as maybe-uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
        // 16 at a time: rounded guess, gather lut, exact compare; other lanes take the
        // scalar search below.
        const __m512 vl0 = _mm512_set1_ps(l0), vinv = _mm512_set1_ps(inv_step);
        const __m512i lo = _mm512_setzero_si512(), hi = _mm512_set1_epi32(255);
        for (; e + 16 <= e1; e += 16) {
          const __m512 xv = _mm512_loadu_ps(xd + e);
          __m512i c = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_sub_ps(xv, vl0), vinv));
          c = _mm512_min_epi32(_mm512_max_epi32(c, lo), hi);
          const __m512 got = _mm512_i32gather_ps(c, lut.data(), 4);
          const __mmask16 eq = _mm512_cmp_ps_mask(got, xv, _CMP_EQ_OQ);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(v.get() + e), _mm512_cvtepi32_epi8(c));
          if (eq != 0xffff)
            for (int l = 0; l < 16; ++l)
              if (!(eq >> l & 1)) {
                const int level = level_of(xd[e + l]);
                ok = ok && level >= 0;
                v[static_cast<size_t>(e + l)] = static_cast<uint8_t>(level);
              }
        }
#pragma GCC diagnostic pop
#endif
        for (; e < e1; ++e) {
          const int level = level_of(xd[e]);
          ok = ok && level >= 0;
          v[static_cast<size_t>(e)] = static_cast<uint8_t>(level);
        }
        if (!ok) {
#pragma omp atomic write
          on_grid = false;
        }
      });
  if (!on_grid) return Tensor();
  // Every entry is written by the GEMM: no zero fill.
  const auto d = std::make_unique_for_overwrite<int32_t[]>(static_cast<size_t>(N * O));
  u8_gemm(v.get(), N, u8_, d.get());
  // |Σ v·u| <= 255·K < 2^24 for K < 65,793: the int -> float conversion is exact.
  const float ga = static_cast<float>((static_cast<double>(lut[255]) - lut[0]) / 255.0), gb = lut[0];
  Tensor y = Tensor::empty({N, O});
  float* yd = y.data();
  const float* alpha = alpha_.defined() ? alpha_.data() : nullptr;
  const float* bias = bias_.defined() ? bias_.data() : nullptr;
  const int32_t* usum = unit_row_sums_.data();
  kernels::parallel_for(
      N,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = 0; j < O; ++j) {
            float t = ga * static_cast<float>(d[static_cast<size_t>(i * O + j)]) +
                      gb * static_cast<float>(usum[j]);
            if (alpha) t *= alpha[j];
            if (bias) t += bias[j];
            yd[i * O + j] = t;
          }
      },
      O);
  return y;
}

std::string PackedLayerOp::describe() const {
  const auto& o = options_;
  std::ostringstream os;
  os << kind() << " ";
  if (o.conv)
    os << o.in_features << "->" << o.out_features << " k" << o.kernel_size << " s" << o.stride
       << " p" << o.padding;
  else
    os << o.in_features << "->" << o.out_features;
  os << ", " << weights_.describe() << ", " << input_name(o.input) << " input";
  if (o.k_scaling) os << " (self-quantized, K scaling)";
  if (!o.input_lut.empty())
    os << " on an 8-bit grid (" << (u8_gemm_uses_vnni(u8_) ? "VNNI" : "bit-plane popcount")
       << " integer GEMM)";
  os << ", " << kib(stored_bytes());
  return os.str();
}

int64_t PackedLayerOp::stored_bytes() const {
  int64_t n = weights_.bytes() + (bias_.defined() ? bias_.numel() * 4 : 0);
  if (options_.self_quantize) n += options_.self_quantize->channels * 9;
  n += static_cast<int64_t>(options_.input_lut.size()) * 4;
  return n;
}

void PackedLayerOp::save(PackedFile& f, nlohmann::json& spec, const std::string& prefix) const {
  const auto& o = options_;
  spec = {{"op", kind()},
          {"source", source},
          {"in_features", o.in_features},
          {"out_features", o.out_features},
          {"input", input_name(o.input)},
          {"k_scaling", o.k_scaling}};
  if (o.conv) {
    spec["kernel_size"] = o.kernel_size;
    spec["stride"] = o.stride;
    spec["padding"] = o.padding;
  }
  nlohmann::json w;
  weights_.save(f, w, prefix + ".w");
  spec["weights"] = w;
  if (bias_.defined()) {
    f.add_f32(prefix + ".bias", bias_);
    spec["bias"] = prefix + ".bias";
  } else {
    spec["bias"] = nullptr;
  }
  if (o.self_quantize) {
    nlohmann::json th;
    o.self_quantize->save(f, th, prefix + ".input");
    spec["self_quantize"] = th;
  } else {
    spec["self_quantize"] = nullptr;
  }
  spec["input_lut"] = nullptr;
  if (!o.input_lut.empty()) {
    f.add_blob(prefix + ".input_lut", BlobType::F32, {256}, o.input_lut.data());
    spec["input_lut"] = prefix + ".input_lut";
  }
}

std::unique_ptr<PackedLayerOp> PackedLayerOp::load(const PackedFile& f, const nlohmann::json& spec,
                                                   const std::string& prefix) {
  PackedLayerOptions o;
  o.conv = spec.at("op").get<std::string>() == "packed_conv2d";
  o.in_features = spec.at("in_features").get<int64_t>();
  o.out_features = spec.at("out_features").get<int64_t>();
  o.input = parse_input(spec.at("input").get<std::string>(), f.source);
  o.k_scaling = spec.at("k_scaling").get<bool>();
  if (o.conv) {
    o.kernel_size = spec.at("kernel_size").get<int64_t>();
    o.stride = spec.at("stride").get<int64_t>();
    o.padding = spec.at("padding").get<int64_t>();
  }
  if (!spec.at("self_quantize").is_null())
    o.self_quantize = ChannelThresholds::load(f, spec.at("self_quantize"), prefix + ".input");
  if (spec.contains("input_lut") && !spec.at("input_lut").is_null())
    o.input_lut = f.f32(spec.at("input_lut").get<std::string>(), 256).to_vector();
  PackedWeights w = PackedWeights::load(f, spec.at("weights"), prefix + ".w");
  Tensor bias;
  if (!spec.at("bias").is_null()) bias = f.f32(spec.at("bias").get<std::string>(), o.out_features);
  try {
    auto op = std::make_unique<PackedLayerOp>(std::move(o), std::move(w), std::move(bias));
    op->source = spec.value("source", std::string());
    return op;
  } catch (const Error& e) {
    LB_FAIL(f.source, ": ", prefix, ": ", e.what());
  }
}

// ---- PackedModel

Tensor PackedModel::forward(const Tensor& x) {
  const int T = num_threads();
  if (compute_ != Compute::Packed || T <= 1 || x.dim() < 1 || x.size(0) < 2 * T ||
      omp_in_parallel())
    return forward_serial(x);
  // Data parallel over the batch: one parallel region per forward instead of one per kernel
  // call (a conv layer launches two per image), each thread running the whole model on its
  // rows; the kernels' own loops (and OpenBLAS) run single-threaded inside the region.
  const int64_t N = x.size(0);
  std::vector<Tensor> parts(static_cast<size_t>(T));
  std::vector<std::string> errors(static_cast<size_t>(T));
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t chunk = (N + nt - 1) / nt;
    const int64_t b = std::min(N, t * chunk), e = std::min(N, b + chunk);
    try {
      if (b < e) parts[static_cast<size_t>(t)] = forward_serial(x.rows(b, e));
    } catch (const std::exception& ex) {
      errors[static_cast<size_t>(t)] = ex.what();
    }
  }
  for (const std::string& e : errors) LB_CHECK(e.empty(), e);
  Shape shape = parts[0].shape();
  shape[0] = N;
  Tensor out = Tensor::empty(shape);
  int64_t at = 0;
  for (const Tensor& p : parts) {
    if (!p.defined()) continue;
    std::copy(p.data(), p.data() + p.numel(), out.data() + at);
    at += p.numel();
  }
  return out;
}

Tensor PackedModel::forward_serial(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < ops.size(); ++i) {
    // A threshold op right before a packed linear layer: pack its bits directly.
    if (i + 1 < ops.size())
      if (const auto* t = dynamic_cast<const ThresholdOp*>(ops[i].get()))
        if (const auto* l = dynamic_cast<const PackedLayerOp*>(ops[i + 1].get());
            l && l->can_fuse_threshold(t->thresholds()) && h.dim() == 2) {
          h = l->forward_thresholded(h, t->thresholds());
          ++i;
          continue;
        }
    h = ops[i]->forward(h);
  }
  return h;
}

void PackedModel::set_compute(Compute c) {
  compute_ = c;
  for (auto& op : ops) op->set_compute(c);
}

int64_t PackedModel::stored_bytes() const {
  int64_t n = 0;
  for (const auto& op : ops) n += op->stored_bytes();
  return n;
}

std::string PackedModel::summary() const {
  std::ostringstream os;
  for (size_t i = 0; i < ops.size(); ++i)
    os << std::setw(3) << i << "  " << std::left << std::setw(8)
       << (ops[i]->source.empty() ? "-" : ops[i]->source) << std::right << "  "
       << ops[i]->describe() << "\n";
  return os.str();
}

PackedFile PackedModel::to_file() const {
  PackedFile f;
  f.meta = meta;
  f.meta["format"] = "lowbit-packed";
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < ops.size(); ++i) {
    nlohmann::json spec;
    ops[i]->save(f, spec, "op" + std::to_string(i));
    list.push_back(spec);
  }
  f.meta["ops"] = list;
  return f;
}

PackedModel PackedModel::from_file(const PackedFile& f) {
  PackedModel m;
  const std::string& src = f.source.empty() ? std::string("packed model") : f.source;
  LB_CHECK(f.meta.value("format", std::string()) == "lowbit-packed" && f.meta.contains("ops") &&
               f.meta["ops"].is_array(),
           src, ": metadata is not a lowbit packed model (no \"ops\" list)");
  m.meta = f.meta;
  m.meta.erase("ops");
  const nlohmann::json& list = f.meta["ops"];
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& spec = list[i];
    const std::string prefix = "op" + std::to_string(i);
    try {
      const std::string kind = spec.at("op").get<std::string>();
      PackedOpPtr op;
      if (kind == "module") {
        NamedTensors tensors;
        for (const auto& [name, blob] : spec.at("tensors").items())
          tensors.emplace_back(name, f.f32(blob.get<std::string>()));
        op = std::make_unique<ModuleOp>(spec.at("spec"), tensors, spec.value("source", prefix));
      } else if (kind == "threshold") {
        op = std::make_unique<ThresholdOp>(
            ChannelThresholds::load(f, spec.at("thresholds"), prefix),
            spec.value("folded", std::vector<std::string>{}));
      } else if (kind == "packed_linear" || kind == "packed_conv2d") {
        op = PackedLayerOp::load(f, spec, prefix);
      } else {
        LB_FAIL("unknown op \"", kind, "\" (expected module, threshold, packed_linear, "
                "packed_conv2d); the file may come from a newer lowbit");
      }
      op->source = spec.value("source", std::string());
      m.ops.push_back(std::move(op));
    } catch (const nlohmann::json::exception& e) {
      LB_FAIL(src, ": op ", i, ": malformed spec: ", e.what());
    } catch (const Error& e) {
      const std::string what = e.what();
      if (what.rfind(src, 0) == 0) throw;
      LB_FAIL(src, ": op ", i, ": ", what);
    }
  }
  return m;
}

void PackedModel::save(const std::string& path) const { write_packed_file(path, to_file()); }

PackedModel PackedModel::load(const std::string& path) {
  return from_file(read_packed_file(path));
}

}  // namespace lowbit::packed
