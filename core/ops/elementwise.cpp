// Elementwise ops: binary with numpy broadcasting, scalar forms, unary math.
// Binary backward passes sum out-shaped gradients down to a broadcast input's shape with
// kernels::unbroadcast (parallel) before handing them to GradInputs::add.
#include <cmath>

#include "core/check.h"
#include "core/map.h"
#include "core/ops.h"

namespace lowbit {

// ---- binary

namespace {
/// Adds g (of the output's shape) to input i, summed down over its broadcast dimensions with
/// the parallel kernel (GradInputs::add would do it serially).
void add_grad(GradInputs& in, size_t i, const Tensor& g) {
  if (in.needs(i)) in.add(i, kernels::unbroadcast(g, in.input_shape(i)));
}
}  // namespace

Var add(const Var& a, const Var& b) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "add");
  return make_result(
      kernels::broadcast_zip(a.data(), b.data(), out, [](float x, float y) { return x + y; }),
      {a, b}, "add", [](const Tensor& g, GradInputs& in) {
        add_grad(in, 0, g);
        add_grad(in, 1, g);
      });
}

Var sub(const Var& a, const Var& b) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "sub");
  return make_result(
      kernels::broadcast_zip(a.data(), b.data(), out, [](float x, float y) { return x - y; }),
      {a, b}, "sub", [](const Tensor& g, GradInputs& in) {
        add_grad(in, 0, g);
        if (in.needs(1)) add_grad(in, 1, kernels::map(g, [](float v) { return -v; }));
      });
}

Var mul(const Var& a, const Var& b) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "mul");
  // Each gradient needs only the other operand: capture it only if that gradient is wanted.
  const Tensor ad = b.requires_grad() ? a.data() : Tensor();
  const Tensor bd = a.requires_grad() ? b.data() : Tensor();
  return make_result(
      kernels::broadcast_zip(a.data(), b.data(), out, [](float x, float y) { return x * y; }),
      {a, b}, "mul", [ad, bd](const Tensor& g, GradInputs& in) {
        auto times = [](float x, float y) { return x * y; };
        if (in.needs(0)) add_grad(in, 0, kernels::broadcast_zip(g, bd, g.shape(), times));  // g·b
        if (in.needs(1)) add_grad(in, 1, kernels::broadcast_zip(g, ad, g.shape(), times));  // g·a
      });
}

Var div(const Var& a, const Var& b) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "div");
  const Tensor ad = b.requires_grad() ? a.data() : Tensor();
  const Tensor bd = b.data();
  return make_result(
      kernels::broadcast_zip(a.data(), bd, out, [](float x, float y) { return x / y; }), {a, b},
      "div", [ad, bd](const Tensor& g, GradInputs& in) {
        if (in.needs(0))  // g/b
          add_grad(in, 0, kernels::broadcast_zip(g, bd, g.shape(), [](float x, float y) {
                     return x / y;
                   }));
        if (in.needs(1)) {  // −g·a/b²
          const Tensor ga =
              kernels::broadcast_zip(g, ad, g.shape(), [](float x, float y) { return x * y; });
          add_grad(in, 1, kernels::broadcast_zip(ga, bd, g.shape(), [](float x, float y) {
                     return -x / (y * y);
                   }));
        }
      });
}

Var add(const Var& a, float s) {
  return make_result(kernels::map(a.data(), [s](float x) { return x + s; }), {a}, "add_scalar",
                     [](const Tensor& g, GradInputs& in) { in.add(0, g); });
}

Var mul(const Var& a, float s) {
  return make_result(kernels::map(a.data(), [s](float x) { return x * s; }), {a}, "mul_scalar",
                     [s](const Tensor& g, GradInputs& in) {
                       if (in.needs(0)) in.add(0, kernels::map(g, [s](float v) { return v * s; }));
                     });
}

