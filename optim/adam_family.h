#pragma once
// Private to optim/ (not in optim.h): what Adam, AdaMax and shift AdaMax share about their
// hyperparameters. Their options structs stay separate, flat aggregates (each has its own
// defaults, and callers write AdaMaxOptions{.lr = 2e-3}, which a common base struct would
// forbid), so these helpers are templates over any struct with the five double fields
// lr, beta1, beta2, eps, weight_decay. The update loops stay in each optimizer's .cpp: they
// are different algorithms, each written against its paper.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/check.h"
#include "core/json_args.h"

namespace lowbit::detail {

/// Reads "lr", "beta1", "beta2" (in [0, 1)), "eps" (> 0) and "weight_decay" over the values
/// already in `o` (its defaults); "name" is allowed, and so is whatever `read_more(a, o)`
/// reads (an optimizer's own options); any other key is an error.
template <class Options, class ReadMore = void (*)(JsonArgs&, Options&)>
Options adam_family_options_from_json(const nlohmann::json& spec, const std::string& path,
                                      Options o,
                                      ReadMore read_more = [](JsonArgs&, Options&) {}) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  o.lr = a.non_negative("lr", o.lr);
  o.beta1 = a.number_in("beta1", 0.0, std::nextafter(1.0, 0.0), o.beta1);
  o.beta2 = a.number_in("beta2", 0.0, std::nextafter(1.0, 0.0), o.beta2);
  o.eps = a.positive("eps", o.eps);
  o.weight_decay = a.non_negative("weight_decay", o.weight_decay);
  read_more(a, o);
  a.finish();
  return o;
}

/// Inverse of adam_family_options_from_json (without "name").
template <class Options>
nlohmann::json adam_family_options_to_json(const Options& o) {
  return {{"lr", o.lr},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay}};
}

/// The constructor checks (lr is checked by Optimizer); messages start with `optimizer`,
/// e.g. "AdaMax: beta1 must be in [0, 1), got 1".
template <class Options>
void check_adam_family_options(std::string_view optimizer, const Options& o) {
  LB_CHECK(o.beta1 >= 0 && o.beta1 < 1, optimizer, ": beta1 must be in [0, 1), got ", o.beta1);
  LB_CHECK(o.beta2 >= 0 && o.beta2 < 1, optimizer, ": beta2 must be in [0, 1), got ", o.beta2);
  LB_CHECK(o.eps > 0, optimizer, ": eps must be > 0, got ", o.eps);
  LB_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, optimizer,
           ": weight_decay must be >= 0, got ", o.weight_decay);
}

}  // namespace lowbit::detail
