// Data set and transform registries: every registered name is built from its spec, declares
// what it must, and round-trips through its resolved JSON; errors name the JSON path.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "datasets/registry.h"
#include "datasets/transforms.h"
#include "fixtures.h"
#include "tests/support/error_of.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;
using nlohmann::json;

namespace {

// Options a registered name cannot do without. The sweeps build every registered name from
// {"name": name} merged with these: a new entry that needs options must be added here (the
// sweep fails on it otherwise).
const std::map<std::string, json>& required_dataset_options() {
  static const std::map<std::string, json> m = {
      {"image_folder", {{"image_shape", {3, 3, 4}}, {"num_classes", 2}, {"verbose", false}}}};
  return m;
}
const std::map<std::string, json>& required_transform_options() {
  static const std::map<std::string, json> m = {
      {"normalize", {{"mean", {0.5}}, {"std", {0.25}}}}};
  return m;
}

json spec_of(const std::string& key, const std::string& name,
             const std::map<std::string, json>& required) {
  json spec = {{key, name}};
  if (auto it = required.find(name); it != required.end()) spec.update(it->second);
  return spec;
}

// Two classes of 4x3 RGB PNGs under <dir>/train.
void write_folder(const test::TempDir& dir) {
  const std::vector<uint8_t> pixels(4 * 3 * 3, 7);
  for (const char* cls : {"ant", "bird"})
    for (int i = 0; i < 2; ++i)
      test::write_image(dir / ("train/" + std::string(cls) + "/" + std::to_string(i) + ".png"), 4,
                        3, 3, pixels);
}

}  // namespace

TEST_CASE("dataset registry sweep: each data set declares its shape and classes without data") {
  const std::vector<std::string> names = dataset_names();
  REQUIRE(!names.empty());
  for (const std::string& name : names) {
    CAPTURE(name);
    const json spec = spec_of("name", name, required_dataset_options());
    DatasetSourcePtr source;
    CHECK_NOTHROW(source = make_dataset(spec, "data.dataset"));
    if (!source) continue;
    CHECK(source->name() == name);
    const Shape shape = source->image_shape();
    REQUIRE(shape.size() == 3);
    CHECK((shape[0] == 1 || shape[0] == 3));
    CHECK(shape[1] > 0);
    CHECK(shape[2] > 0);
    CHECK(source->num_classes() > 1);
    // Resolved form: rebuilds the same data set, and is its own fixed point.
    const json resolved = dataset_to_json(*source);
    const DatasetSourcePtr again = make_dataset(resolved, "data.dataset");
    CHECK(again->name() == name);
    CHECK(again->image_shape() == shape);
    CHECK(again->num_classes() == source->num_classes());
    CHECK(dataset_to_json(*again) == resolved);
    // Unknown options are rejected with their path.
    json bad = spec;
    bad["colour"] = true;
    CHECK(contains(error_of([&] { make_dataset(bad, "data.dataset"); }),
                   "data.dataset.colour: unknown key"));
  }
}

TEST_CASE("dataset registry: built-in declarations, default roots and unknown names") {
  CHECK(make_dataset("mnist")->image_shape() == Shape{1, 28, 28});
  CHECK(make_dataset("cifar10")->image_shape() == Shape{3, 32, 32});
  CHECK(make_dataset("fashion_mnist")->num_classes() == 10);
  CHECK(default_data_root("fashion_mnist") == "data/fashion-mnist");
  CHECK(default_data_root("mnist") == "data/mnist");
  // Published split sizes, for checks before any file is read; image_folder has none.
  for (const char* name : {"mnist", "fashion_mnist"}) {
    CHECK(make_dataset(name)->declared_size("train") == 60000);
    CHECK(make_dataset(name)->declared_size("test") == 10000);
  }
  CHECK(make_dataset("cifar10")->declared_size("train") == 50000);
  CHECK(make_dataset("cifar10")->declared_size("test") == 10000);
  CHECK_FALSE(make_dataset("mnist")->declared_size("validation").has_value());
  CHECK_FALSE(make_dataset(json{{"name", "image_folder"}, {"image_shape", {3, 4, 4}},
                                {"num_classes", 2}})
                  ->declared_size("train")
                  .has_value());
  CHECK(dataset_to_json(*make_dataset(json{{"name", "cifar10"}})) == "cifar10");
  const std::string msg = error_of([] { load_dataset("fashion_mnst", "x", "train"); });
  CHECK(contains(msg, "unknown dataset \"fashion_mnst\" (did you mean \"fashion_mnist\"?)"));
  CHECK(contains(msg, "known: cifar10, fashion_mnist, image_folder, mnist"));
  CHECK(contains(error_of([] { make_dataset(json{{"name", "image_folder"}}, "data.dataset"); }),
                 "data.dataset.image_shape: missing required key"));
  CHECK(contains(error_of([] {
                   make_dataset(json{{"name", "image_folder"}, {"image_shape", {2, 3, 4}},
                                     {"num_classes", 2}},
                                "data.dataset");
                 }),
                 "data.dataset.image_shape: expected [channels, height, width] with 1 or 3 "
                 "channels"));
}

