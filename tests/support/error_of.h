#pragma once
// The message of the lowbit::Error thrown by fn, or "(no error)"; and a substring test for it.
//
//   CHECK(contains(error_of([&] { read_idx(path); }), "truncated"));
#include <string>

#include "core/check.h"

namespace lowbit::testing {

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

}  // namespace lowbit::testing
