// The regression corpus: every file in tests/fuzz_corpus/<parser>/ once crashed a parser (or
// made it allocate without bound, hang, or throw something other than lowbit::Error) under
// scripts/fuzz.sh. Each must now give a clean lowbit::Error or parse.
#include <doctest/doctest.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/check.h"
#include "fuzz/parsers.h"

namespace fs = std::filesystem;

TEST_CASE("fuzz corpus: every input that found a bug now parses or fails with lowbit::Error") {
  const fs::path root = "tests/fuzz_corpus";  // ctest runs in the source folder
  REQUIRE(fs::is_directory(root));
  int replayed = 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory()) continue;
    const std::string name = dir.path().filename().string();
    INFO("parser folder: " << name);
    REQUIRE(lowbit::fuzz::parsers().count(name) == 1);  // folders are named after parsers
    const auto& parse = lowbit::fuzz::parsers().at(name);
    for (const auto& file : fs::directory_iterator(dir.path())) {
      std::ifstream in(file.path(), std::ios::binary);
      const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      std::string outcome = "parsed";
      try {
        parse(bytes);
      } catch (const lowbit::Error&) {
        outcome = "lowbit::Error";
      } catch (const std::exception& e) {
        outcome = std::string("other exception: ") + e.what();
      }
      INFO(file.path().string() << ": " << outcome);
      CHECK((outcome == "parsed" || outcome == "lowbit::Error"));
      ++replayed;
    }
  }
  MESSAGE(replayed << " inputs replayed");
  CHECK(replayed > 0);
}
