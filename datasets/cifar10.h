#pragma once
/// CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html), from the official binary batches
/// or from the JPEG folder layout.
///
///   InMemoryDataset train = load_cifar10("data/cifar10", "train");   // 50000 x (3, 32, 32)
///
/// Binary layout: `cifar-10-batches-bin/data_batch_{1..5}.bin` (train) and `test_batch.bin`
/// (test); each file is 10000 records of 3073 bytes: 1 label byte, then 1024 red, 1024 green
/// and 1024 blue bytes (row-major 32x32), i.e. already (C, H, W).
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "datasets/image_folder.h"

namespace lowbit {

/// The ten CIFAR-10 class names in label order ("airplane", ..., "truck"); they are also
/// alphabetical, so the JPEG folder layout gives the same labels.
const std::vector<std::string>& cifar10_class_names();

/// Reads CIFAR-10 binary batch files (3073-byte records) in the given order. Throws naming
/// the file and byte offset for a size that is not a whole number of records or a label > 9.
InMemoryDataset load_cifar10_batches(const std::vector<std::string>& paths);
/// One batch file's bytes; `source` names them in errors.
InMemoryDataset parse_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& source);

/// CIFAR-10 from `root`, split "train" (50000) or "test" (10000). Looks in order for
///   <root>/cifar-10-batches-bin/*.bin, <root>/*.bin       (official binary batches)
///   <root>/cifar10-jpeg/<split>/<class>/*.jpg, <root>/<split>/<class>/*.jpg  (image folder,
///                                                          cached: see load_image_folder)
/// and throws with the paths it tried and how to get the data when none is there.
InMemoryDataset load_cifar10(const std::string& root, const std::string& split,
                             const ImageFolderOptions& options = {});

}  // namespace lowbit
