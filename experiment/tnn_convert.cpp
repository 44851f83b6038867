#include "experiment/tnn_convert.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/check.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "experiment/evaluate.h"
#include "quant/quant_layer.h"
#include "quant/quantizer.h"

namespace lowbit {

using nlohmann::json;

namespace {

// Weight indices by decreasing |w| (ties: lower index first): the order in which weights
// stay nonzero as k grows.
std::vector<int64_t> by_magnitude(const std::vector<float>& w) {
  std::vector<int64_t> order(w.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return std::fabs(w[size_t(a)]) > std::fabs(w[size_t(b)]); });
  return order;
}

int8_t sign_of(float v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }

}  // namespace

TernaryNeuronFit fit_ternary_neuron(const std::vector<float>& w, const std::vector<int8_t>& x,
                                    const std::vector<float>& targets) {
  const int64_t K = int64_t(w.size());
  LB_CHECK(K > 0 && x.size() % size_t(K) == 0, "fit_ternary_neuron: ", x.size(), " inputs for ", K, " weights");
  const int64_t n = int64_t(x.size()) / K;
  LB_CHECK(targets.size() == size_t(3 * n), "fit_ternary_neuron: ", targets.size(), " targets for ", n, " samples");
  const std::vector<int64_t> order = by_magnitude(w);
  // hist[k][s + K][c]: summed P(output c) of the samples whose integer sum with the k largest
  // weights kept is s.
  const int64_t S = 2 * K + 1;
  std::vector<double> hist(size_t((K + 1) * S * 3), 0.0);
  // Samples in chunks, k outer within a chunk: the chunk's inputs stay in cache and each k
  // touches one row of hist (sample-outer order walks K rows per sample: a cache miss per
  // (sample, k) once hist outgrows the cache). Each bin still adds its samples in increasing
  // order, so the sums are bit-identical to the sample-outer loop.
  constexpr int64_t kChunk = 2048;
  std::vector<int64_t> sums(static_cast<size_t>(std::min(n, kChunk)));
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t len = std::min(n - i0, kChunk);
    std::fill(sums.begin(), sums.begin() + len, 0);
    for (int64_t k = 0; k <= K; ++k) {
      double* row = hist.data() + k * S * 3;
      const int64_t added = k > 0 ? order[size_t(k - 1)] : 0;
      const int sign = k > 0 ? sign_of(w[size_t(added)]) : 0;
      for (int64_t c = 0; c < len; ++c) {
        const int64_t i = i0 + c;
        int64_t& s = sums[size_t(c)];
        s += sign * x[size_t(i * K + added)];
        const float* p = targets.data() + 3 * i;
        double* h = row + (s + K) * 3;
        h[0] += p[0];
        h[1] += p[1];
        h[2] += p[2];
      }
    }
  }
  TernaryNeuronFit best;
  bool have = false;
  // score(tl, th) = Σ_{s<tl} P(−1) + Σ_{tl<=s<=th} P(0) + Σ_{s>th} P(+1) with tl <= th + 1
  //              = A(tl) + B(th), A(v) = Σ_{s<v} (P(−1) − P(0)), B(v) = Σ_{s<=v} P(0) + Σ_{s>v} P(+1).
  // tl and th range over v = t − K − 1, t = 0 .. 2K + 2 (beyond that nothing changes).
  const int64_t T = 2 * K + 3;
  std::vector<double> A(static_cast<size_t>(T)), B(static_cast<size_t>(T));
  for (int64_t k = 0; k <= K; ++k) {
    const double* h = hist.data() + k * S * 3;
    auto mass = [&](int64_t v, int c) { return v < -K || v > K ? 0.0 : h[(v + K) * 3 + c]; };
    double below = 0, plus_above = 0, zero_upto = 0;
    for (int64_t v = -K; v <= K; ++v) plus_above += mass(v, 2);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t v = t - K - 1;
      A[size_t(t)] = below;
      below += mass(v, 0) - mass(v, 1);
      zero_upto += mass(v, 1);
      plus_above -= mass(v, 2);
      B[size_t(t)] = zero_upto + plus_above;
    }
    // th ascending; the best tl <= th + 1 so far (the lowest on ties).
    int64_t best_tl = 0, seen = 0;
    double best_a = A[0];
    for (int64_t th = 0; th < T; ++th) {
      for (; seen < std::min(th + 1, T - 1);) {
        ++seen;
        if (A[size_t(seen)] > best_a) {
          best_a = A[size_t(seen)];
          best_tl = seen;
        }
      }
      const double score = best_a + B[size_t(th)];
      if (!have || score > best.agreement) {
        have = true;
        best.agreement = score;
        best.nonzero = k;
        best.th = th - K - 1;
        best.tl = best_tl - K - 1;
      }
    }
  }
  best.weights.assign(size_t(K), 0);
  for (int64_t k = 0; k < best.nonzero; ++k)
    best.weights[size_t(order[size_t(k)])] = sign_of(w[size_t(order[size_t(k)])]);
  return best;
}

