#pragma once
/// Data sets by name, for configs (data.dataset): each registered data set is one
/// DatasetSource, built from its spec without reading a file. It declares the image shape,
/// the number of classes, the default root and, for the published sets, the size of each
/// split, so a whole experiment is built and validated before any data is read (or
/// cached), and it loads splits on demand.
///
///   DatasetSourcePtr mnist = make_dataset("mnist");            // (1, 28, 28), 10 classes
///   mnist->declared_size("train")                              // 60000
///   InMemoryDataset train = mnist->load(mnist->default_root(), "train");
///   DatasetSourcePtr folder = make_dataset(json::parse(R"({"name": "image_folder",
///       "image_shape": [3, 32, 32], "num_classes": 10})"), "data.dataset");
///
/// Specs: a name ("cifar10") or {"name": ..., options}; unknown names and options throw
/// with the JSON path and the valid choices (core/registry.h). Built-ins (mnist,
/// fashion_mnist, cifar10, image_folder) are listed in datasets/registry.cpp, one line each.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>  // callers pass names as specs: load_dataset("mnist", ...)
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/dataset.h"

namespace lowbit {

class DatasetSource {
 public:
  virtual ~DatasetSource() = default;
  /// The registered name.
  virtual std::string_view name() const = 0;
  /// Where scripts/get_data.sh puts it, relative to the repository root ("data/mnist");
  /// "" when a config must give data.root.
  virtual std::string default_root() const = 0;
  /// (C, H, W) of every image, as declared (no file is read).
  virtual Shape image_shape() const = 0;
  /// Number of classes, as declared.
  virtual int64_t num_classes() const = 0;
  /// Examples in split "train" or "test" as published (MNIST: 60,000 and 10,000), so
  /// train.batch_size and data.validation are checked before any file is read; nullopt when
  /// only reading tells (image_folder). load() rejects files holding more; smaller copies
  /// (test fixtures) load, and are checked again once read.
  virtual std::optional<int64_t> declared_size(const std::string& split) const;
  /// Options with defaults filled in ({} when it has none); {"name": name(), ...config()}
  /// rebuilds it.
  virtual nlohmann::json config() const;

  /// Reads split "train" or "test" under `root`; throws naming `root` when the images or
  /// classes found differ from the declared ones, or there are more examples than declared.
  InMemoryDataset load(const std::string& root, const std::string& split) const;

 protected:
  virtual InMemoryDataset read(const std::string& root, const std::string& split) const = 0;
};

using DatasetSourcePtr = std::shared_ptr<const DatasetSource>;

/// Builds a DatasetSource from its spec object ({"name": ..., options}); must reject
/// unknown options (JsonArgs::finish with "name" allowed). `path`: the spec's JSON path.
using DatasetFactory =
    std::function<DatasetSourcePtr(const nlohmann::json& spec, const std::string& path)>;

/// spec: a name or {"name": ..., options}; errors start with `path`.
DatasetSourcePtr make_dataset(const nlohmann::json& spec,
                              const std::string& path = "data.dataset");
/// The name alone when there are no options, else {"name": ..., ...config()}.
nlohmann::json dataset_to_json(const DatasetSource& source);

/// make_dataset(spec)->load(root, split), for callers without a built source.
InMemoryDataset load_dataset(const nlohmann::json& spec, const std::string& root,
                             const std::string& split);

/// make_dataset(spec)->default_root().
std::string default_data_root(const nlohmann::json& spec);

/// Sorted names of the registered data sets (tests sweep them).
std::vector<std::string> dataset_names();

/// Adds a data set (throws on a duplicate name).
void register_dataset(const std::string& name, DatasetFactory factory);

}  // namespace lowbit
