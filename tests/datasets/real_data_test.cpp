// The real data sets, when scripts/get_data.sh has fetched them (CI's setup does). Runs from
// the repository root (ctest's working directory).
#include <doctest/doctest.h>

#include <filesystem>

#include "datasets/idx.h"

using namespace lowbit;

namespace {
void check_mnist_like(const InMemoryDataset& train, const InMemoryDataset& test, int first_train,
                      int first_test) {
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.image_shape() == Shape{1, 28, 28});
  CHECK(train.label(0) == first_train);
  CHECK(test.label(0) == first_test);
  std::vector<int> count(10);
  for (int64_t i = 0; i < train.size(); ++i) ++count[static_cast<size_t>(train.label(i))];
  for (int c : count) CHECK(c > 5000);
}
}  // namespace

TEST_CASE("real MNIST (data/mnist) loads with 60000 / 10000 examples") {
  if (!std::filesystem::exists("data/mnist")) {
    MESSAGE("skipped: data/mnist is absent; run scripts/get_data.sh to fetch it");
    return;
  }
  check_mnist_like(load_mnist("data/mnist", "train"), load_mnist("data/mnist", "test"), 5, 7);
}

TEST_CASE("real Fashion-MNIST (data/fashion-mnist) loads with 60000 / 10000 examples") {
  if (!std::filesystem::exists("data/fashion-mnist")) {
    MESSAGE("skipped: data/fashion-mnist is absent; run scripts/get_data.sh to fetch it");
    return;
  }
  check_mnist_like(load_fashion_mnist("data/fashion-mnist", "train"),
                   load_fashion_mnist("data/fashion-mnist", "test"), 9, 9);
}