TernaryOutputFit fit_ternary_output(const std::vector<std::vector<float>>& w, const std::vector<int8_t>& x,
                                    const std::vector<int64_t>& labels) {
  const int64_t C = int64_t(w.size());
  LB_CHECK(C >= 2, "fit_ternary_output: need at least 2 classes");
  const int64_t K = int64_t(w[0].size());
  const int64_t n = int64_t(labels.size());
  LB_CHECK(K > 0 && x.size() == size_t(n * K), "fit_ternary_output: ", x.size(), " inputs for ", n, " x ", K);
  // prefix[c][i * (K+1) + k]: sum of sample i with the k largest |w_c| kept.
  std::vector<std::vector<int32_t>> prefix(static_cast<size_t>(C));
  std::vector<std::vector<int64_t>> orders(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    LB_CHECK(w[size_t(c)].size() == size_t(K), "fit_ternary_output: class ", c, " has ", w[size_t(c)].size(), " weights");
    orders[size_t(c)] = by_magnitude(w[size_t(c)]);
    std::vector<int32_t>& P = prefix[size_t(c)];
    P.resize(size_t(n * (K + 1)));
    for (int64_t i = 0; i < n; ++i) {
      int32_t s = 0;
      P[size_t(i * (K + 1))] = 0;
      for (int64_t k = 1; k <= K; ++k) {
        const int64_t j = orders[size_t(c)][size_t(k - 1)];
        s += sign_of(w[size_t(c)][size_t(j)]) * x[size_t(i * K + j)];
        P[size_t(i * (K + 1) + k)] = s;
      }
    }
  }
  std::vector<int64_t> kk(size_t(C), K), bias(size_t(C), 0);
  auto score = [&](int64_t c, int64_t i) { return int64_t(prefix[size_t(c)][size_t(i * (K + 1) + kk[size_t(c)])]) + bias[size_t(c)]; };
  auto argmax = [&](int64_t i) {
    int64_t a = 0;
    for (int64_t c = 1; c < C; ++c)
      if (score(c, i) > score(a, i)) a = c;
    return a;
  };
  auto count_correct = [&] {
    int64_t ok = 0;
    for (int64_t i = 0; i < n; ++i) ok += argmax(i) == labels[size_t(i)];
    return ok;
  };
  int64_t correct = count_correct();
  for (int pass = 0; pass < 50; ++pass) {
    bool changed = false;
    for (int64_t c = 0; c < C; ++c) {
      // Per sample, with class c's score left out: the best score of the classes before c
      // (c loses ties to them) and after c (c wins ties), and whether the label wins without c.
      std::vector<int64_t> lo(static_cast<size_t>(n)), hi(static_cast<size_t>(n));
      std::vector<char> label_wins(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        int64_t mlo = INT64_MIN, mhi = INT64_MIN, a = -1;
        for (int64_t d = 0; d < C; ++d) {
          if (d == c) continue;
          const int64_t v = score(d, i);
          if (d < c) mlo = std::max(mlo, v);
          if (d > c) mhi = std::max(mhi, v);
          if (a < 0 || v > score(a, i)) a = d;
        }
        lo[size_t(i)] = mlo;
        hi[size_t(i)] = mhi;
        label_wins[size_t(i)] = a == labels[size_t(i)];
      }
      int64_t best_correct = correct, best_k = kk[size_t(c)], best_b = bias[size_t(c)];
      std::vector<std::pair<int64_t, int>> events;  // (b, +1 from b on | -1 after b)
      for (int64_t k = 0; k <= K; ++k) {
        events.clear();
        int64_t always = 0;
        for (int64_t i = 0; i < n; ++i) {
          const int64_t s = prefix[size_t(c)][size_t(i * (K + 1) + k)];
          const int64_t l = labels[size_t(i)];
          if (l == c) {  // correct iff s + b > lo and s + b >= hi
            const int64_t need = std::max(lo[size_t(i)] == INT64_MIN ? INT64_MIN : lo[size_t(i)] - s + 1,
                                          hi[size_t(i)] == INT64_MIN ? INT64_MIN : hi[size_t(i)] - s);
            events.emplace_back(need, +1);
          } else if (label_wins[size_t(i)]) {  // correct iff c does not beat the label
            const int64_t sl = score(l, i);
            const int64_t most = c < l ? sl - s - 1 : sl - s;
            ++always;
            events.emplace_back(most + 1, -1);  // from most + 1 on, wrong
          }
        }
        // Correct count as b sweeps up: starts at `always` (b = −inf: every label == c wrong
        // except need = −inf ones), +1 at each need, −1 at each most + 1.
        std::sort(events.begin(), events.end());
        int64_t cur = always;
        if (!events.empty() && always > best_correct) {  // b below every event
          best_correct = always;
          best_k = k;
          best_b = events.front().first - 1;
        }
        for (size_t e = 0; e < events.size();) {
          const int64_t b = events[e].first;
          while (e < events.size() && events[e].first == b) cur += events[e++].second;
          if (cur > best_correct) {
            best_correct = cur;
            best_k = k;
            best_b = b;
          }
        }
      }
      if (best_correct > correct) {
        kk[size_t(c)] = best_k;
        bias[size_t(c)] = best_b;
        correct = best_correct;
        changed = true;
      }
    }
    if (!changed) break;
  }
  LB_CHECK(count_correct() == correct, "fit_ternary_output: internal error: count ", count_correct(), " != ", correct);
  TernaryOutputFit out;
  out.correct = correct;
  out.bias = bias;
  out.nonzero = kk;
  for (int64_t c = 0; c < C; ++c) {
    std::vector<int8_t> t(size_t(K), 0);
    for (int64_t k = 0; k < kk[size_t(c)]; ++k) {
      const int64_t j = orders[size_t(c)][size_t(k)];
      t[size_t(j)] = sign_of(w[size_t(c)][size_t(j)]);
    }
    out.weights.push_back(std::move(t));
  }
  return out;
}

