#include <doctest/doctest.h>

#include "datasets/dataset.h"
#include "tests/support/error_of.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;

namespace {
InMemoryDataset make(int64_t n) {
  std::vector<uint8_t> px;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    px.push_back(static_cast<uint8_t>(i));
    px.push_back(static_cast<uint8_t>(2 * i));
    labels.push_back(static_cast<int32_t>(i % 2));
  }
  return InMemoryDataset(std::move(px), std::move(labels), {2, 1, 1}, {"even", "odd"});
}
}  // namespace

TEST_CASE("InMemoryDataset: get returns (C, H, W) raw pixel values and the label") {
  const InMemoryDataset d = make(6);
  CHECK(d.size() == 6);
  CHECK(d.num_classes() == 2);
  const Example e = d.get(4);
  CHECK(e.image.shape() == Shape{2, 1, 1});
  CHECK(e.image.to_vector() == std::vector<float>{4, 8});
  CHECK(e.label == 0);
  CHECK(contains(error_of([&] { d.get(6); }), "index 6 out of range [0, 6)"));
}

TEST_CASE("InMemoryDataset: construction checks sizes and labels") {
  CHECK(contains(error_of([] { InMemoryDataset({1, 2, 3}, {0, 1}, {1, 1, 1}, {"a", "b"}); }),
                 "3 pixel bytes for 2 labels"));
  CHECK(contains(error_of([] { InMemoryDataset({1, 2}, {0, 2}, {1, 1, 1}, {"a", "b"}); }),
                 "label 2 of example 1 is outside [0, 2)"));
  CHECK(contains(error_of([] { InMemoryDataset({1}, {0}, {1, 1}, {"a"}); }), "(C, H, W)"));
}

TEST_CASE("train_val_split: the validation set is the fixed tail; both share the buffer") {
  const InMemoryDataset d = make(10);
  const auto [train, val] = train_val_split(d, 3);
  CHECK(train.size() == 7);
  CHECK(val.size() == 3);
  CHECK(train.get(6).image.to_vector() == std::vector<float>{6, 12});
  CHECK(val.get(0).image.to_vector() == std::vector<float>{7, 14});
  CHECK(val.label(2) == 1);  // example 9
  CHECK(val.pixels(0) == d.pixels(7));
  CHECK(val.slice(1, 3).get(1).image.to_vector() == std::vector<float>{9, 18});
  CHECK(train_val_split(d, 0).val.size() == 0);
  CHECK(contains(error_of([&] { train_val_split(d, 10); }), "val_size must be in [0, 10)"));
  CHECK(contains(error_of([&] { d.slice(4, 11); }), "range [4, 11)"));
}
