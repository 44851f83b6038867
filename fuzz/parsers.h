#pragma once
// Every parser of outside bytes by target name, shared by the fuzz harnesses (fuzz/) and the
// regression replay (tests/fuzz_corpus/, tests/fuzz/fuzz_replay_test.cpp), so both run the
// same code on an input. Each throws lowbit::Error for bad bytes; anything else is a bug.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace lowbit::fuzz {

using Parser = std::function<void(const std::vector<uint8_t>& bytes)>;

/// "idx", "idx_gz", "cifar10", "image", "safetensors" (fuzz/data_parsers.cpp: core and
/// datasets only).
const std::map<std::string, Parser>& data_parsers();
/// "config", "checkpoint", "packed", "compressed" (fuzz/model_parsers.cpp).
const std::map<std::string, Parser>& model_parsers();
/// Both tables (fuzz/parsers.cpp).
const std::map<std::string, Parser>& parsers();

}  // namespace lowbit::fuzz
