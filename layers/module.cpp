#include "layers/module.h"

#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>

#include "core/check.h"

namespace lowbit {

nlohmann::json Module::config() const { return nlohmann::json::object(); }

namespace {
std::string join(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  if (name.empty()) return prefix;
  return prefix + "." + name;
}

// Scalars as JSON (true, 0.1, "x"); nested values too.
void print_config(std::ostream& os, const nlohmann::json& cfg) {
  bool first = true;
  for (auto it = cfg.begin(); it != cfg.end(); ++it) {
    os << (first ? "" : ", ") << it.key() << "=" << it.value().dump();
    first = false;
  }
}
}  // namespace

void Module::pretty_print(std::ostream& os) const {
  os << type() << "(";
  if (children_.empty()) {
    print_config(os, config());
    os << ")";
    return;
  }
  os << "\n";
  for (const auto& [name, child] : children_) {
    std::ostringstream sub;
    child->pretty_print(sub);
    // Indent the child's continuation lines by two spaces.
    std::string text = sub.str(), indented;
    for (char c : text) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    os << "  (" << name << "): " << indented << "\n";
  }
  os << ")";
}

std::ostream& operator<<(std::ostream& os, const Module& m) {
  m.pretty_print(os);
  return os;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

void Module::apply_after_step() {
  for (auto& [_, child] : children_) child->apply_after_step();
  after_step();
}

void Module::check_new_name(const std::string& name, const char* what) const {
  LB_CHECK(!name.empty() && name.find('.') == std::string::npos, type(), ": ", what,
           " name must be non-empty and contain no '.', got \"", name, "\"");
  bool taken = false;
  for (const auto& p : params_) taken |= p.name == name;
  for (const auto& b : buffers_) taken |= b.first == name;
  for (const auto& c : children_) taken |= c.first == name;
  for (const auto& r : rngs_) taken |= r.first == name;
  LB_CHECK(!taken, type(), ": name \"", name, "\" is already registered in this module");
}

Var& Module::register_parameter(std::string name, Tensor init, float lr_scale) {
  check_new_name(name, "parameter");
  LB_CHECK(init.defined(), type(), ": parameter \"", name, "\" is undefined");
  params_.push_back({std::move(name), Var(std::move(init), true), lr_scale});
  return params_.back().var;
}

Tensor& Module::register_buffer(std::string name, Tensor init) {
  check_new_name(name, "buffer");
  LB_CHECK(init.defined(), type(), ": buffer \"", name, "\" is undefined");
  buffers_.emplace_back(std::move(name), std::move(init));
  return buffers_.back().second;
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_new_name(name, "module");
  LB_CHECK(module != nullptr, type(), ": module \"", name, "\" is null");
  LB_CHECK(module.get() != this, type(), ": a module cannot contain itself");
  children_.emplace_back(std::move(name), std::move(module));
}

void Module::register_rng(std::string name, Rng& rng) {
  check_new_name(name, "rng");
  rngs_.emplace_back(std::move(name), &rng);
}

void Module::set_lr_scale(const std::string& name, float lr_scale) {
  for (auto& p : params_) {
    if (p.name == name) {
      p.lr_scale = lr_scale;
      return;
    }
  }
  LB_FAIL(type(), ".set_lr_scale: no parameter \"", name, "\" in this module");
}

void Module::collect_parameters(const std::string& prefix, std::vector<NamedParameter>& out) const {
  for (const auto& p : params_) out.push_back({join(prefix, p.name), p.var, p.lr_scale});
  for (const auto& [name, child] : children_) child->collect_parameters(join(prefix, name), out);
}

void Module::collect_buffers(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [name, t] : buffers_) out.emplace_back(join(prefix, name), t);
  for (const auto& [name, child] : children_) child->collect_buffers(join(prefix, name), out);
}

std::vector<NamedParameter> Module::named_parameters() const {
  std::vector<NamedParameter> out;
  collect_parameters("", out);
  return out;
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  for (auto& p : named_parameters()) out.push_back(p.var);
  return out;
}

std::vector<float> Module::param_lr_scales() const {
  std::vector<float> out;
  for (auto& p : named_parameters()) out.push_back(p.lr_scale);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect_buffers("", out);
  return out;
}

NamedTensors Module::state_tensors() const {
  NamedTensors out;
  for (auto& p : named_parameters()) out.emplace_back(p.name, p.var.data());
  for (auto& b : named_buffers()) out.push_back(b);
  return out;
}

void Module::load_state_tensors(const NamedTensors& tensors, const std::string& source) {
  NamedTensors mine = state_tensors();
  std::set<std::string> expected;
  for (const auto& [name, _] : mine) expected.insert(name);
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (!expected.count(name)) {
      std::string list;
      for (const auto& n : expected) list += (list.empty() ? "" : ", ") + n;
      LB_FAIL(source, ": unexpected tensor \"", name, "\" for this model; expected: ", list);
    }
    seen.insert(name);
  }
  for (auto& [name, dst] : mine) {
    LB_CHECK(seen.count(name), source, ": missing tensor \"", name, "\"");
    for (const auto& [src_name, src] : tensors) {
      if (src_name != name) continue;
      LB_CHECK(src.shape() == dst.shape(), source, ": tensor \"", name, "\" has shape ",
               src.shape(), ", the model expects ", dst.shape());
      dst.copy_(src);
    }
  }
}

std::vector<std::pair<std::string, Rng*>> Module::named_rngs() {
  std::vector<std::pair<std::string, Rng*>> out;
  for (auto& [prefix, m] : named_modules())
    for (auto& [name, r] : m->rngs_) out.emplace_back(join(prefix, name), r);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  // Breadth-first over a growing list would reorder; recurse to keep pre-order.
  for (auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(join(name, sub), m);
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out;
  for (auto& [name, m] : const_cast<Module*>(this)->named_modules()) out.emplace_back(name, m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& p : named_parameters()) n += p.var.numel();
  return n;
}

}  // namespace lowbit
