#pragma once
// The message of the lowbit::Error thrown by fn, or "(no error)".
#include <string>

#include "core/check.h"

namespace lowbit::test {
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace lowbit::test
