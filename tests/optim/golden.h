#pragma once
// Loads tests/reference/optim_golden.json (written by tests/reference/gen_optim_reference.py).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/check.h"

namespace lowbit::testing {

inline const nlohmann::json& optim_golden() {
  static const nlohmann::json golden = [] {
    const std::string rel = "tests/reference/optim_golden.json";
    std::string path = rel;
    if (!std::filesystem::exists(path)) path = std::string(LB_SOURCE_DIR) + "/" + rel;
    std::ifstream in(path);
    LB_CHECK(in.good(), "cannot open ", rel,
             " (run the tests from the repository root, or "
             "regenerate it with /usr/bin/python3 tests/reference/gen_optim_reference.py)");
    return nlohmann::json::parse(in);
  }();
  return golden;
}

}  // namespace lowbit::testing
