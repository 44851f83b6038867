#include "fuzz/parsers.h"

namespace lowbit::fuzz {

const std::map<std::string, Parser>& parsers() {
  static const std::map<std::string, Parser> all = [] {
    std::map<std::string, Parser> m = data_parsers();
    for (const auto& [name, p] : model_parsers()) m.emplace(name, p);
    return m;
  }();
  return all;
}

}  // namespace lowbit::fuzz
