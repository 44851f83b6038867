#include "datasets/cifar10.h"

#include <cstring>
#include <filesystem>

#include "core/check.h"
#include "datasets/internal/file_io.h"

namespace lowbit {

namespace {
constexpr int64_t kRecord = 3073;  // 1 label + 3*32*32 pixels
constexpr int64_t kPixels = 3072;

bool is_dir(const std::string& p) {
  std::error_code ec;
  return std::filesystem::is_directory(p, ec);
}
}  // namespace

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

namespace {
// Appends the records of one batch file to pixels and labels.
void append_batch(const std::vector<uint8_t>& bytes, const std::string& path,
                  std::vector<uint8_t>& pixels, std::vector<int32_t>& labels) {
  const auto n = static_cast<int64_t>(bytes.size());
  LB_CHECK(n > 0, path, ": empty file: expected 3073-byte records (1 label byte + 3072 pixel ",
           "bytes)");
  LB_CHECK(n % kRecord == 0, path, ": truncated at byte ", n, ": expected a whole number of ",
           "3073-byte records (1 label byte + 3072 pixel bytes), but record ", n / kRecord,
           " has only ", n % kRecord, " bytes");
  const int64_t count = n / kRecord;
  const size_t old = pixels.size();
  pixels.resize(old + static_cast<size_t>(count * kPixels));
  for (int64_t r = 0; r < count; ++r) {
    const uint8_t* rec = bytes.data() + r * kRecord;
    LB_CHECK(rec[0] < 10, path, ": label ", int(rec[0]), " at byte ", r * kRecord, " (record ", r,
             ") is outside [0, 10)");
    labels.push_back(rec[0]);
    std::memcpy(pixels.data() + old + static_cast<size_t>(r * kPixels), rec + 1, kPixels);
  }
}
}  // namespace

InMemoryDataset load_cifar10_batches(const std::vector<std::string>& paths) {
  LB_CHECK(!paths.empty(), "load_cifar10_batches: no files given");
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  for (const auto& path : paths) append_batch(detail::read_bytes(path), path, pixels, labels);
  return InMemoryDataset(std::move(pixels), std::move(labels), {3, 32, 32}, cifar10_class_names());
}

InMemoryDataset parse_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& source) {
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  append_batch(bytes, source, pixels, labels);
  return InMemoryDataset(std::move(pixels), std::move(labels), {3, 32, 32}, cifar10_class_names());
}

InMemoryDataset load_cifar10(const std::string& root, const std::string& split,
                             const ImageFolderOptions& options) {
  LB_CHECK(split == "train" || split == "test", "load_cifar10: split must be \"train\" or ",
           "\"test\", got \"", split, "\" (the validation set is a tail of \"train\": see ",
           "train_val_split)");
  std::vector<std::string> names;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    names.push_back("test_batch.bin");
  }
  for (const auto& dir : {root + "/cifar-10-batches-bin", root}) {
    if (!detail::is_file(dir + "/" + names[0])) continue;
    std::vector<std::string> paths;
    for (const auto& name : names) {
      LB_CHECK(detail::is_file(dir + "/" + name), "load_cifar10: ", dir, "/", name,
               " is missing (the other batches are there); extract cifar-10-binary.tar.gz again");
      paths.push_back(dir + "/" + name);
    }
    return load_cifar10_batches(paths);
  }
  for (const auto& dir : {root + "/cifar10-jpeg", root}) {
    if (!is_dir(dir + "/" + split)) continue;
    InMemoryDataset d = load_image_folder(dir, split, options);
    LB_CHECK(d.class_names() == cifar10_class_names() && d.image_shape() == Shape({3, 32, 32}),
             "load_cifar10: ", dir, "/", split, " is not CIFAR-10: expected the 10 class folders ",
             "airplane..truck of 32x32 RGB images, got ", d.num_classes(), " classes of ",
             d.image_shape());
    return d;
  }
  LB_FAIL("load_cifar10: no CIFAR-10 ", split, " data under ", root, ": looked for ", root,
          "/cifar-10-batches-bin/", names[0], ", ", root, "/", names[0], ", ", root,
          "/cifar10-jpeg/", split, "/ and ", root, "/", split, "/; run scripts/get_data.sh, or ",
          "download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it in ",
          root);
}

}  // namespace lowbit
