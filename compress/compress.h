#pragma once
/// Deep Compression (Han, Mao & Dally, ICLR 2016): pruning, trained quantization by weight
/// sharing, Huffman coding, the compressed model file and its storage report.
///
///   PruneMask mask = prune(w.data(), {.density = 0.08});            // prune.h
///   SharedWeights sw = share_weights(w.data(), mask, {.bits = 5});  // weight_sharing.h
///   CompressedModel m;                                              // compressed_model.h
///   m.layers.push_back(compress_layer("ip1.weight", sw, /*index_bits=*/5));
///   save_compressed_model("net.lbc", m);
///   std::cout << m.storage_report().to_markdown();                 // storage_report.h
#include "compress/bit_stream.h"
#include "compress/compressed_model.h"
#include "compress/huffman.h"
#include "compress/prune.h"
#include "compress/relative_index.h"
#include "compress/storage_report.h"
#include "compress/weight_sharing.h"
