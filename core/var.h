#pragma once
/// Var: a Tensor plus its place in the autograd graph; the reverse-mode engine.
///
///   Var w(Tensor::uniform({3, 2}, rng), /*requires_grad=*/true);   // leaf parameter
///   Var x(Tensor::ones({4, 3}));                                  // constant input
///   Var loss = mean(square(matmul(x, w)));
///   loss.backward();                 // w.grad() now holds dloss/dw
///
/// Lifetime rules:
///  1. Edges point from an output node to its input nodes only (`Node::inputs`, the only
///     owning edges). A backward function may capture Tensors and scalars; it must never
///     capture a Var or a Node (that would be a shared_ptr cycle and leak).
///  2. `backward()` orders the graph with an iterative DFS (deep nets would overflow a
///     recursive one), calls each node's backward once, accumulates gradients (a Var used
///     twice receives two contributions) and then, unless `retain_graph`, releases each
///     interior node's backward function and input edges, so the activations captured by
///     the lambdas die during the backward pass. Interior gradients are freed as soon as
///     they have been propagated; only leaves keep `grad()`.
///  3. `NoGradGuard` (thread-local) makes ops skip node creation entirely.
///  4. Gradients carry no graph (first order only): backward functions compute with Tensors.
///  5. Gradients are never modified in place once handed out: accumulation writes in place
///     only into a buffer nobody else holds, otherwise it allocates.
///
/// Copying a Var copies the handle: a Module and an Optimizer share one parameter.
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace lowbit {

class GradInputs;

/// grad_out has the shape of the op's output; the function adds gradients to its inputs
/// through GradInputs::add.
using BackwardFn = std::function<void(const Tensor& grad_out, GradInputs& in)>;

/// Autograd node. Leaves have no backward function.
struct Node {
  std::vector<std::shared_ptr<Node>> inputs;  // producers; null for inputs without grad
  std::vector<Shape> input_shapes;
  BackwardFn backward;
  Tensor grad;  // accumulated dL/d(value)
  Shape shape;  // value shape
  bool requires_grad = false;
  bool is_leaf = true;
  const char* op = "leaf";
};

class Var {
 public:
  /// Undefined Var.
  Var() = default;
  /// Wraps a tensor. With requires_grad it is a leaf parameter whose grad() is kept.
  explicit Var(Tensor data, bool requires_grad = false);

  bool defined() const { return data_.defined(); }
  /// The value. The handle is shared: optimizers update parameters through it in place.
  const Tensor& data() const { return data_; }
  const Shape& shape() const { return data_.shape(); }
  int64_t dim() const { return data_.dim(); }
  int64_t size(int64_t d) const { return data_.size(d); }
  int64_t numel() const { return data_.numel(); }

  bool requires_grad() const { return node_ && node_->requires_grad; }
  bool is_leaf() const { return !node_ || node_->is_leaf; }
  /// Name of the op that produced this Var ("leaf" for leaves).
  const char* op() const { return node_ ? node_->op : "leaf"; }
  /// Accumulated gradient (undefined until a backward reached this Var).
  Tensor grad() const { return node_ ? node_->grad : Tensor(); }
  /// Replaces the accumulated gradient (optimizers, gradient masks in pruning).
  void set_grad(Tensor g) const;
  void zero_grad() const;

  /// Backpropagates from this scalar (numel 1) with seed 1.
  void backward(bool retain_graph = false) const;
  /// Backpropagates with an explicit seed gradient of this Var's shape.
  void backward(const Tensor& seed, bool retain_graph = false) const;

  /// The same value cut off from the graph.
  Var detach() const { return Var(data_); }

  const std::shared_ptr<Node>& node() const { return node_; }

 private:
  friend Var make_result(Tensor, const std::vector<Var>&, const char*, BackwardFn);
  Tensor data_;
  std::shared_ptr<Node> node_;
};

/// Gradient sink handed to a backward function.
class GradInputs {
 public:
  explicit GradInputs(Node& node) : node_(node) {}
  /// True when input i needs a gradient: skip its computation otherwise.
  bool needs(size_t i) const;
  /// Shape of input i's value.
  const Shape& input_shape(size_t i) const { return node_.input_shapes.at(i); }
  /// Accumulates g into input i. A g of a broadcast shape is summed down to the input's
  /// shape; any other mismatch throws naming the op and both shapes.
  void add(size_t i, const Tensor& g);

 private:
  Node& node_;
};

/// Creates the output Var of an op. The node (and the backward function) is kept only
/// when grad mode is on and some input requires grad.
Var make_result(Tensor value, const std::vector<Var>& inputs, const char* op, BackwardFn fn);

/// True unless a NoGradGuard is alive on this thread.
bool grad_enabled();

/// RAII: disables graph construction on this thread while alive.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Sums t over broadcast dimensions down to `shape` (numpy broadcasting rules, aligned at
/// the right). Throws if `shape` does not broadcast to t.shape().
Tensor sum_to(const Tensor& t, const Shape& shape);

/// The broadcast shape of a and b; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace lowbit
