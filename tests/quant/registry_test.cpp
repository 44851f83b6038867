// The registry sweep (every registered quantizer, larq's test_serialization) and the
// JSON error messages.
#include "quant/registry.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/check.h"
#include "core/random.h"
#include "quant/functions.h"

using namespace lowbit;
using nlohmann::json;

namespace {

std::string error_of(const json& spec, const std::string& path = "q") {
  try {
    make_quantizer(spec, path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// A quantizer defined outside the library, registered with the application-side macro.
class NegSignForTest final : public Quantizer {
 public:
  Var operator()(const Var& x) const override { return neg(ste_sign(x)); }
  std::string_view name() const override { return "neg_sign_for_test"; }
  int precision() const override { return 1; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  static QuantizerPtr from_json(const json&, const std::string&) {
    return std::make_shared<NegSignForTest>();
  }
};

}  // namespace

LB_REGISTER_QUANTIZER("neg_sign_for_test", &NegSignForTest::from_json);

TEST_CASE("LB_REGISTER_QUANTIZER registers an application's quantizer") {
  QuantizerPtr q = make_quantizer("neg_sign_for_test");
  CHECK(q->name() == "neg_sign_for_test");
  CHECK((*q)(Var(Tensor::from_vector({2}, {-1.f, 2.f}))).data().to_vector() ==
        std::vector<float>{1.f, -1.f});
}

TEST_CASE("registry names are sorted and unique") {
  const std::vector<std::string> names = quantizer_names();
  REQUIRE_FALSE(names.empty());
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
}

TEST_CASE("every registered quantizer: JSON round trip, shape, finite gradients, levels") {
  for (const std::string& name : quantizer_names()) {
    CAPTURE(name);
    QuantizerPtr a = make_quantizer(name);
    QuantizerPtr b = make_quantizer(json{{"name", name}});
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->name() == name);
    CHECK(b->config() == a->config());
    // Round trip through quantizer_to_json.
    const json spec = quantizer_to_json(*a);
    CHECK(spec["name"] == name);
    QuantizerPtr c = make_quantizer(spec);
    CHECK(c->name() == a->name());
    CHECK(c->config() == a->config());
    CHECK(quantizer_to_json(*c) == spec);
    CHECK(a->precision() >= 1);
    CHECK(a->precision() <= 32);
    CHECK(a->levels() >= 2);
    CHECK(a->levels() <= (int64_t{1} << a->precision()));

    for (bool training : {true, false}) {
      CAPTURE(training);
      a->set_training(training);
      Rng rng(17);
      const Shape shape{4, 64};  // 4 output filters of 64 values
      Var x(Tensor::uniform(shape, rng, -2.f, 2.f), true);
      Var q = (*a)(x);
      CHECK(q.shape() == shape);
      Tensor seed = Tensor::uniform(shape, rng, -1.f, 1.f);
      q.backward(seed);
      REQUIRE(x.grad().defined());
      bool finite = true;
      for (float v : x.grad().to_vector()) finite = finite && std::isfinite(v);
      for (float v : q.data().to_vector()) finite = finite && std::isfinite(v);
      CHECK(finite);
      for (auto& [pname, p] : a->parameters()) {
        CAPTURE(pname);
        REQUIRE(p->grad().defined());
        CHECK(std::isfinite(p->grad().to_vector()[0]));
      }
      // Distinct values per output filter at most levels() (2^bits, 3 for ternary).
      const std::vector<float> v = q.data().to_vector();
      for (int64_t f = 0; f < shape[0]; ++f) {
        std::set<float> distinct(v.begin() + f * shape[1], v.begin() + (f + 1) * shape[1]);
        CHECK(int64_t(distinct.size()) <= a->levels());
      }
    }
  }
}

// The properties other code asks of a quantizer (packed/convert.cpp, results tables) must
// describe what it computes, checked on its eval-mode forward.
TEST_CASE("every registered quantizer: properties agree with its forward") {
  for (const std::string& name : quantizer_names()) {
    CAPTURE(name);
    QuantizerPtr q = make_quantizer(name);
    q->set_training(false);
    CHECK(q->label().rfind(name, 0) == 0);  // the label starts with the registry name
    Rng rng(5);
    const Shape shape{4, 64};
    Var x(Tensor::uniform(shape, rng, -2.f, 2.f));
    const std::vector<float> xv = x.data().to_vector();
    const std::vector<float> out = (*q)(x).data().to_vector();

    const std::vector<float> levels = q->fixed_levels();
    if (!levels.empty()) {
      CHECK(std::is_sorted(levels.begin(), levels.end()));
      CHECK(std::adjacent_find(levels.begin(), levels.end()) == levels.end());
      CHECK(int64_t(levels.size()) <= q->levels());
      for (float v : out) {  // bit for bit one of the levels (so −0 is not a level's 0)
        const bool found = std::any_of(levels.begin(), levels.end(), [v](float l) {
          return std::bit_cast<uint32_t>(l) == std::bit_cast<uint32_t>(v);
        });
        CHECK_MESSAGE(found, v);
      }
    }
    CHECK(q->is_binary() == (levels == std::vector<float>{-1.f, 1.f}));
    if (q->is_binary()) CHECK(q->precision() == 1);
    if (q->is_ternary()) CHECK(q->precision() == 2);

    // Elementwise: each value alone gives the value it gave inside the tensor.
    if (q->is_elementwise())
      for (size_t i = 0; i < xv.size(); i += 7) {
        const float alone = (*q)(Var(Tensor::from_vector({1, 1}, {xv[i]}))).data().item();
        CHECK(alone == out[i]);
      }

    // output_scale_kind() says whether output_scale() returns a factor.
    const bool scales = q->output_scale(x, InputWindow{}).defined();
    CHECK(scales == (q->output_scale_kind() != Quantizer::OutputScale::None));
  }
  // Options change the properties.
  CHECK(make_quantizer(json{{"name", "xnor_sign"}, {"k_scaling", true}})->output_scale_kind() ==
        Quantizer::OutputScale::XnorK);
  CHECK(make_quantizer("tnn")->is_ternary());
  CHECK_FALSE(make_quantizer("twn")->is_elementwise());
  CHECK(make_quantizer("twn")->fixed_levels().empty());
  CHECK(make_quantizer(json{{"name", "dorefa"}, {"bits", 2}})->fixed_levels() ==
        std::vector<float>{0.f, 1.f / 3.f, 2.f / 3.f, 1.f});
}

TEST_CASE("options are read, validated and round-tripped") {
  QuantizerPtr d = make_quantizer(json{{"name", "dorefa"}, {"bits", 3}});
  CHECK(d->precision() == 3);
  CHECK(quantizer_to_json(*d) == json{{"name", "dorefa"}, {"bits", 3}});
  QuantizerPtr s = make_quantizer(json{{"name", "ste_sign"}, {"clip_value", nullptr}});
  CHECK(s->config()["clip_value"].is_null());  // plain STE round-trips as null
  QuantizerPtr t =
      make_quantizer(json{{"name", "twn"}, {"delta_factor", 0.75}, {"per_filter", true}});
  CHECK(t->config() == json{{"delta_factor", 0.75}, {"per_filter", true}});
  CHECK(t->num_scales({8, 3, 3, 3}) == 8);
  CHECK(make_quantizer("twn")->num_scales({8, 3, 3, 3}) == 1);
  CHECK(make_quantizer(nullptr) == nullptr);
  // qnn_linear: the paper's grid by default; the grid is in the config and the label.
  QuantizerPtr qp = make_quantizer("qnn_linear");
  CHECK(qp->config() == json{{"bits", 2}, {"min", -1.0}, {"max", 1.0}, {"grid", "paper"}});
  CHECK(qp->label() == "qnn_linear(grid=paper)");
  CHECK(qp->fixed_levels() == std::vector<float>{-1.f, -0.5f, 0.f, 0.5f});
  QuantizerPtr qm = make_quantizer(json{{"name", "qnn_linear"}, {"grid", "min_max"}});
  CHECK(qm->label() == "qnn_linear(grid=min_max)");
  CHECK(qm->fixed_levels().size() == 4);
  CHECK(qm->fixed_levels().front() == -1.f);
  CHECK(qm->fixed_levels().back() == 1.f);
  CHECK(contains(error_of(json{{"name", "qnn_linear"}, {"grid", "midrise"}}), "q.grid"));
  CHECK(contains(error_of(json{{"name", "qnn_linear"}, {"bits", 1}}), "q.bits"));
  CHECK(make_quantizer(json{{"name", "qnn_linear"}, {"bits", 1}, {"grid", "min_max"}})->is_binary());
  CHECK(contains(error_of(json{{"name", "qnn_linear"}, {"max", 0.5}}), "multiple of the step"));
  CHECK(contains(error_of(json{{"name", "qnn_linear"}, {"min", 1.0}}), "q: "));
  // TTQ owns two parameters.
  QuantizerPtr ttq = make_quantizer("ttq");
  auto params = ttq->parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].first == "wp");
  CHECK(params[1].first == "wn");
  CHECK(params[0].second->data().item() == 1.f);
  // Stochastic quantizers own a generator; deterministic ones do not.
  CHECK(make_quantizer("stochastic_sign")->rng() != nullptr);
  CHECK(make_quantizer(json{{"name", "tnn"}, {"stochastic", true}})->rng() != nullptr);
  CHECK(make_quantizer("tnn")->rng() == nullptr);
  CHECK(make_quantizer("ste_sign")->rng() == nullptr);
}

TEST_CASE("stochastic quantizers are deterministic in evaluation mode") {
  for (const json& spec : {json("stochastic_sign"), json{{"name", "tnn"}, {"stochastic", true}}}) {
    QuantizerPtr q = make_quantizer(spec);
    q->set_training(false);
    Rng rng(1);
    Var x(Tensor::uniform({100}, rng, -1.5f, 1.5f));
    CHECK((*q)(x).data().to_vector() == (*q)(x).data().to_vector());
    q->set_training(true);
    CHECK((*q)(x).data().to_vector() != (*q)(x).data().to_vector());
  }
}

TEST_CASE("bad specs name the path, the key and the choices") {
  std::string e = error_of("ste_sgn");
  CHECK(contains(e, "q: unknown quantizer \"ste_sgn\""));
  CHECK(contains(e, "did you mean \"ste_sign\""));
  CHECK(contains(e, "known: "));
  CHECK(contains(e, "dorefa"));
  e = error_of(json{{"name", "dorefa"}, {"bitz", 2}});
  CHECK(contains(e, "q.bitz: unknown key (did you mean \"bits\"?)"));
  e = error_of(json{{"name", "dorefa"}, {"bits", 0}});
  CHECK(contains(e, "q.bits"));
  e = error_of(json{{"name", "ste_sign"}, {"clip_vaule", 1.0}});
  CHECK(contains(e, "clip_vaule"));
  e = error_of(json{{"name", "ste_sign"}, {"clip_value", -1.0}});
  CHECK(contains(e, "q.clip_value"));
  e = error_of(json{{"bits", 2}});
  CHECK(contains(e, "q.name: missing required key (expected a quantizer: "));
  e = error_of(json{{"name", 3}});
  CHECK(contains(e, "q.name: expected a quantizer name"));
  e = error_of(json{{"name", "nope"}});
  CHECK(contains(e, "q.name: unknown quantizer \"nope\""));
  e = error_of(json(42));
  CHECK(contains(e, "q: expected a quantizer name or an object {\"name\": ...}, got 42"));
  e = error_of(json{{"name", "bwn"}, {"gradient", "exact"}});
  CHECK(contains(e, "q.gradient"));
  CHECK(contains(e, "xnor"));
  CHECK_THROWS_AS(register_quantizer(
                      "ste_sign", [](const json&, const std::string&) { return QuantizerPtr(); }),
                  Error);
}
