#include "datasets/registry.h"

#include <mutex>

#include "core/registry.h"
#include "datasets/cifar10.h"
#include "datasets/idx.h"

namespace lowbit {

namespace {
using DatasetRegistry =
    Registry<InMemoryDataset(const std::string&, const std::string&, const ImageFolderOptions&)>;

void register_builtin_datasets(DatasetRegistry& r) {
  r.add("mnist", [](const std::string& root, const std::string& split,
                    const ImageFolderOptions&) { return load_mnist(root, split); });
  r.add("fashion_mnist", [](const std::string& root, const std::string& split,
                            const ImageFolderOptions&) { return load_fashion_mnist(root, split); });
  r.add("cifar10", &load_cifar10);
  r.add("image_folder", [](const std::string& root, const std::string& split,
                           const ImageFolderOptions& o) { return load_image_folder(root, split, o); });
}

DatasetRegistry& registry() {
  static DatasetRegistry r = [] {
    DatasetRegistry reg("dataset");
    register_builtin_datasets(reg);
    return reg;
  }();
  return r;
}
}  // namespace

InMemoryDataset load_dataset(const std::string& name, const std::string& root,
                             const std::string& split, const ImageFolderOptions& options) {
  return registry().make(name, root, split, options);
}

std::string default_data_root(const std::string& name) {
  if (name == "mnist") return "data/mnist";
  if (name == "fashion_mnist") return "data/fashion-mnist";
  if (name == "cifar10") return "data/cifar10";
  return "";
}

std::vector<std::string> dataset_names() { return registry().names(); }

void register_dataset(const std::string& name, DatasetFactory factory) {
  registry().add(name, std::move(factory));
}

}  // namespace lowbit
