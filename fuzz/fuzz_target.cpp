// One libFuzzer harness per parser of outside bytes: this file compiled with
// LB_FUZZ_PARSER="<name>" and LB_FUZZ_TABLE=data_parsers|model_parsers (fuzz/CMakeLists.txt)
// feeds the fuzzer's bytes to that parser (fuzz/data_parsers.cpp, fuzz/model_parsers.cpp). A lowbit::Error is the parser's correct answer to bad bytes and is
// swallowed; anything else (another exception, a sanitizer report, a crash, a hang, an
// allocation beyond -malloc_limit_mb) is a finding. Run with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/check.h"
#include "fuzz/parsers.h"

#ifndef LB_FUZZ_PARSER
#error "compile with -DLB_FUZZ_PARSER=\"<parser name>\""
#endif

static const lowbit::fuzz::Parser& parser = lowbit::fuzz::LB_FUZZ_TABLE().at(LB_FUZZ_PARSER);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    parser(std::vector<uint8_t>(data, data + size));
  } catch (const lowbit::Error&) {
  }
  return 0;
}
