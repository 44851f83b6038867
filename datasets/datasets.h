#pragma once
/// Umbrella header for data sets: Dataset and InMemoryDataset, the loaders (IDX for MNIST
/// and Fashion-MNIST, CIFAR-10 binary, image folders with a decoded-pixel cache), the
/// train/validation split, transforms and the DataLoader.
///
///   auto [train, val] = train_val_split(load_dataset("mnist", "data/mnist", "train"), 5000);
///   DataLoader loader(train, {transforms::scale(0, 1)}, {.batch_size = 100, .seed = 1});
///   loader.set_epoch(0);
///   for (const Batch& b : loader) { /* b.images: (100, 1, 28, 28), b.labels: (100) */ }
///
/// Layouts, the cache and scripts/get_data.sh: docs/datasets.md.
#include "datasets/cifar10.h"
#include "datasets/data_loader.h"
#include "datasets/dataset.h"
#include "datasets/idx.h"
#include "datasets/image_folder.h"
#include "datasets/registry.h"
#include "datasets/transforms.h"
