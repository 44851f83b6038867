#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "core/threads.h"
#include "datasets/data_loader.h"
#include "tests/support/error_of.h"

using namespace lowbit;
using lowbit::testing::contains;
using lowbit::testing::error_of;

namespace {
// n images of (c, h, w); example i has every pixel of channel k = (i + 13k) % 256, label i % 3.
InMemoryDataset make_dataset(int64_t n, int64_t c = 1, int64_t h = 1, int64_t w = 2) {
  std::vector<uint8_t> px;
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < c; ++k)
      for (int64_t j = 0; j < h * w; ++j) px.push_back(static_cast<uint8_t>((i + 13 * k) % 256));
    labels.push_back(static_cast<int32_t>(i % 3));
  }
  return InMemoryDataset(std::move(px), std::move(labels), {c, h, w}, {"a", "b", "c"});
}

std::vector<int64_t> epoch_indices(const DataLoader& loader) {
  std::vector<int64_t> all;
  for (const Batch& b : loader) all.insert(all.end(), b.indices.begin(), b.indices.end());
  return all;
}

bool same_batches(const DataLoader& a, const DataLoader& b) {
  if (a.num_batches() != b.num_batches()) return false;
  for (int64_t k = 0; k < a.num_batches(); ++k) {
    const Batch x = a.batch(k), y = b.batch(k);
    if (x.indices != y.indices || x.images.to_vector() != y.images.to_vector() ||
        x.labels.to_vector() != y.labels.to_vector())
      return false;
  }
  return true;
}

// The same data behind the generic Dataset interface (no fast path).
class Generic final : public Dataset {
 public:
  explicit Generic(InMemoryDataset d) : d_(std::move(d)) {}
  int64_t size() const override { return d_.size(); }
  Example get(int64_t i) const override { return d_.get(i); }
  Shape image_shape() const override { return d_.image_shape(); }
  int64_t num_classes() const override { return d_.num_classes(); }

 private:
  InMemoryDataset d_;
};
}  // namespace

TEST_CASE("DataLoader: batches are (B, C, H, W) + (B) labels; each epoch covers every example once") {
  const InMemoryDataset d = make_dataset(10);
  DataLoader loader(d, {}, {.batch_size = 3, .seed = 7});
  CHECK(loader.num_batches() == 4);
  CHECK(loader.num_examples() == 10);
  for (int64_t epoch : {0, 1, 5}) {
    loader.set_epoch(epoch);
    std::vector<int64_t> seen;
    for (const Batch& b : loader) {
      const auto rows = static_cast<int64_t>(b.indices.size());
      CHECK(b.images.shape() == Shape{rows, 1, 1, 2});
      CHECK(b.labels.shape() == Shape{rows});
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = b.indices[static_cast<size_t>(r)];
        CHECK(b.images.at({r, 0, 0, 1}) == static_cast<float>(i));  // the row is example i
        CHECK(b.labels.at({r}) == static_cast<float>(i % 3));
      }
      seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    }
    CHECK(seen.size() == 10);
    std::sort(seen.begin(), seen.end());
    for (int64_t i = 0; i < 10; ++i) CHECK(seen[static_cast<size_t>(i)] == i);
  }
  CHECK(loader.batch(3).indices.size() == 1);  // the last, short batch
}