namespace {

struct Block {
  size_t layer = 0;       // the quant layer
  bool conv = false;
  int64_t kernel = 1, stride = 1, padding = 0;
  std::optional<size_t> bn;    // batch norm after it
  std::optional<size_t> pool;  // max_pool2d after the tanh (hidden blocks)
  bool last = false;
};

std::string type_at(const json& layers, size_t i) { return layers[i].value("type", std::string()); }

// The teacher's structure (see the header); throws naming model.layers[i].
std::vector<Block> parse_blocks(const json& layers, size_t& first) {
  first = layers.size();
  for (size_t i = 0; i < layers.size(); ++i)
    if (type_at(layers, i) == "quant_conv2d" || type_at(layers, i) == "quant_linear") {
      first = i;
      break;
    }
  LB_CHECK(first < layers.size(), "tnn-convert: the teacher has no quant_conv2d / quant_linear layer");
  std::vector<Block> blocks;
  size_t i = first;
  while (i < layers.size()) {
    const std::string where = "model.layers[" + std::to_string(i) + "]";
    const json& l = layers[i];
    const std::string t = type_at(layers, i);
    LB_CHECK(t == "quant_conv2d" || t == "quant_linear", where, ": expected quant_conv2d or quant_linear (a TNN ",
             "block), got \"", t, "\"");
    const json iq = l.value("input_quantizer", json());
    LB_CHECK((iq.is_string() && iq == "tnn") || (iq.is_object() && iq.value("name", "") == "tnn"), where,
             ": the teacher's inputs must be ternary (input_quantizer \"tnn\"), got ", iq.dump());
    const json wq = l.value("weight_quantizer", json());
    LB_CHECK(wq.is_null() || wq == "none" || wq == "fp", where,
             ": the teacher has float weights (no weight_quantizer), got ", wq.dump());
    Block b;
    b.layer = i;
    b.conv = t == "quant_conv2d";
    if (b.conv) {
      b.kernel = l.value("kernel_size", int64_t{1});
      b.stride = l.value("stride", int64_t{1});
      b.padding = l.value("padding", int64_t{0});
    }
    ++i;
    if (i < layers.size() && type_at(layers, i).rfind("batch_norm", 0) == 0) b.bn = i++;
    if (i == layers.size()) {
      b.last = true;
      blocks.push_back(b);
      break;
    }
    LB_CHECK(b.bn && type_at(layers, i) == "tanh", "model.layers[", i,
             "]: expected tanh after the batch norm of a hidden TNN block (quant layer -> batch_norm -> tanh "
             "-> [max_pool2d]), got \"", type_at(layers, i), "\"");
    ++i;
    if (i < layers.size() && type_at(layers, i) == "max_pool2d") b.pool = i++;
    if (i < layers.size() && type_at(layers, i) == "flatten") ++i;  // a view: kept in the student walk
    blocks.push_back(b);
  }
  return blocks;
}

Var param(Module& m, const std::string& name) {
  for (const NamedParameter& p : m.named_parameters())
    if (p.name == name) return p.var;
  LB_FAIL("tnn-convert: layer has no parameter \"", name, "\"");
}

// +1 / −1 per output neuron: the sign of the batch-norm scale after it (a negative scale
// makes the teacher's output fall as Σ w·x grows; the student's weights are flipped).
std::vector<float> orientation(Module* bn, int64_t outputs) {
  std::vector<float> o(size_t(outputs), 1.f);
  if (!bn) return o;
  const Tensor g = param(*bn, "weight").data();
  for (int64_t c = 0; c < outputs; ++c) o[size_t(c)] = g.data()[c] < 0 ? -1.f : 1.f;
  return o;
}

// (N, C, H, W) ternary -> (N·OH·OW) x (C·k·k) patches, zero padded, in the weight layout.
std::vector<int8_t> patches(const Tensor& x, const Block& b, int64_t& oh, int64_t& ow) {
  const Shape& s = x.shape();
  const int64_t N = s[0], C = s[1], H = s[2], W = s[3], k = b.kernel;
  oh = (H + 2 * b.padding - k) / b.stride + 1;
  ow = (W + 2 * b.padding - k) / b.stride + 1;
  const int64_t K = C * k * k;
  std::vector<int8_t> out(size_t(N * oh * ow * K), 0);
  const float* xp = x.data();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xo = 0; xo < ow; ++xo) {
        int8_t* row = out.data() + ((n * oh + y) * ow + xo) * K;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t i = 0; i < k; ++i)
            for (int64_t j = 0; j < k; ++j) {
              const int64_t yy = y * b.stride + i - b.padding, xx = xo * b.stride + j - b.padding;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              row[(c * k + i) * k + j] = int8_t(xp[((n * C + c) * H + yy) * W + xx]);
            }
      }
  return out;
}

