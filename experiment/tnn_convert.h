#pragma once
/// TNN's teacher -> student conversion (Alemdar et al., arXiv 1609.00222; papers.md §5;
/// `lowbit tnn-convert`, docs/tnn.md). The teacher has ternary activations (stochastic
/// firing, "tnn" input quantizers) and float weights; the student has the same architecture
/// with ternary weights {-1, 0, +1} and ternary activations, built layer by layer, greedily:
/// each student neuron mimics its teacher neuron. Per neuron the conversion searches, as the
/// authors' code (slide-lig/tnn_convert, SymBinarizer) does:
///   - how many weights stay nonzero: the k largest |w| keep their sign, the rest become 0;
///   - two integer output thresholds tl <= th + 1 on the integer sum s = Σ w_t·x:
///     out = +1 if s > th, −1 if s < tl, else 0;
/// maximising the expected agreement with the teacher neuron's stochastic ternary output
/// (P(+1) = max(y, 0), P(−1) = max(−y, 0), P(0) = 1 − |y|, y = clamp(tanh(BN(z)), −1, 1)).
/// The output layer (no ternary firing after it) keeps the k largest |w| per class and an
/// integer bias per class, found by coordinate ascent on training accuracy (the authors'
/// BinarizeAllFinalLayer does the same with its own search).
///
///   TernaryNeuronFit f = fit_ternary_neuron(w, x, targets);     // one hidden neuron
///   TnnConversion c = convert_tnn(teacher, {.examples = 1000});  // the whole network
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "experiment/experiment.h"

namespace lowbit {

/// A hidden student neuron.
struct TernaryNeuronFit {
  std::vector<int8_t> weights;  ///< ternary, aligned with the teacher's weights
  int64_t nonzero = 0;          ///< the k largest |w| kept
  int64_t tl = 0, th = 0;       ///< out = +1 if s > th, −1 if s < tl, else 0
  double agreement = 0;         ///< expected agreement with the teacher, summed over samples
};

/// Fits one neuron. `w`: its K teacher weights, signs already oriented so that the teacher's
/// output grows with Σ w·x; `x`: n samples × K ternary inputs (row-major); `targets`: n × 3
/// probabilities (P(−1), P(0), P(+1)) of the teacher's output. Ties: the fewest nonzero
/// weights, then the lowest th, then the lowest tl.
TernaryNeuronFit fit_ternary_neuron(const std::vector<float>& w, const std::vector<int8_t>& x,
                                    const std::vector<float>& targets);

/// The student's output layer: class c scores Σ w_t·x + bias[c].
struct TernaryOutputFit {
  std::vector<std::vector<int8_t>> weights;  ///< per class
  std::vector<int64_t> nonzero;
  std::vector<int64_t> bias;
  int64_t correct = 0;  ///< on the fitting samples (argmax, first class on ties)
};

/// Fits the output layer: `w` classes × K teacher weights (oriented), `x` n × K ternary
/// inputs, `labels` n classes. Starts with every weight kept and bias 0, then improves one
/// class at a time (every k, the best bias for it) until a pass changes nothing.
TernaryOutputFit fit_ternary_output(const std::vector<std::vector<float>>& w, const std::vector<int8_t>& x,
                                    const std::vector<int64_t>& labels);

struct TnnConvertOptions {
  int64_t examples = 1000;  ///< training images the neurons are fitted on (the first ones)
};

struct TnnConversion {
  double teacher_test_accuracy = 0;  ///< the teacher in eval mode (deterministic firing)
  double student_test_accuracy = 0;
  double student_train_subset_accuracy = 0;  ///< on the fitting images
  /// Per converted layer: {"layer": i, "type", "neurons", "mean_nonzero_fraction",
  /// "mean_agreement"} (the output layer: "fit_accuracy").
  nlohmann::json layers = nlohmann::json::array();
  NamedTensors student;  ///< "<i>.weight" ternary, "<i>.tl"/"<i>.th" thresholds, "<i>.bias"
};

/// Converts a trained teacher (ex.model with its weights, ex's data loaded). The teacher's
/// layers (ex.config model.layers) must be: float layers (any), then blocks
/// quant_conv2d|quant_linear (input quantizer "tnn", no weight quantizer) -> batch_norm ->
/// tanh -> [max_pool2d], and last a quant layer with an optional batch_norm. Throws naming
/// model.layers[i] otherwise. Afterwards the quant layers of ex.model hold the student's
/// ternary weights (biases zeroed); the teacher's weights stay in its run folder.
TnnConversion convert_tnn(Experiment& ex, const TnnConvertOptions& options);

}  // namespace lowbit
