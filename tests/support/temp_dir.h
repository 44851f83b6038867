#pragma once
// A fresh directory under the system temp dir, removed with its contents on destruction.
//
//   TempDir tmp;
//   write_file(tmp / "a/b.bin", bytes);   // tmp / "x" is the path of x inside it
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace lowbit::testing {

class TempDir {
 public:
  TempDir() {
    static int counter = 0;  // several per process (and per test case) stay apart
    path_ = (std::filesystem::temp_directory_path() /
             ("lowbit_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
                .string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

/// Writes `text` to `path`, creating its parent folders (test fixtures: configs, run files).
inline void write_text_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace lowbit::testing
