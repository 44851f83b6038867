#include "datasets/registry.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/registry.h"
#include "datasets/cifar10.h"
#include "datasets/idx.h"
#include "datasets/image_folder.h"

namespace lowbit {

using nlohmann::json;

nlohmann::json DatasetSource::config() const { return json::object(); }

std::optional<int64_t> DatasetSource::declared_size(const std::string&) const { return std::nullopt; }

InMemoryDataset DatasetSource::load(const std::string& root, const std::string& split) const {
  InMemoryDataset data = read(root, split);
  LB_CHECK(data.image_shape() == image_shape(), root, ": ", name(), " ", split,
           " images have shape ", data.image_shape(), ", but the data set declares ",
           image_shape());
  LB_CHECK(data.num_classes() == num_classes(), root, ": ", name(), " ", split, " has ",
           data.num_classes(), " classes, but the data set declares ", num_classes());
  // Configs were checked against the declared size before reading (experiment/config.cpp).
  if (const std::optional<int64_t> declared = declared_size(split))
    LB_CHECK(data.size() <= *declared, root, ": ", name(), " ", split, " holds ", data.size(),
             " examples, more than the ", *declared, " the data set declares");
  return data;
}

namespace {

/// Examples in the published train and test splits.
struct SplitSizes {
  int64_t train = 0, test = 0;
};

/// A data set of fixed shape, classes and size with no options: MNIST, Fashion-MNIST,
/// CIFAR-10.
class FixedDataset final : public DatasetSource {
 public:
  using Loader = InMemoryDataset (*)(const std::string& root, const std::string& split);
  FixedDataset(std::string name, std::string default_root, Shape shape, int64_t classes,
               SplitSizes sizes, Loader loader)
      : name_(std::move(name)), root_(std::move(default_root)), shape_(std::move(shape)),
        classes_(classes), sizes_(sizes), loader_(loader) {}

  std::string_view name() const override { return name_; }
  std::string default_root() const override { return root_; }
  Shape image_shape() const override { return shape_; }
  int64_t num_classes() const override { return classes_; }
  std::optional<int64_t> declared_size(const std::string& split) const override {
    if (split == "train") return sizes_.train;
    if (split == "test") return sizes_.test;
    return std::nullopt;
  }

 protected:
  InMemoryDataset read(const std::string& root, const std::string& split) const override {
    return loader_(root, split);
  }

 private:
  std::string name_, root_;
  Shape shape_;
  int64_t classes_;
  SplitSizes sizes_;
  Loader loader_;
};

/// Registers a FixedDataset: its spec takes no options.
DatasetFactory fixed(std::string name, std::string default_root, Shape shape, int64_t classes,
                     SplitSizes sizes, FixedDataset::Loader loader) {
  auto source = std::make_shared<const FixedDataset>(name, std::move(default_root),
                                                     std::move(shape), classes, sizes, loader);
  return [source](const json& spec, const std::string& path) -> DatasetSourcePtr {
    JsonArgs a(spec, path);
    a.allow({"name"});
    a.finish();
    return source;
  };
}

InMemoryDataset cifar10(const std::string& root, const std::string& split) {
  return load_cifar10(root, split);
}

/// `<root>/<split>/<class>/*.png|jpg|...` (datasets/image_folder.h). Its shape and classes
/// cannot be known without reading, so the config declares them and load() checks them.
class ImageFolderDataset final : public DatasetSource {
 public:
  static DatasetSourcePtr from_json(const json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    auto d = std::make_shared<ImageFolderDataset>();
    const std::vector<int64_t> shape = a.int_list("image_shape", 1);
    if (shape.size() != 3 || (shape[0] != 1 && shape[0] != 3))
      json_fail(a.path_of("image_shape"),
                "expected [channels, height, width] with 1 or 3 channels, got " +
                    json_brief(spec.at("image_shape")));
    d->shape_ = Shape(shape.begin(), shape.end());
    d->classes_ = a.positive_int("num_classes");
    d->options_.use_cache = a.boolean("cache", true);
    d->options_.verbose = a.boolean("verbose", true);
    d->options_.channels = static_cast<int>(shape[0]);
    a.finish();
    return d;
  }

  std::string_view name() const override { return "image_folder"; }
  std::string default_root() const override { return ""; }
  Shape image_shape() const override { return shape_; }
  int64_t num_classes() const override { return classes_; }
  json config() const override {
    return {{"image_shape", shape_}, {"num_classes", classes_}, {"cache", options_.use_cache},
            {"verbose", options_.verbose}};
  }

 protected:
  InMemoryDataset read(const std::string& root, const std::string& split) const override {
    return load_image_folder(root, split, options_);
  }

 private:
  Shape shape_;
  int64_t classes_ = 0;
  ImageFolderOptions options_;
};

using DatasetRegistry = Registry<DatasetSourcePtr(const json&, const std::string&)>;

DatasetRegistry& registry() {
  static DatasetRegistry r = [] {
    DatasetRegistry reg("dataset");
    reg.add("mnist", fixed("mnist", "data/mnist", {1, 28, 28}, 10, {60000, 10000}, &load_mnist));
    reg.add("fashion_mnist", fixed("fashion_mnist", "data/fashion-mnist", {1, 28, 28}, 10,
                                   {60000, 10000}, &load_fashion_mnist));
    // The binary batches and the JPEG folder (datasets/cifar10.h) hold the same images.
    reg.add("cifar10", fixed("cifar10", "data/cifar10", {3, 32, 32}, 10, {50000, 10000}, &cifar10));
    reg.add("image_folder", &ImageFolderDataset::from_json);
    return reg;
  }();
  return r;
}

}  // namespace

DatasetSourcePtr make_dataset(const json& spec, const std::string& path) {
  const auto [name, obj] = registry().resolve(spec, path);
  return registry().make(name, obj, path);
}

json dataset_to_json(const DatasetSource& source) {
  return name_or_spec(std::string(source.name()), source.config());
}

InMemoryDataset load_dataset(const json& spec, const std::string& root,
                             const std::string& split) {
  return make_dataset(spec, "dataset")->load(root, split);
}

std::string default_data_root(const json& spec) {
  return make_dataset(spec, "dataset")->default_root();
}

std::vector<std::string> dataset_names() { return registry().names(); }

void register_dataset(const std::string& name, DatasetFactory factory) {
  registry().add(name, std::move(factory));
}

}  // namespace lowbit
