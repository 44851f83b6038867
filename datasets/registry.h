#pragma once
/// Data sets by name, for configs: "mnist", "fashion_mnist", "cifar10", "image_folder".
///
///   InMemoryDataset train = load_dataset("cifar10", "data/cifar10", "train");
///   InMemoryDataset test  = load_dataset("mnist", default_data_root("mnist"), "test");
#include <functional>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "datasets/image_folder.h"

namespace lowbit {

using DatasetFactory = std::function<InMemoryDataset(
    const std::string& root, const std::string& split, const ImageFolderOptions& options)>;

/// Loads data set `name` from `root`, split "train" or "test" ("image_folder" takes any
/// split folder name). `options` applies to image folders (cache, channels, verbosity).
/// Unknown name -> lowbit::Error listing the known names.
InMemoryDataset load_dataset(const std::string& name, const std::string& root,
                             const std::string& split, const ImageFolderOptions& options = {});

/// Where scripts/get_data.sh puts data set `name`, relative to the repository root:
/// "data/mnist", "data/fashion-mnist", "data/cifar10"; "" for image_folder.
std::string default_data_root(const std::string& name);

/// Sorted names of the known data sets.
std::vector<std::string> dataset_names();

/// Adds a data set (throws on a duplicate name).
void register_dataset(const std::string& name, DatasetFactory factory);

}  // namespace lowbit
