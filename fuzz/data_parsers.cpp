// The data set and tensor-file parsers (core + datasets only), so their harnesses build
// without the model libraries.
#include <string_view>

#include "core/check.h"
#include "core/serialize.h"
#include "datasets/cifar10.h"
#include "datasets/idx.h"
#include "datasets/image_folder.h"
#include "datasets/internal/file_io.h"
#include "fuzz/parsers.h"

namespace lowbit::fuzz {

const std::map<std::string, Parser>& data_parsers() {
  static const std::map<std::string, Parser> table = {
      {"idx", [](const std::vector<uint8_t>& b) { parse_idx(b, "fuzz-idx3-ubyte"); }},
      {"idx_gz",
       [](const std::vector<uint8_t>& b) {
         parse_idx(detail::gunzip(b, "fuzz-idx3-ubyte.gz"), "fuzz-idx3-ubyte.gz");
       }},
      {"cifar10", [](const std::vector<uint8_t>& b) { parse_cifar10_batch(b, "fuzz_batch.bin"); }},
      // Bytes through stb_image as the image-folder loader decodes them: auto channels, and
      // the forced grey / RGB conversions.
      {"image",
       [](const std::vector<uint8_t>& b) {
         for (int c : {0, 1, 3}) {
           try {
             decode_image(b, "fuzz.png", c);
           } catch (const Error&) {
             if (c == 0) throw;  // an undecodable image fails the same way for 1 and 3
           }
         }
       }},
      {"safetensors",
       [](const std::vector<uint8_t>& b) {
         parse_safetensors(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()),
                           "fuzz.safetensors");
       }},
  };
  return table;
}

}  // namespace lowbit::fuzz
