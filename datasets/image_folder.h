#pragma once
/// Image folders: `<root>/<split>/<class>/*.{jpg,jpeg,png,bmp}` decoded with stb_image and
/// cached in one binary file next to the data.
///
///   InMemoryDataset train = load_image_folder("data/cifar10/cifar10-jpeg", "train");
///
/// Classes are the sub-folders of `<root>/<split>` sorted by name (label = position); files
/// are sorted by name within a class. Examples are ordered round-robin over classes (file 0
/// of every class, then file 1 of every class, ...) so that the held-out tail of
/// train_val_split has every class in proportion. All images must have the same size.
///
/// Cache: `<root>/<split>.lowbit-cache` holds the decoded pixels, labels and class names
/// with a magic number, a version, a fingerprint of the file list (relative path, size and
/// modification time of every image) and a checksum. A cache that is stale (the files
/// changed), corrupt or from another version is rebuilt; it is written to a temporary file
/// and renamed, so it is never half-written. A read-only data folder just means no cache.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace lowbit {

struct ImageFolderOptions {
  /// Read and write `<root>/<split>.lowbit-cache`.
  bool use_cache = true;
  /// Channels to decode to: 0 = from the first image (1 for grey, else 3 = RGB), or 1 or 3.
  int channels = 0;
  /// One line on stderr when the images are decoded (first load or cache rebuilt).
  bool verbose = true;
};

/// What load_image_folder did, for callers and tests.
struct ImageFolderReport {
  bool from_cache = false;  ///< true when the pixels came from a valid cache
  std::string cache_note;   ///< why the cache was not used ("no cache file", "stale: ...")
  int64_t decoded = 0;      ///< images decoded from their files
};

/// One decoded image, channel-major (C, H, W).
struct DecodedImage {
  int channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  ///< channels * height * width bytes
};
/// Images with more pixels than this (width x height; 8192 x 8192) are refused before
/// decoding: a corrupt or hostile header can announce 2^24 x 2^24.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 26;
/// Decodes the bytes of a JPEG, PNG or BMP file with stb_image to `channels` channels (1 or
/// 3; 0: 1 for a grey image, else 3). Throws naming `source` when the bytes are not a
/// decodable image or the image is larger than kMaxImagePixels.
DecodedImage decode_image(const std::vector<uint8_t>& bytes, const std::string& source,
                          int channels);

/// Loads `<root>/<split>` (see above). Decodes in parallel (OpenMP, num_threads()). Throws
/// naming the file for an unreadable or corrupt image, or an image whose size differs.
InMemoryDataset load_image_folder(const std::string& root, const std::string& split,
                                  const ImageFolderOptions& options = {},
                                  ImageFolderReport* report = nullptr);

/// `<root>/<split>.lowbit-cache`.
std::string image_folder_cache_path(const std::string& root, const std::string& split);

}  // namespace lowbit
