// Module base: names, buffers, lr scales, train/eval, after_step hooks, state load, printing.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "core/ops.h"
#include "layers/layers.h"

using namespace lowbit;
using nlohmann::json;

namespace {

// A user module with a parameter, a buffer, a child and a post-step constraint.
class Clipped final : public Module {
 public:
  explicit Clipped(Rng& rng) {
    w_ = register_parameter("weight", Tensor::uniform({3}, rng, -2, 2), 0.5f);
    count_ = register_buffer("count", Tensor::zeros({1}));
    act_ = register_module("act", std::make_shared<Tanh>());
  }
  Var forward(const Var& x) override { return (*act_)(x * w_); }
  std::string_view type() const override { return "clipped"; }
  void after_step() override {
    float* w = w_.data().data();
    for (int64_t i = 0; i < w_.numel(); ++i) w[i] = std::clamp(w[i], -1.f, 1.f);
    count_.data()[0] += 1;
  }
  Var w_;
  Tensor count_;
  std::shared_ptr<Tanh> act_;
};

std::shared_ptr<Sequential> small_net(Rng& rng) {
  return std::dynamic_pointer_cast<Sequential>(make_module(json::parse(R"([
      {"type": "flatten"},
      {"type": "linear", "in_features": 12, "out_features": 5},
      {"type": "batch_norm1d", "num_features": 5},
      {"type": "relu"},
      {"type": "dropout", "p": 0.25},
      {"type": "linear", "in_features": 5, "out_features": 3, "bias": false}])"),
                                                           rng));
}

}  // namespace

TEST_CASE("named_parameters and named_buffers have stable dotted names and shapes") {
  Rng rng(1);
  auto net = small_net(rng);
  REQUIRE(net);
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  for (auto& p : net->named_parameters()) {
    names.push_back(p.name);
    shapes.push_back(p.var.shape());
    CHECK(p.var.requires_grad());
    CHECK(p.lr_scale == 1.f);
  }
  CHECK(names == std::vector<std::string>{"1.weight", "1.bias", "2.weight", "2.bias", "5.weight"});
  CHECK(shapes == std::vector<Shape>{{5, 12}, {5}, {5}, {5}, {3, 5}});
  std::vector<std::string> buffers;
  for (auto& [n, t] : net->named_buffers()) buffers.push_back(n);
  CHECK(buffers == std::vector<std::string>{"2.running_mean", "2.running_var"});
  CHECK(net->num_parameters() == 60 + 5 + 5 + 5 + 15);
  CHECK(net->parameters().size() == 5);
  CHECK(net->param_lr_scales() == std::vector<float>(5, 1.f));
  auto rngs = net->named_rngs();
  REQUIRE(rngs.size() == 1);
  CHECK(rngs[0].first == "4.rng");
  std::vector<std::string> modules;
  for (auto& [n, m] : net->named_modules()) modules.push_back(n + ":" + std::string(m->type()));
  CHECK(modules == std::vector<std::string>{":sequential", "0:flatten", "1:linear",
                                            "2:batch_norm1d", "3:relu", "4:dropout", "5:linear"});
  // Same seed, same names and values.
  Rng rng2(1);
  auto again = small_net(rng2);
  auto a = net->state_tensors(), b = again->state_tensors();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(allclose(a[i].second, b[i].second, 0.f, 0.f));
  }
}

TEST_CASE("parameters share storage with the module; lr scales and after_step recurse") {
  Rng rng(2);
  auto seq = std::make_shared<Sequential>();
  auto c = std::make_shared<Clipped>(rng);
  seq->push_back(std::make_shared<ReLU>());
  seq->push_back(c);
  auto named = seq->named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].name == "1.weight");
  CHECK(named[0].lr_scale == 0.5f);
  CHECK(named[0].var.data().shares_storage(c->w_.data()));
  c->set_lr_scale("weight", 2.f);
  CHECK(seq->param_lr_scales() == std::vector<float>{2.f});
  CHECK_THROWS_WITH_AS(c->set_lr_scale("bias", 1.f), doctest::Contains("no parameter \"bias\""),
                       Error);

  Tensor(c->w_.data()).fill_(3.f);
  seq->apply_after_step();
  CHECK(c->w_.data().data()[0] == 1.f);
  CHECK(c->count_.data()[0] == 1.f);
  auto buffers = seq->named_buffers();
  REQUIRE(buffers.size() == 1);
  CHECK(buffers[0].first == "1.count");
}