// Runs layers [from, to) of the model on x (no grad).
Tensor run_layers(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& ch, size_t from, size_t to,
                  Tensor x) {
  for (size_t i = from; i < to; ++i) x = (*ch[i].second)(Var(x)).data();
  return x;
}

struct StudentLayer {
  Block block;
  std::vector<float> tl, th, bias;  // per output neuron (bias: last layer)
};

// out = +1 if z > th, −1 if z < tl, else 0, per channel (dim 1).
Tensor fire(const Tensor& z, const std::vector<float>& tl, const std::vector<float>& th) {
  Tensor out = Tensor::empty(z.shape());
  const int64_t C = z.shape()[1];
  const int64_t inner = z.numel() / (z.shape()[0] * C);
  const float* zp = z.data();
  float* op = out.data();
  for (int64_t i = 0; i < z.numel(); ++i) {
    const int64_t c = (i / inner) % C;
    op[i] = zp[i] > th[size_t(c)] ? 1.f : (zp[i] < tl[size_t(c)] ? -1.f : 0.f);
  }
  return out;
}

}  // namespace

TnnConversion convert_tnn(Experiment& ex, const TnnConvertOptions& opt) {
  const json& layers = ex.config.resolved.at("model").at("layers");
  const auto& ch = ex.model->children();
  LB_CHECK(ch.size() == layers.size(), "tnn-convert: the model has ", ch.size(), " layers, the config ", layers.size());
  size_t first = 0;
  const std::vector<Block> blocks = parse_blocks(layers, first);
  LB_CHECK(opt.examples > 0, "tnn-convert: --examples must be positive");
  TnnConversion out;
  ex.model->eval();
  out.teacher_test_accuracy = evaluate(*ex.model, ex.test, ex.transforms, ex.config.train.eval_batch_size);

  // The fitting images (the first training images, eval transforms) and their labels.
  const InMemoryDataset fit = ex.train.slice(0, std::min<int64_t>(opt.examples, ex.train.size()));
  std::vector<float> images;
  Shape image_shape;
  std::vector<int64_t> labels;
  Tensor all_logits;
  evaluate_batches(
      [&](const Tensor& x) {
        image_shape = x.shape();
        images.insert(images.end(), x.data(), x.data() + x.numel());
        return (*ex.model)(Var(x)).data();
      },
      fit, ex.transforms, ex.config.train.eval_batch_size, &all_logits, "tnn-convert");
  for (int64_t i = 0; i < fit.size(); ++i) labels.push_back(fit.label(i));
  image_shape[0] = fit.size();
  NoGradGuard no_grad;
  const Tensor x0 = Tensor::from_vector(image_shape, images);

  // The teacher's firing probabilities of every hidden block, before any weight changes.
  std::vector<Tensor> teacher_out;
  {
    Tensor t = run_layers(ch, 0, first, x0);
    for (const Block& b : blocks) {
      if (b.last) break;
      const Tensor a = run_layers(ch, b.layer, *b.bn + 2, t);  // quant layer, batch norm, tanh
      teacher_out.push_back(a);
      const size_t after = b.pool ? *b.pool + 1 : *b.bn + 2;
      t = run_layers(ch, *b.bn + 2, after, a);
      if (after < layers.size() && type_at(layers, after) == "flatten") t = run_layers(ch, after, after + 1, t);
    }
  }

  // Greedy, layer by layer: each block is fitted on the student's own inputs.
  std::vector<StudentLayer> student;
  Tensor s = run_layers(ch, 0, first, x0);  // float layers before the first block: as the teacher's
  for (size_t bi = 0; bi < blocks.size(); ++bi) {
    const Block& b = blocks[bi];
    Module& layer = *ch[b.layer].second;
    const auto* ql = dynamic_cast<const QuantizedLayer*>(&layer);
    LB_CHECK(ql && ql->input_quantizer(), "model.layers[", b.layer, "]: not a quantized layer");
    const Tensor xin = (*ql->input_quantizer())(Var(s)).data();  // ternary (deterministic firing)
    int64_t oh = 1, ow = 1;
    std::vector<int8_t> X;
    if (b.conv) {
      X = patches(xin, b, oh, ow);
    } else {
      X.resize(size_t(xin.numel()));
      for (int64_t i = 0; i < xin.numel(); ++i) X[size_t(i)] = int8_t(xin.data()[i]);
    }
    Var w = param(layer, "weight");
    const int64_t O = w.data().shape()[0];
    const int64_t K = w.data().numel() / O;
    const int64_t samples = int64_t(X.size()) / K;
    const std::vector<float> orient = orientation(b.bn ? ch[*b.bn].second.get() : nullptr, O);
    StudentLayer sl{.block = b, .tl = {}, .th = {}, .bias = {}};
    std::vector<std::vector<int8_t>> tw(static_cast<size_t>(O));
    json info = {{"layer", b.layer}, {"type", type_at(layers, b.layer)}, {"neurons", O}, {"inputs_per_neuron", K},
                 {"fit_samples", samples}};
    if (!b.last) {
      sl.tl.resize(size_t(O));
      sl.th.resize(size_t(O));
      const Tensor& a = teacher_out[bi];  // (N, O, OH, OW) or (N, O)
      const int64_t inner = a.numel() / (a.shape()[0] * O);
      std::vector<double> agreement(static_cast<size_t>(O)), kept(static_cast<size_t>(O));
      kernels::parallel_for(O, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
          std::vector<float> wo(static_cast<size_t>(K)), targets(static_cast<size_t>(3 * samples));
          for (int64_t j = 0; j < K; ++j) wo[size_t(j)] = orient[size_t(o)] * w.data().data()[o * K + j];
          for (int64_t i = 0; i < samples; ++i) {  // sample i = (n, position)
            const int64_t n = i / inner, pos = i % inner;
            const float y = std::clamp(a.data()[(n * O + o) * inner + pos], -1.f, 1.f);
            targets[size_t(3 * i)] = std::max(-y, 0.f);
            targets[size_t(3 * i + 1)] = 1.f - std::fabs(y);
            targets[size_t(3 * i + 2)] = std::max(y, 0.f);
          }
          TernaryNeuronFit f = fit_ternary_neuron(wo, X, targets);
          sl.tl[size_t(o)] = float(f.tl);
          sl.th[size_t(o)] = float(f.th);
          agreement[size_t(o)] = f.agreement / double(samples);
          kept[size_t(o)] = double(f.nonzero) / double(K);
          tw[size_t(o)] = std::move(f.weights);
        }
      }, 1);
      info["mean_agreement"] = std::accumulate(agreement.begin(), agreement.end(), 0.0) / double(O);
      info["mean_nonzero_fraction"] = std::accumulate(kept.begin(), kept.end(), 0.0) / double(O);
    } else {
      std::vector<std::vector<float>> wo(static_cast<size_t>(O), std::vector<float>(static_cast<size_t>(K)));
      for (int64_t o = 0; o < O; ++o)
        for (int64_t j = 0; j < K; ++j) wo[size_t(o)][size_t(j)] = orient[size_t(o)] * w.data().data()[o * K + j];
      LB_CHECK(!b.conv, "model.layers[", b.layer, "]: the output layer must be quant_linear");
      TernaryOutputFit f = fit_ternary_output(wo, X, labels);
      for (int64_t o = 0; o < O; ++o) sl.bias.push_back(float(f.bias[size_t(o)]));
      tw = std::move(f.weights);
      info["fit_accuracy"] = double(f.correct) / double(samples);
      double kept = 0;
      for (int64_t k : f.nonzero) kept += double(k) / double(K);
      info["mean_nonzero_fraction"] = kept / double(O);
    }
    // The student's weights replace the teacher's in the layer (its bias, if any, is zeroed:
    // the thresholds and the output biases absorb it).
    float* wp = w.data().data();
    for (int64_t o = 0; o < O; ++o)
      for (int64_t j = 0; j < K; ++j) wp[o * K + j] = float(tw[size_t(o)][size_t(j)]);
    for (const NamedParameter& p : layer.named_parameters())
      if (p.name == "bias") {
        Tensor bias = p.var.data();  // aliases the parameter
        bias.fill_(0.f);
      }
    out.layers.push_back(info);
    const std::string prefix = std::to_string(b.layer) + ".";
    out.student.emplace_back(prefix + "weight", w.data().clone());
    if (!b.last) {
      out.student.emplace_back(prefix + "tl", Tensor::from_vector({O}, sl.tl));
      out.student.emplace_back(prefix + "th", Tensor::from_vector({O}, sl.th));
    } else {
      out.student.emplace_back(prefix + "bias", Tensor::from_vector({O}, sl.bias));
    }
    student.push_back(std::move(sl));
    if (!b.last) {  // the student's outputs feed the next block
      Tensor z = layer(Var(xin)).data();
      z = fire(z, student.back().tl, student.back().th);
      const size_t after = b.pool ? *b.pool + 1 : *b.bn + 2;
      if (b.pool) z = run_layers(ch, *b.pool, after, z);
      if (after < layers.size() && type_at(layers, after) == "flatten") z = run_layers(ch, after, after + 1, z);
      s = z;
    }
  }

  // The student network: float layers, then per block quant layer (ternary weights) ->
  // thresholds -> [max pool], last quant layer + bias.
  const BatchForward student_forward = [&](const Tensor& batch) {
    NoGradGuard ng;
    Tensor t = run_layers(ch, 0, first, batch);
    for (const StudentLayer& sl : student) {
      const Block& b = sl.block;
      Tensor z = (*ch[b.layer].second)(Var(t)).data();  // its input quantizer fires the inputs
      if (b.last) {
        const int64_t O = z.shape()[1];
        for (int64_t i = 0; i < z.numel(); ++i) z.data()[i] += sl.bias[size_t(i % O)];
        return z;
      }
      z = fire(z, sl.tl, sl.th);
      size_t after = b.pool ? *b.pool + 1 : *b.bn + 2;
      if (b.pool) z = run_layers(ch, *b.pool, after, z);
      if (after < layers.size() && type_at(layers, after) == "flatten") z = run_layers(ch, after, after + 1, z);
      t = z;
    }
    return t;
  };
  out.student_train_subset_accuracy =
      evaluate_batches(student_forward, fit, ex.transforms, ex.config.train.eval_batch_size, nullptr, "tnn student");
  out.student_test_accuracy =
      evaluate_batches(student_forward, ex.test, ex.transforms, ex.config.train.eval_batch_size, nullptr, "tnn student");
  return out;
}

}  // namespace lowbit
