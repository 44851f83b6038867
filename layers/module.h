#pragma once
/// Module: the base class of every layer (PyTorch's C++ `torch::nn::Module` without the
/// pimpl holder).
///
/// A module owns parameters (leaf Vars with requires_grad), buffers (plain Tensors updated
/// in place, e.g. batch-norm running statistics), child modules and, for stochastic layers,
/// random generators. Names are dotted paths ("2.weight", "3.running_mean"), built from the
/// registration names in registration order, so they are stable across runs: checkpoints and
/// model.safetensors depend on them.
///
///   class Affine final : public Module {
///    public:
///     explicit Affine(int64_t n, Rng& rng) {
///       w_ = register_parameter("weight", Tensor::uniform({n}, rng, -1, 1));
///       b_ = register_parameter("bias", Tensor::zeros({n}));
///     }
///     Var forward(const Var& x) override { return x * w_ + b_; }
///     std::string_view type() const override { return "affine"; }
///    private:
///     Var w_, b_;
///   };
///
/// Copying a Var shares the parameter, so a layer keeps its own copy of the handle returned
/// by register_parameter and the optimizer holds another (see core/var.h).
#include <cstdint>
#include <deque>
#include <iosfwd>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/serialize.h"
#include "core/var.h"

namespace lowbit {

/// What a converter for inference (packed/convert.cpp, `lowbit export`) may do with a layer
/// in evaluation mode. Asked of the module (Module::inference_traits) so that converters
/// never compare type() strings; a layer that does not override it is run as is.
struct InferenceTraits {
  enum class Role {
    Compute,   ///< run as is (the default)
    Identity,  ///< the identity at inference: dropped (dropout)
    Reshape,   ///< changes the shape only, values in order (flatten)
    /// A monotone map per channel or per element, so that it folds into the thresholds of
    /// the next binary/ternary layer's input (batch norms, shift batch norm, hardtanh, relu,
    /// tanh; see packed/thresholds.h).
    Monotone,
  };
  Role role = Role::Compute;
  /// Monotone: the channels along dimension 1 it acts on per channel; 0 when elementwise.
  int64_t channels = 0;
  /// Monotone: the rank of the smallest input it accepts, 2 for (N, C) or 4 for (N, C, H, W).
  int probe_rank = 2;
};

/// A parameter as seen by optimizers and checkpoints.
struct NamedParameter {
  std::string name;  ///< dotted path, e.g. "2.weight"
  Var var;           ///< shared handle (leaf, requires_grad)
  /// Multiplies the optimizer's learning rate for this parameter (BinaryNet's per-layer
  /// Glorot scale, see layers/init.h `glorot_lr_scale`). 1 by default.
  float lr_scale = 1.f;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Parameters, buffers and registered Rng pointers refer into the module: no copies.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- the layer interface
  /// Single-input forward (everything that goes into Sequential).
  virtual Var forward(const Var& x) = 0;
  Var operator()(const Var& x) { return forward(x); }
  /// relu(forward(x)) computed by this layer in one op, when it has such a path (batch norm:
  /// bit-identical, fewer passes over the activations); an undefined Var when it has none.
  /// Sequential calls it for a layer followed by a ReLU layer.
  virtual Var forward_relu(const Var&) { return {}; }
  /// Registry key, snake_case ("linear", "batch_norm2d"); make_module(json) dispatches on it.
  virtual std::string_view type() const = 0;
  /// Hyperparameters only, such that make_module({"type": type(), ...config()}) rebuilds an
  /// equivalent module (weights aside). Default: {} (no hyperparameters).
  virtual nlohmann::json config() const;
  /// Human-readable one-module summary. Default: `type(key=value, ...)` from config(), or for
  /// modules with children a nested listing, as PyTorch prints modules:
  ///   sequential(
  ///     (0): flatten()
  ///     (1): linear(bias=true, in_features=784, out_features=10)
  ///   )
  virtual void pretty_print(std::ostream& os) const;
  /// What inference converters may do with this layer (see InferenceTraits). Default:
  /// Compute.
  virtual InferenceTraits inference_traits() const { return {}; }

  // ---- training mode (recursive)
  /// Sets training mode on this module and all descendants (dropout, batch norm read it).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- post-step constraints
  /// Called after every optimizer step through apply_after_step(). Override to enforce
  /// constraints on parameters, e.g. BinaryNet clips latent binary weights to [-1, 1].
  /// Runs outside autograd: modify `param.data()` in place.
  virtual void after_step() {}
  /// Calls after_step() on all descendants (depth first, children before parent).
  void apply_after_step();

  // ---- registration (constructors call these)
  /// Adds a leaf parameter `name` (no dots) initialised to `init` (taken by handle, not
  /// copied). Returns the stored Var; copy it into a member.
  Var& register_parameter(std::string name, Tensor init, float lr_scale = 1.f);
  /// Adds a buffer (saved in checkpoints, not trained). The Tensor handle is shared: ops that
  /// update it in place (batch_norm's running stats) update the module's buffer.
  Tensor& register_buffer(std::string name, Tensor init);
  /// Adds a child module under `name` (Sequential uses "0", "1", ...).
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    add_child(std::move(name), module);
    return module;
  }
  /// Registers a generator owned by this module (Dropout's mask Rng) so that trainers can
  /// save and restore its state (named_rngs). `rng` must be a member of this module.
  void register_rng(std::string name, Rng& rng);
  /// Sets the lr scale of this module's own parameter `name` (no dots).
  void set_lr_scale(const std::string& name, float lr_scale);

  // ---- access (recursive, registration order; names dotted)
  std::vector<Var> parameters() const;
  /// lr scales aligned with parameters().
  std::vector<float> param_lr_scales() const;
  std::vector<NamedParameter> named_parameters() const;
  NamedTensors named_buffers() const;
  /// Parameters then buffers, by dotted name: what model.safetensors holds.
  NamedTensors state_tensors() const;
  /// Copies tensors into parameters and buffers by name (in place; handles stay valid).
  /// Strict: a missing name, an unexpected name or a shape mismatch throws naming `source`
  /// (e.g. the file) and the tensor.
  void load_state_tensors(const NamedTensors& tensors, const std::string& source);
  /// Registered generators by dotted name ("3.rng").
  std::vector<std::pair<std::string, Rng*>> named_rngs();
  /// Descendants by dotted name, this module first with name "".
  std::vector<std::pair<std::string, Module*>> named_modules();
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  /// Direct children in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  /// Total number of parameter elements.
  int64_t num_parameters() const;

 private:
  struct Param {
    std::string name;
    Var var;
    float lr_scale;
  };
  void add_child(std::string name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter>& out) const;
  void collect_buffers(const std::string& prefix, NamedTensors& out) const;

  // deques keep the references returned by register_* valid.
  std::deque<Param> params_;
  std::deque<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, Rng*>> rngs_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

using ModulePtr = std::shared_ptr<Module>;

/// Calls m.pretty_print(os).
std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace lowbit
