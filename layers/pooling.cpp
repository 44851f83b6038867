#include "layers/pooling.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ops.h"

namespace lowbit {

Pool2dOptions Pool2dOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"type"});
  Pool2dOptions o;
  o.kernel_size = a.positive_int("kernel_size");
  o.stride = a.positive_int("stride", o.kernel_size);
  o.padding = a.int_in("padding", 0, o.kernel_size / 2, 0);
  a.finish();
  return o;
}

nlohmann::json Pool2dOptions::to_json() const {
  return {{"kernel_size", kernel_size},
          {"stride", stride == 0 ? kernel_size : stride},
          {"padding", padding}};
}

namespace {
Pool2dOptions resolve(Pool2dOptions o, const char* layer) {
  LB_CHECK(o.kernel_size > 0, layer, ": kernel_size must be > 0, got ", o.kernel_size);
  LB_CHECK(o.stride >= 0, layer, ": stride must be > 0 (or 0 for kernel_size), got ", o.stride);
  LB_CHECK(o.padding >= 0 && o.padding <= o.kernel_size / 2, layer,
           ": padding must be in [0, kernel_size/2] = [0, ", o.kernel_size / 2, "], got ",
           o.padding);
  if (o.stride == 0) o.stride = o.kernel_size;
  return o;
}

void check_input(const Var& x, const Pool2dOptions& o, std::string_view type) {
  LB_CHECK(x.dim() == 4, type, ": expected input (N, C, H, W), got ", x.shape());
  LB_CHECK(x.size(2) + 2 * o.padding >= o.kernel_size && x.size(3) + 2 * o.padding >= o.kernel_size,
           type, "(kernel_size=", o.kernel_size, "): input ", x.shape(),
           " is smaller than the window");
}
}  // namespace

MaxPool2d::MaxPool2d(Pool2dOptions options) : options_(resolve(options, "MaxPool2d")) {}

Var MaxPool2d::forward(const Var& x) {
  check_input(x, options_, type());
  return max_pool2d(x, options_.kernel_size, options_.stride, options_.padding);
}

nlohmann::json MaxPool2d::config() const { return options_.to_json(); }

ModulePtr MaxPool2d::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  return std::make_shared<MaxPool2d>(Pool2dOptions::from_json(spec, path));
}

AvgPool2d::AvgPool2d(Pool2dOptions options) : options_(resolve(options, "AvgPool2d")) {}

Var AvgPool2d::forward(const Var& x) {
  check_input(x, options_, type());
  return avg_pool2d(x, options_.kernel_size, options_.stride, options_.padding);
}

nlohmann::json AvgPool2d::config() const { return options_.to_json(); }

ModulePtr AvgPool2d::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  return std::make_shared<AvgPool2d>(Pool2dOptions::from_json(spec, path));
}

}  // namespace lowbit
