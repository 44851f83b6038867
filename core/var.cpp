#include "core/var.h"

#include <algorithm>
#include <unordered_set>

#include "core/check.h"
#include "core/parallel.h"

namespace lowbit {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

// ---- Var

Var::Var(Tensor data, bool requires_grad) : data_(std::move(data)) {
  if (requires_grad) {
    LB_CHECK(data_.defined(), "Var: requires_grad on an undefined tensor");
    node_ = std::make_shared<Node>();
    node_->requires_grad = true;
    node_->shape = data_.shape();
  }
}

void Var::set_grad(Tensor g) const {
  LB_CHECK(node_ && node_->requires_grad, "Var::set_grad: this Var does not require grad");
  LB_CHECK(!g.defined() || g.shape() == data_.shape(), "Var::set_grad: gradient shape ",
           g.shape(), " does not match value shape ", data_.shape());
  node_->grad = std::move(g);
}

void Var::zero_grad() const {
  if (node_) node_->grad = Tensor();
}

void Var::backward(bool retain_graph) const {
  LB_CHECK(data_.numel() == 1, "backward: called on a non-scalar of shape ", shape(),
           "; pass a seed gradient of that shape, or reduce it first (sum/mean)");
  backward(Tensor::ones(shape()), retain_graph);
}

void Var::backward(const Tensor& seed, bool retain_graph) const {
  LB_CHECK(requires_grad(), "backward: this Var does not require grad (no input of the op \"",
           op(), "\" requires grad, or it was computed under NoGradGuard)");
  LB_CHECK(seed.shape() == shape(), "backward: seed gradient shape ", seed.shape(),
           " does not match value shape ", shape());

  // Iterative post-order DFS: `order` lists every node after all nodes it feeds. It holds
  // owning pointers: releasing a node's input edges below would otherwise destroy nodes
  // that are still to be visited (an interior node is often owned only by its consumer).
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{node_, 0}};
  visited.insert(node_.get());
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      std::shared_ptr<Node> child = n->inputs[next++];
      if (child && child->requires_grad && visited.insert(child.get()).second)
        stack.push_back({std::move(child), 0});
    } else {
      order.push_back(std::move(n));
      stack.pop_back();
    }
  }

  node_->grad = node_->grad.defined() ? node_->grad.clone().add_(seed) : seed.clone();

  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = it->get();
    if (n->is_leaf) continue;
    if (n->grad.defined() && n->backward) {
      GradInputs in(*n);
      const Tensor g = n->grad;
      n->grad = Tensor();  // interior gradients are freed once propagated
      n->backward(g, in);
    } else {
      LB_CHECK(n->backward || n->grad.defined() == false,
               "backward: the graph through op \"", n->op,
               "\" was already released by an earlier backward(); pass retain_graph=true to "
               "the first call to backpropagate twice");
    }
    if (!retain_graph) {
      n->backward = nullptr;
      n->inputs.clear();
    }
  }
}

// ---- GradInputs

bool GradInputs::needs(size_t i) const {
  return i < node_.inputs.size() && node_.inputs[i] && node_.inputs[i]->requires_grad;
}

void GradInputs::add(size_t i, const Tensor& g) {
  if (!needs(i)) return;
  Node& target = *node_.inputs[i];
  const Shape& want = node_.input_shapes[i];
  Tensor contribution = g;
  if (g.shape() != want) {
    bool broadcastable = true;
    try {
      broadcastable = broadcast_shapes(want, g.shape(), node_.op) == g.shape();
    } catch (const Error&) {
      broadcastable = false;
    }
    LB_CHECK(broadcastable && g.numel() >= shape_numel(want), "backward of op \"", node_.op,
             "\": gradient of shape ", g.shape(), " does not match input ", i, " of shape ", want);
    contribution = sum_to(g, want);
  }
  if (!target.grad.defined()) {
    target.grad = contribution;
  } else if (target.grad.storage_use_count() == 1) {
    target.grad.add_(contribution);  // we own the buffer: accumulate in place
  } else {
    target.grad = target.grad.clone().add_(contribution);
  }
}

// ---- graph construction

Var make_result(Tensor value, const std::vector<Var>& inputs, const char* op, BackwardFn fn) {
  Var out;
  out.data_ = std::move(value);
  if (!grad_enabled()) return out;
  bool any = false;
  for (const Var& v : inputs) any = any || v.requires_grad();
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->requires_grad = true;
  node->is_leaf = false;
  node->op = op;
  node->shape = out.data_.shape();
  node->backward = std::move(fn);
  node->inputs.reserve(inputs.size());
  node->input_shapes.reserve(inputs.size());
  for (const Var& v : inputs) {
    node->inputs.push_back(v.requires_grad() ? v.node() : nullptr);
    node->input_shapes.push_back(v.shape());
  }
  out.node_ = std::move(node);
  return out;
}

// ---- broadcasting helpers

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    LB_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
             " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  LB_CHECK(broadcast_shapes(shape, t.shape(), "sum_to") == t.shape(), "sum_to: cannot reduce ",
           t.shape(), " to ", shape);
  // View t as (outer..., inner) runs: for each source element compute its destination
  // index with zero strides on the broadcast dimensions.
  const size_t n = t.shape().size();
  Shape padded(n, 1);
  std::copy(shape.begin(), shape.end(), padded.begin() + static_cast<long>(n - shape.size()));
  std::vector<int64_t> dst_stride(n, 0);
  int64_t s = 1;
  for (size_t d = n; d-- > 0;) {
    dst_stride[d] = padded[d] == 1 ? 0 : s;
    s *= padded[d];
  }
  Tensor out = Tensor::zeros(shape);
  float* dst = out.data();
  const float* src = t.data();
  const Shape& ts = t.shape();
  // Innermost contiguous run length for the fast path.
  const int64_t inner = n ? ts[n - 1] : 1;
  const int64_t inner_stride = n ? dst_stride[n - 1] : 0;
  std::vector<int64_t> idx(n, 0);
  const int64_t rows = inner ? t.numel() / inner : 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t base = 0;
    for (size_t d = 0; d + 1 < n; ++d) base += idx[d] * dst_stride[d];
    const float* row = src + r * inner;
    if (inner_stride == 0) {
      float acc = 0.f;
      for (int64_t j = 0; j < inner; ++j) acc += row[j];
      dst[base] += acc;
    } else {
      float* drow = dst + base;
      for (int64_t j = 0; j < inner; ++j) drow[j] += row[j];
    }
    for (size_t d = n - 1; d-- > 0;) {  // increment the outer multi-index
      if (++idx[d] < ts[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace lowbit
