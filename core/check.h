#pragma once
/// Errors and argument checks.
///
/// Library code never exits on a user error: it throws `lowbit::Error` whose message starts
/// with the op or function name, shows the offending shapes or values and, where there is
/// one, the fix.
///
///   LB_CHECK(a.dim() == 2, "matmul: expected a 2-D left operand, got ", a.shape());
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lowbit {

// Declared here (defined in tensor.cpp, also declared in tensor.h) so that LB_CHECK can print
// shapes whatever the include order: detail::concat is a template in namespace lowbit::detail,
// and argument-dependent lookup for std::vector finds only namespace std.
using Shape = std::vector<int64_t>;
std::ostream& operator<<(std::ostream& os, const Shape& shape);

/// The one exception type for user-facing errors (bad shapes, bad configs, bad files).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace detail

}  // namespace lowbit

/// Throws lowbit::Error with the concatenated message parts when `cond` is false.
#define LB_CHECK(cond, ...)                                              \
  do {                                                                   \
    if (!(cond)) throw ::lowbit::Error(::lowbit::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Throws lowbit::Error unconditionally.
#define LB_FAIL(...) throw ::lowbit::Error(::lowbit::detail::concat(__VA_ARGS__))

/// Internal invariant (not a user error); compiled out in Release.
#ifdef NDEBUG
#define LB_ASSERT(cond) ((void)0)
#else
#include <cassert>
#define LB_ASSERT(cond) assert(cond)
#endif
