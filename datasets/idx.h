#pragma once
/// IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/): MNIST and Fashion-MNIST.
///
///   InMemoryDataset test = load_mnist("data/mnist", "test");   // 10000 x (1, 28, 28)
///
/// Each file may be raw or gzip-compressed (name ending in ".gz"). Files are validated
/// (magic number, element type, dimensions, exact size, label range); errors name the file
/// and the byte offset, e.g.
/// `data/mnist/train-images-idx3-ubyte.gz: truncated at byte 1234 (decompressed): expected
/// 47040016 bytes (16-byte header + 60000x28x28 values)`.
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace lowbit {

/// An unsigned-byte IDX array: dims from the header, values after it.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;  ///< product(dims) bytes, row-major
};

/// Reads an unsigned-byte (type 0x08) IDX file, raw or .gz. Throws naming the file.
IdxArray read_idx(const std::string& path);
/// The same from the (decompressed) bytes of an IDX file; `source` names them in errors.
IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& source);

/// Images IDX (N, H, W) + labels IDX (N) -> N examples of (1, H, W). Labels must be below
/// class_names.size().
InMemoryDataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                              std::vector<std::string> class_names);

/// MNIST from `root`: split "train" reads train-{images-idx3,labels-idx1}-ubyte[.gz],
/// "test" reads t10k-*. 60000 / 10000 examples of (1, 28, 28), classes "0".."9".
InMemoryDataset load_mnist(const std::string& root, const std::string& split);
/// Fashion-MNIST from `root` (same file names and sizes as MNIST; classes "t-shirt/top",
/// "trouser", ..., "ankle boot").
InMemoryDataset load_fashion_mnist(const std::string& root, const std::string& split);

}  // namespace lowbit