TEST_CASE("DataLoader: drop_last drops the short batch; shuffle = false keeps dataset order") {
  const InMemoryDataset d = make_dataset(10);
  DataLoader dropped(d, {}, {.batch_size = 3, .drop_last = true, .seed = 7});
  CHECK(dropped.num_batches() == 3);
  CHECK(dropped.num_examples() == 9);
  CHECK(epoch_indices(dropped).size() == 9);
  DataLoader ordered(d, {}, {.batch_size = 4, .shuffle = false});
  ordered.set_epoch(3);
  CHECK(epoch_indices(ordered) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("DataLoader: the order is a function of (seed, epoch): reproducible and resumable") {
  const InMemoryDataset d = make_dataset(50);
  const TransformList aug = {transforms::random_crop(1), transforms::horizontal_flip()};
  DataLoader a(d, aug, {.batch_size = 8, .seed = 42});
  DataLoader b(d, aug, {.batch_size = 8, .seed = 42});
  DataLoader other_seed(d, aug, {.batch_size = 8, .seed = 43});
  CHECK(same_batches(a, b));
  CHECK(epoch_indices(a) != epoch_indices(other_seed));
  const auto epoch0 = epoch_indices(a);
  a.set_epoch(1);
  CHECK(epoch_indices(a) != epoch0);
  // Resume: a fresh loader set to epoch 3 sees what a loader that went through 0..3 sees.
  for (int64_t e = 0; e <= 3; ++e) a.set_epoch(e);
  b.set_epoch(3);
  CHECK(same_batches(a, b));
  CHECK(a.order() == DataLoader::epoch_order(50, 42, 3, true));
  // Augmentation is drawn per example: different epochs crop the same example differently.
  a.set_epoch(0);
  DataLoader c(d, aug, {.batch_size = 8, .seed = 42});
  c.set_epoch(0);
  CHECK(same_batches(a, c));
}

TEST_CASE("DataLoader: batches do not depend on the thread count") {
  const InMemoryDataset d = make_dataset(64, 3, 16, 16);  // 64 * 768 values: parallel
  const TransformList aug = {transforms::random_crop(4), transforms::horizontal_flip(),
                             transforms::scale(0, 1), transforms::normalize({0.5f}, {0.25f})};
  const int saved = num_threads();
  set_num_threads(1);
  DataLoader one(d, aug, {.batch_size = 64, .seed = 3});
  const Batch x = one.batch(0);
  set_num_threads(2);
  const Batch y = one.batch(0);
  set_num_threads(saved);
  CHECK(x.images.to_vector() == y.images.to_vector());
  // Evaluation mode is deterministic: no crop offset, no flip -> the scaled, normalised image.
  DataLoader eval(d, aug, {.batch_size = 64, .shuffle = false, .augment = false});
  const Batch e = eval.batch(0);
  CHECK(e.images.at({5, 2, 7, 9}) == doctest::Approx(((5 + 26) / 255.f - 0.5f) / 0.25f));
}

TEST_CASE("DataLoader: a generic Dataset gives the same batches as the in-memory fast path") {
  const InMemoryDataset d = make_dataset(20, 3, 4, 4);
  const TransformList aug = {transforms::random_crop(2), transforms::horizontal_flip(),
                             transforms::scale(-1, 1)};
  DataLoader fast(d, aug, {.batch_size = 6, .seed = 9});
  DataLoader slow(std::make_shared<Generic>(d), aug, {.batch_size = 6, .seed = 9});
  CHECK(same_batches(fast, slow));
}

TEST_CASE("DataLoader: bad options are rejected with the reason") {
  const InMemoryDataset d = make_dataset(5);
  CHECK(contains(error_of([&] { DataLoader(d, {}, {.batch_size = 0}); }), "batch_size must be >= 1"));
  CHECK(contains(error_of([&] { DataLoader(d, {}, {.batch_size = 6, .drop_last = true}); }),
                 "leaves no batch"));
  CHECK(contains(error_of([&] { DataLoader(d, {transforms::normalize({0, 0}, {1, 1})}, {}); }),
                 "normalize"));
  DataLoader ok(d, {}, {.batch_size = 2});
  CHECK(contains(error_of([&] { ok.batch(3); }), "out of range [0, 3)"));
  CHECK(contains(error_of([&] { ok.set_epoch(-1); }), "epoch must be >= 0"));
}

TEST_CASE("DataLoader: batches built ahead in the background equal batches built on demand") {
  const InMemoryDataset d = make_dataset(40, 3, 8, 8);
  const TransformList aug = {transforms::random_crop(2), transforms::horizontal_flip(),
                             transforms::scale(0, 1)};
  DataLoader seq(d, aug, {.batch_size = 6, .seed = 5});
  seq.set_epoch(2);
  std::vector<Batch> in_order;
  for (const Batch& b : seq) in_order.push_back(b);  // each after the first built ahead
  const LoaderStats s = seq.stats();
  CHECK(s.batches == seq.num_batches());
  CHECK(s.prefetched == seq.num_batches() - 1);
  CHECK(s.wait_seconds >= 0);
  CHECK(s.build_seconds > 0);
  // Backwards: every request is a jump, so nothing is used from the background.
  DataLoader jumps(d, aug, {.batch_size = 6, .seed = 5});
  jumps.set_epoch(2);
  for (int64_t k = jumps.num_batches() - 1; k >= 0; --k) {
    const Batch b = jumps.batch(k);
    CHECK(b.indices == in_order[static_cast<size_t>(k)].indices);
    CHECK(b.images.to_vector() == in_order[static_cast<size_t>(k)].images.to_vector());
    CHECK(b.labels.to_vector() == in_order[static_cast<size_t>(k)].labels.to_vector());
  }
  CHECK(jumps.stats().prefetched == 0);
  // set_epoch drops what was built ahead for the old epoch and starts the stats afresh.
  seq.set_epoch(2);
  CHECK(seq.stats().batches == 0);
  seq.batch(0);
  seq.set_epoch(3);
  const Batch e3 = seq.batch(1);
  DataLoader fresh(d, aug, {.batch_size = 6, .seed = 5});
  fresh.set_epoch(3);
  CHECK(fresh.batch(1).images.to_vector() == e3.images.to_vector());
}

TEST_CASE("DataLoader: an error building a batch ahead surfaces when that batch is asked for") {
  // A dataset whose example 7 is malformed: batch 1 (examples 4..7) fails, batch 0 does not.
  class Broken final : public Dataset {
   public:
    int64_t size() const override { return 8; }
    Example get(int64_t i) const override {
      return {Tensor::zeros(i == 7 ? Shape{1, 1, 3} : Shape{1, 1, 2}), 0};
    }
    Shape image_shape() const override { return {1, 1, 2}; }
    int64_t num_classes() const override { return 1; }
  };
  DataLoader loader(std::make_shared<Broken>(), {}, {.batch_size = 4, .shuffle = false});
  CHECK(loader.batch(0).indices.size() == 4);  // batch 1 now builds in the background
  CHECK(contains(error_of([&] { loader.batch(1); }), "example 7 has shape"));
  CHECK(contains(error_of([&] { loader.batch(1); }), "example 7 has shape"));  // on demand too
}
