#include "datasets/data_loader.h"

#include <chrono>
#include <cstring>

#include "core/check.h"
#include "core/parallel.h"
#include "core/random.h"
#include "datasets/internal/file_io.h"

namespace lowbit {

namespace {
// Independent streams from one seed: the order of epoch e uses (kOrder, e), the k-th example
// of epoch e uses (kAugment + e, k).
constexpr uint64_t kOrderStream = 0x6f72646572ULL;    // "order"
constexpr uint64_t kAugmentStream = 0x6175676dULL;    // "augm"

uint64_t derive(uint64_t seed, uint64_t stream, uint64_t index) {
  return detail::mix64(detail::mix64(detail::mix64(seed) ^ stream) ^ index);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, const TransformList& transforms,
                       DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  LB_CHECK(dataset_ != nullptr, "DataLoader: dataset is null");
  in_memory_ = dynamic_cast<const InMemoryDataset*>(dataset_.get());
  const int64_t n = dataset_->size();
  LB_CHECK(n > 0, "DataLoader: the dataset is empty");
  LB_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ",
           options_.batch_size);
  LB_CHECK(!options_.drop_last || options_.batch_size <= n, "DataLoader: drop_last with ",
           "batch_size ", options_.batch_size, " > ", n, " examples leaves no batch");
  pipeline_ = TransformPipeline(transforms, dataset_->image_shape());
  set_epoch(0);
}

DataLoader::DataLoader(const InMemoryDataset& dataset, const TransformList& transforms,
                       DataLoaderOptions options)
    : DataLoader(std::make_shared<const InMemoryDataset>(dataset), transforms, options) {}

DataLoader::DataLoader(const DataLoader& other)
    : dataset_(other.dataset_),
      in_memory_(other.in_memory_),
      pipeline_(other.pipeline_),
      options_(other.options_),
      epoch_(other.epoch_),
      order_(other.order_) {}

DataLoader::~DataLoader() { drop_prefetch(); }

void DataLoader::drop_prefetch() const {
  if (prefetch_.valid()) prefetch_.wait();  // an error of an unused batch is dropped with it
  prefetch_ = {};
  prefetch_index_ = -1;
}

LoaderStats DataLoader::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t DataLoader::num_examples() const {
  return options_.drop_last ? num_batches() * options_.batch_size : dataset_->size();
}

std::vector<int64_t> DataLoader::epoch_order(int64_t n, uint64_t seed, int64_t epoch,
                                             bool shuffle) {
  LB_CHECK(epoch >= 0, "DataLoader: epoch must be >= 0, got ", epoch);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  if (shuffle) {
    Rng rng(derive(seed, kOrderStream, static_cast<uint64_t>(epoch)));
    for (int64_t i = n - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)));
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
    }
  }
  return order;
}

void DataLoader::set_epoch(int64_t epoch) {
  drop_prefetch();  // it reads order_
  {
    std::lock_guard lock(mutex_);
    stats_ = {};
  }
  order_ = epoch_order(dataset_->size(), options_.seed, epoch, options_.shuffle);
  epoch_ = epoch;
}

Batch DataLoader::batch(int64_t b) const {
  const int64_t nb = num_batches();
  LB_CHECK(b >= 0 && b < nb, "DataLoader::batch: index ", b, " out of range [0, ", nb, ")");
  const auto t0 = std::chrono::steady_clock::now();
  Batch out;
  bool ahead = false;
  if (prefetch_.valid() && prefetch_index_ == b) {
    std::future<Batch> f = std::move(prefetch_);
    prefetch_index_ = -1;
    out = f.get();  // rethrows the error building it raised, as building it here would
    ahead = true;
  } else {
    drop_prefetch();  // a jump: the dataset is never read by two threads at once
    out = build(b, true);
  }
  if (b + 1 < nb) {
    prefetch_index_ = b + 1;
    prefetch_ = std::async(std::launch::async, [this, b] { return build(b + 1, false); });
  }
  std::lock_guard lock(mutex_);
  stats_.batches += 1;
  stats_.prefetched += ahead ? 1 : 0;
  stats_.wait_seconds += seconds_since(t0);
  return out;
}

Batch DataLoader::build(int64_t b, bool parallel) const {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t first = b * options_.batch_size;
  const int64_t rows = std::min(options_.batch_size, dataset_->size() - first);
  const Shape& s = pipeline_.output_shape();
  const int64_t out_numel = shape_numel(s);
  Batch out;
  out.images = Tensor::empty({rows, s[0], s[1], s[2]});
  out.labels = Tensor::empty({rows});
  out.indices.assign(order_.begin() + first, order_.begin() + first + rows);
  float* images = out.images.data();
  float* labels = out.labels.data();
  const uint64_t aug_stream = kAugmentStream + static_cast<uint64_t>(epoch_);
  auto draw = [&](int64_t r) {
    Rng rng(derive(options_.seed, aug_stream, static_cast<uint64_t>(first + r)));
    return pipeline_.draw(rng, options_.augment);
  };
  if (in_memory_) {
    const InMemoryDataset& d = *in_memory_;
    auto rows_of = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t idx = out.indices[static_cast<size_t>(r)];
        pipeline_.apply(d.pixels(idx), images + r * out_numel, draw(r));
        labels[r] = static_cast<float>(d.label(idx));
      }
    };
    if (parallel) kernels::parallel_for(rows, rows_of, out_numel);
    else rows_of(0, rows);
  } else {
    // A user Dataset need not be thread-safe: fetch in order on this thread.
    for (int64_t r = 0; r < rows; ++r) {
      const Example e = dataset_->get(out.indices[static_cast<size_t>(r)]);
      LB_CHECK(e.image.shape() == pipeline_.input_shape(), "DataLoader: example ",
               out.indices[static_cast<size_t>(r)], " has shape ", e.image.shape(),
               ", the dataset said ", pipeline_.input_shape());
      pipeline_.apply(e.image.data(), images + r * out_numel, draw(r));
      labels[r] = static_cast<float>(e.label);
    }
  }
  std::lock_guard lock(mutex_);
  stats_.build_seconds += seconds_since(t0);
  return out;
}

}  // namespace lowbit
