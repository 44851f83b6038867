#pragma once
// printf-style formatting of one number into a std::string, for reports and progress lines:
//
//   format_double("%.2f%%", 100 * accuracy)   // "98.39%"
#include <cstdio>
#include <string>

namespace lowbit {

inline std::string format_double(const char* printf_format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, printf_format, value);
  return buf;
}

}  // namespace lowbit