TEST_CASE("dataset registry: image_folder loads what it declares, else names the root") {
  test::TempDir dir;
  write_folder(dir);
  json spec = required_dataset_options().at("image_folder");
  spec["name"] = "image_folder";
  spec["cache"] = false;
  const DatasetSourcePtr folder = make_dataset(spec, "data.dataset");
  const InMemoryDataset d = folder->load(dir.path(), "train");
  CHECK(d.size() == 4);
  CHECK(d.image_shape() == Shape{3, 3, 4});
  CHECK_FALSE(std::filesystem::exists(dir / "train.lowbit-cache"));  // "cache": false

  spec["num_classes"] = 3;
  CHECK(contains(error_of([&] { make_dataset(spec)->load(dir.path(), "train"); }),
                 dir.path() + ": image_folder train has 2 classes, but the data set declares 3"));
  spec["num_classes"] = 2;
  spec["image_shape"] = {3, 4, 4};
  CHECK(contains(error_of([&] { make_dataset(spec)->load(dir.path(), "train"); }),
                 "images have shape (3, 3, 4), but the data set declares (3, 4, 4)"));
}

TEST_CASE("transform registry sweep: every transform builds from its spec and round-trips") {
  const std::vector<std::string> names = transform_names();
  REQUIRE(!names.empty());
  for (const std::string& name : names) {
    CAPTURE(name);
    const json spec = spec_of("type", name, required_transform_options());
    Transform t;
    CHECK_NOTHROW(t = make_transform(spec, "data.transforms[0]"));
    CHECK(t.name() == name);
    const json resolved = transform_to_json(t);
    CHECK(resolved.at("type") == name);
    CHECK(transform_to_json(make_transform(resolved, "data.transforms[0]")) == resolved);
    // Every transform applies to an RGB image.
    CHECK_NOTHROW(TransformPipeline({t}, {3, 8, 8}));
    json bad = spec;
    bad["strength"] = 1;
    CHECK(contains(error_of([&] { make_transform(bad, "data.transforms[0]"); }),
                   "data.transforms[0].strength: unknown key"));
  }
}

TEST_CASE("transform registry: names, defaults and errors with the JSON path") {
  // A bare name takes the defaults.
  CHECK(transform_to_json(make_transform("horizontal_flip", "t")) ==
        json{{"type", "horizontal_flip"}, {"p", 0.5}});
  CHECK(transform_to_json(make_transform("scale", "t")) == json{{"type", "scale"}, {"range", {0, 1}}});
  // Floats are written back as the shortest decimal that reads as the same float.
  const Transform n = make_transform(
      json{{"type", "normalize"}, {"mean", {0.4914, 0.4822, 0.4465}}, {"std", {0.247, 0.2435, 0.2616}}},
      "t");
  CHECK(transform_to_json(n).at("mean") == json{0.4914, 0.4822, 0.4465});
  const TransformList list = make_transforms(
      json::parse(R"([{"type": "random_crop", "padding": 4}, "horizontal_flip"])"), "data.transforms");
  REQUIRE(list.size() == 2);
  CHECK(transforms_to_json(list)[0] == json{{"type", "random_crop"}, {"padding", 4}, {"size", 0}});
  CHECK(make_transforms(nullptr, "data.transforms").empty());

  CHECK(contains(error_of([] { make_transform(json{{"type", "scale"}, {"range", {1, 0}}}, "data.transforms[0]"); }),
                 "data.transforms[0].range: expected [lo, hi] with lo < hi"));
  CHECK(contains(error_of([] { make_transform(json{{"type", "random_crp"}}, "data.transforms[1]"); }),
                 "data.transforms[1].type: unknown transform \"random_crp\" (did you mean "
                 "\"random_crop\"?); known: horizontal_flip, normalize, random_crop, scale"));
  CHECK(contains(error_of([] { make_transform(json{{"type", "normalize"}, {"mean", {0.5}}, {"std", {0}}}, "t"); }),
                 "t.std[0]: every std must be > 0"));
  CHECK(contains(error_of([] { make_transforms(json{{"type", "scale"}}, "data.transforms"); }),
                 "data.transforms: expected a list of transforms"));
}