Var operator+(const Var& a, const Var& b) { return add(a, b); }
Var operator-(const Var& a, const Var& b) { return sub(a, b); }
Var operator*(const Var& a, const Var& b) { return mul(a, b); }
Var operator/(const Var& a, const Var& b) { return div(a, b); }
Var operator-(const Var& a) { return neg(a); }

// ---- unary: one functor per op, f and its derivative side by side

namespace {
struct NegFn {
  static float f(float x) { return -x; }
};
struct ExpFn {
  static float f(float x) { return kernels::fast_exp(x); }
  static float df_from_y(float y) { return y; }
};
struct LogFn {
  static float f(float x) { return std::log(x); }
  static float df(float x) { return 1.f / x; }
};
struct SqrtFn {
  static float f(float x) { return std::sqrt(x); }
  static float df_from_y(float y) { return 0.5f / y; }
};
struct SquareFn {
  static float f(float x) { return x * x; }
  static float df(float x) { return 2.f * x; }
};
struct AbsFn {
  static float f(float x) { return std::fabs(x); }
  static float df(float x) { return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f); }
};
}  // namespace

Var neg(const Var& x) {
  return make_result(kernels::map<NegFn>(x.data()), {x}, "neg",
                     [](const Tensor& g, GradInputs& in) {
                       if (in.needs(0)) in.add(0, kernels::map<NegFn>(g));
                     });
}

Var exp(const Var& x) {
  Tensor y = kernels::map<ExpFn>(x.data());
  return make_result(y, {x}, "exp", [y](const Tensor& g, GradInputs& in) {
    in.add(0, kernels::grad_from_y<ExpFn>(g, y));
  });
}

Var log(const Var& x) {
  const Tensor xd = x.data();
  return make_result(kernels::map<LogFn>(xd), {x}, "log", [xd](const Tensor& g, GradInputs& in) {
    in.add(0, kernels::grad_from_x<LogFn>(g, xd));
  });
}

Var sqrt(const Var& x) {
  Tensor y = kernels::map<SqrtFn>(x.data());
  return make_result(y, {x}, "sqrt", [y](const Tensor& g, GradInputs& in) {
    in.add(0, kernels::grad_from_y<SqrtFn>(g, y));
  });
}

Var pow(const Var& x, float p) {
  if (p == 2.f) return square(x);
  if (p == 1.f) return mul(x, 1.f);
  const Tensor xd = x.data();
  return make_result(kernels::map(xd, [p](float v) { return std::pow(v, p); }), {x}, "pow",
                     [xd, p](const Tensor& g, GradInputs& in) {  // g·p·xᵖ⁻¹
                       in.add(0, kernels::zip(g, xd, [p](float gv, float v) {
                                return gv * p * std::pow(v, p - 1.f);
                              }));
                     });
}

Var square(const Var& x) {
  const Tensor xd = x.data();
  return make_result(
      kernels::map<SquareFn>(xd), {x}, "square",
      [xd](const Tensor& g, GradInputs& in) { in.add(0, kernels::grad_from_x<SquareFn>(g, xd)); });
}

Var abs(const Var& x) {
  const Tensor xd = x.data();
  return make_result(kernels::map<AbsFn>(xd), {x}, "abs", [xd](const Tensor& g, GradInputs& in) {
    in.add(0, kernels::grad_from_x<AbsFn>(g, xd));
  });
}

Var clamp(const Var& x, float lo, float hi) {
  LB_CHECK(lo <= hi, "clamp: lo must be <= hi, got lo=", lo, " hi=", hi);
  const Tensor xd = x.data();
  return make_result(kernels::map(xd, [lo, hi](float v) { return kernels::clamp_nan(v, lo, hi); }),
                     {x}, "clamp", [xd, lo, hi](const Tensor& g, GradInputs& in) {
                       in.add(0, kernels::zip(g, xd, [lo, hi](float gv, float v) {
                                return (v >= lo && v <= hi) ? gv : 0.f;
                              }));
                     });
}

}  // namespace lowbit