TEST_CASE("train and eval recurse into children") {
  Rng rng(3);
  auto net = small_net(rng);
  CHECK(net->is_training());
  net->eval();
  for (auto& [n, m] : net->named_modules()) CHECK_FALSE(m->is_training());
  net->train();
  for (auto& [n, m] : net->named_modules()) CHECK(m->is_training());
}

TEST_CASE("registration rejects duplicate and dotted names") {
  struct M final : Module {
    Var forward(const Var& x) override { return x; }
    std::string_view type() const override { return "m"; }
  } m;
  m.register_parameter("w", Tensor::zeros({1}));
  CHECK_THROWS_WITH_AS(m.register_parameter("w", Tensor::zeros({1})),
                       doctest::Contains("\"w\" is already registered"), Error);
  CHECK_THROWS_WITH_AS(m.register_buffer("a.b", Tensor::zeros({1})),
                       doctest::Contains("contain no '.'"), Error);
  CHECK_THROWS_AS(m.register_module("w", std::make_shared<ReLU>()), Error);
  CHECK_THROWS_AS(m.register_parameter("u", Tensor()), Error);
}

TEST_CASE("load_state_tensors copies in place and rejects mismatches with the source name") {
  Rng rng(4);
  auto a = small_net(rng), b = small_net(rng);
  const Tensor b_weight = b->named_parameters()[0].var.data();
  CHECK_FALSE(allclose(a->named_parameters()[0].var.data(), b_weight));
  // Through a real file, as a checkpoint.
  NamedTensors state = a->state_tensors();
  b->load_state_tensors(state, "model.safetensors");
  CHECK(allclose(b_weight, a->named_parameters()[0].var.data(), 0.f, 0.f));  // same handle
  CHECK(allclose(b->named_buffers()[1].second, a->named_buffers()[1].second, 0.f, 0.f));

  NamedTensors missing(state.begin() + 1, state.end());
  CHECK_THROWS_WITH_AS(b->load_state_tensors(missing, "model.safetensors"),
                       doctest::Contains("model.safetensors: missing tensor \"1.weight\""), Error);
  NamedTensors extra = state;
  extra.emplace_back("9.weight", Tensor::zeros({1}));
  CHECK_THROWS_WITH_AS(b->load_state_tensors(extra, "f"),
                       doctest::Contains("unexpected tensor \"9.weight\""), Error);
  NamedTensors wrong = state;
  wrong[0].second = Tensor::zeros({12, 5});
  CHECK_THROWS_WITH_AS(b->load_state_tensors(wrong, "f"),
                       doctest::Contains("\"1.weight\" has shape (12, 5)"), Error);
}

TEST_CASE("pretty_print shows the tree with hyperparameters") {
  Rng rng(5);
  auto net = small_net(rng);
  std::ostringstream os;
  os << *net;
  const std::string s = os.str();
  CHECK(s.find("sequential(\n") == 0);
  CHECK(s.find("  (0): flatten()\n") != std::string::npos);
  CHECK(s.find("  (1): linear(bias=true, in_features=12, out_features=5, "
               "weight_init=\"kaiming_uniform\")") != std::string::npos);
  CHECK(s.find("(2): batch_norm1d(affine=true, eps=1e-05, momentum=0.1, num_features=5)") !=
        std::string::npos);
  CHECK(s.find("(4): dropout(p=0.25)") != std::string::npos);
  CHECK(s.back() == ')');
  // Nested containers indent their children.
  auto outer = std::make_shared<Sequential>();
  outer->push_back(net);
  std::ostringstream os2;
  outer->pretty_print(os2);
  CHECK(os2.str().find("\n    (1): linear(") != std::string::npos);
}

TEST_CASE("a full forward/backward through a built model reaches every parameter") {
  Rng rng(6);
  auto net = small_net(rng);
  Var x(Tensor::normal({4, 3, 2, 2}, rng));
  Var loss = cross_entropy((*net)(x), Tensor::from_vector({4}, {0, 1, 2, 1}));
  loss.backward();
  for (auto& p : net->named_parameters()) {
    CAPTURE(p.name);
    REQUIRE(p.var.grad().defined());
    CHECK(p.var.grad().shape() == p.var.shape());
  }
}
