#pragma once
/// DataLoader: seeded shuffling, batching and augmentation.
///
///   DataLoader loader(train, {transforms::scale(0, 1)},
///                     {.batch_size = 128, .shuffle = true, .seed = 42});
///   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
///     loader.set_epoch(epoch);
///     for (const Batch& b : loader) {   // b.images: (B, C, H, W), b.labels: (B)
///       ...
///     }
///   }
///
/// Determinism and resume: the order of epoch e is a function of (seed, e) only, and the
/// augmentation of the k-th example of epoch e is drawn from an Rng seeded by (seed, e, k).
/// So the loader has no hidden state: a resumed run calls set_epoch(e) (and, mid-epoch,
/// starts at batch(b)) and sees exactly the batches of an uninterrupted run, whatever the
/// thread count.
///
/// Off the critical path: after handing out batch b, the loader builds batch b + 1 on a
/// background thread while the caller computes, so a sequential loop (training, evaluation)
/// waits only for the first batch of an epoch. Since a batch is a pure function of (seed,
/// epoch, b), prefetching changes no result. stats() says how long the caller waited.
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "datasets/dataset.h"
#include "datasets/transforms.h"

namespace lowbit {

struct DataLoaderOptions {
  int64_t batch_size = 32;
  /// A new random order every epoch (else dataset order).
  bool shuffle = true;
  /// Skip the last batch when it is smaller than batch_size.
  bool drop_last = false;
  /// Random transforms on (training); off: centre crop, no flip (evaluation).
  bool augment = true;
  /// Seeds the order and the augmentation; derive it from the experiment seed.
  uint64_t seed = 0;
};

/// One batch. Row i is example `indices[i]` of the dataset.
struct Batch {
  Tensor images;                 ///< (B, C, H, W) transformed images
  Tensor labels;                 ///< (B) class indices as floats
  std::vector<int64_t> indices;  ///< dataset index of each row
};

/// Where the loader's time went since the last set_epoch() (or construction).
struct LoaderStats {
  int64_t batches = 0;          ///< batches handed out
  int64_t prefetched = 0;       ///< of these, built ahead on the background thread
  double wait_seconds = 0;      ///< time the caller spent inside batch(): the loader's share
  double build_seconds = 0;     ///< time spent building batches, on either thread
};

class DataLoader {
 public:
  /// Throws when batch_size < 1, the dataset is empty, drop_last leaves no batch or the
  /// transforms do not fit the dataset's image shape. Starts at epoch 0.
  DataLoader(std::shared_ptr<const Dataset> dataset, const TransformList& transforms,
             DataLoaderOptions options);
  /// For an in-memory dataset (shares its buffer). Batches are built straight from the
  /// uint8 pixels, in parallel over the batch.
  DataLoader(const InMemoryDataset& dataset, const TransformList& transforms,
             DataLoaderOptions options);

  /// Batches per epoch: ceil(N / B), or floor(N / B) with drop_last.
  int64_t num_batches() const;
  /// Examples per epoch (N, or num_batches() * B with drop_last).
  int64_t num_examples() const;
  /// Output image shape (C, H, W) after the transforms.
  const Shape& image_shape() const { return pipeline_.output_shape(); }
  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }

  /// Selects the epoch (any e >= 0, in any order) and computes its example order.
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  /// Dataset indices in the order of the current epoch (all N, also with drop_last).
  const std::vector<int64_t>& order() const { return order_; }
  /// The order of epoch `epoch` for a dataset of n examples: a seeded Fisher-Yates
  /// permutation when shuffle, else 0..n-1.
  static std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

  /// Batch b in [0, num_batches()) of the current epoch. Also starts building b + 1 in the
  /// background (see above); a batch built ahead is returned as it is, bit for bit. One
  /// caller thread at a time; a user Dataset's get() is then also called from one thread at a
  /// time (the background one for batches built ahead).
  Batch batch(int64_t b) const;

  /// The loader's time since the last set_epoch(): stats().wait_seconds divided by the
  /// epoch's time is the share of the epoch the loader costs.
  LoaderStats stats() const;

  ~DataLoader();
  DataLoader(const DataLoader& other);
  DataLoader& operator=(const DataLoader&) = delete;

  class Iterator {
   public:
    Iterator(const DataLoader* loader, int64_t b) : loader_(loader), b_(b) {}
    Batch operator*() const { return loader_->batch(b_); }
    Iterator& operator++() {
      ++b_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return b_ != o.b_; }

   private:
    const DataLoader* loader_;
    int64_t b_;
  };
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, num_batches()}; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  const InMemoryDataset* in_memory_ = nullptr;  // dataset_ when it is one: the fast path
  TransformPipeline pipeline_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;

  /// Builds batch b of the current epoch; `parallel`: over the batch with OpenMP (only on the
  /// caller's thread: the background thread must not start a second OpenMP team).
  Batch build(int64_t b, bool parallel) const;
  /// Waits for the background batch, if any, and forgets it.
  void drop_prefetch() const;

  // Prefetch state: mutable because batch() is logically const (its result does not depend
  // on it). Declared last so the destructor waits for the background thread first.
  mutable std::mutex mutex_;
  mutable LoaderStats stats_;
  mutable int64_t prefetch_index_ = -1;
  mutable std::future<Batch> prefetch_;
};

}  // namespace lowbit
