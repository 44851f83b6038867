#include "datasets/idx.h"

#include <cstring>

#include "core/check.h"
#include "datasets/internal/file_io.h"

namespace lowbit {

namespace {

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

// Finds <root>/<stem> or <root>/<stem>.gz; throws with the fix when neither exists.
std::string find_idx(const std::string& fn, const std::string& root, const std::string& stem) {
  const std::string base = root + "/" + stem;
  const std::string path = detail::first_existing({base, base + ".gz"});
  LB_CHECK(!path.empty(), fn, ": missing ", base, "[.gz]; run scripts/get_data.sh to fetch the ",
           "data sets into data/, or put the IDX files there");
  return path;
}

InMemoryDataset load_mnist_like(const char* fn, const std::string& root, const std::string& split,
                                std::vector<std::string> classes) {
  LB_CHECK(split == "train" || split == "test", fn, ": split must be \"train\" or \"test\", got \"",
           split, "\" (the validation set is a tail of \"train\": see train_val_split)");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images = find_idx(fn, root, prefix + "-images-idx3-ubyte");
  const std::string labels = find_idx(fn, root, prefix + "-labels-idx1-ubyte");
  return load_idx_pair(images, labels, std::move(classes));
}

}  // namespace

IdxArray read_idx(const std::string& path) { return parse_idx(detail::read_bytes(path), path); }

IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& path) {
  const char* where = path.ends_with(".gz") ? " (decompressed)" : "";
  const size_t n = bytes.size();
  LB_CHECK(n >= 4, path, ": truncated at byte ", n, where, ": expected a 4-byte IDX magic number");
  LB_CHECK(bytes[0] == 0 && bytes[1] == 0, path, ": not an IDX file: the magic number starts with ",
           int(bytes[0]), " ", int(bytes[1]), ", expected 0 0");
  LB_CHECK(bytes[2] == 0x08, path, ": IDX element type 0x", std::hex, int(bytes[2]), std::dec,
           " at byte 2 is not supported; only unsigned bytes (0x08) are");
  const int ndims = bytes[3];
  LB_CHECK(ndims >= 1, path, ": IDX header at byte 3 has 0 dimensions");
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  LB_CHECK(n >= header, path, ": truncated at byte ", n, where, ": expected a ", header,
           "-byte header for ", ndims, " dimensions");
  IdxArray out;
  int64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    const int64_t dim = (int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | p[3];
    LB_CHECK(dim < (int64_t{1} << 31), path, ": dimension ", d, " at byte ", 4 + 4 * d,
             " is negative");
    out.dims.push_back(dim);
    // Checked before multiplying (fuzzing found the product overflowing int64 first).
    LB_CHECK(dim == 0 || count < (int64_t{1} << 40) / dim, path, ": implausible IDX dimensions ",
             dims_str(out.dims));
    count *= dim;
  }
  const size_t expected = header + static_cast<size_t>(count);
  LB_CHECK(n >= expected, path, ": truncated at byte ", n, where, ": expected ", expected,
           " bytes (", header, "-byte header + ", dims_str(out.dims), " values)");
  LB_CHECK(n == expected, path, ": ", n - expected, " unexpected bytes after byte ", expected,
           where, " (the header says ", dims_str(out.dims), " values)");
  // Drop the header in place: one memmove, no second buffer.
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  out.values = std::move(bytes);
  return out;
}

InMemoryDataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                              std::vector<std::string> class_names) {
  IdxArray images = read_idx(images_path);
  LB_CHECK(images.dims.size() == 3, images_path, ": expected an images file of 3 dimensions (N, H, ",
           "W), got ", dims_str(images.dims));
  const IdxArray labels = read_idx(labels_path);
  LB_CHECK(labels.dims.size() == 1, labels_path, ": expected a labels file of 1 dimension (N), got ",
           dims_str(labels.dims));
  LB_CHECK(labels.dims[0] == images.dims[0], labels_path, ": ", labels.dims[0],
           " labels but ", images_path, " has ", images.dims[0], " images");
  LB_CHECK(images.dims[0] > 0, images_path, ": holds 0 images (an empty data set); run ",
           "scripts/get_data.sh again or check the data files");
  const size_t n_classes = class_names.size();
  std::vector<int32_t> y(labels.values.size());
  for (size_t i = 0; i < y.size(); ++i) {
    LB_CHECK(labels.values[i] < n_classes, labels_path, ": label ", int(labels.values[i]),
             " at byte ", 8 + i, " is outside [0, ", n_classes, ")");
    y[i] = labels.values[i];
  }
  return InMemoryDataset(std::move(images.values), std::move(y),
                         {1, images.dims[1], images.dims[2]}, std::move(class_names));
}

InMemoryDataset load_mnist(const std::string& root, const std::string& split) {
  return load_mnist_like("load_mnist", root, split,
                         {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
}

InMemoryDataset load_fashion_mnist(const std::string& root, const std::string& split) {
  return load_mnist_like("load_fashion_mnist", root, split,
                         {"t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                          "sneaker", "bag", "ankle boot"});
}

}  // namespace lowbit
