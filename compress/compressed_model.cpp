#include "compress/compressed_model.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_file.h"
#include "compress/relative_index.h"

namespace lowbit {

// File layout (docs/compressed_format.md):
//   header  : magic[8] u32 version u32 record_count u64 file_size u32 header_crc   (28 bytes)
//   records : u32 type u64 body_size body[body_size] u32 record_crc                  (each)
//   trailer : u32 file_crc over bytes [0, file_size − 4)
// Integers little-endian; record_crc covers type, body_size and body.

namespace {

constexpr char kMagic[8] = {'\x89', 'L', 'B', 'C', '\r', '\n', '\x1a', '\n'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 28;
constexpr uint32_t kRecordMetadata = 1;
constexpr uint32_t kRecordLayer = 2;
constexpr uint32_t kRecordRaw = 3;
constexpr int kMaxDims = 8;
// A stored layer expands to numel weights however few entries it holds (trailing pruned
// weights are implicit), so its size is bounded here, not by the file: 2^28 weights (1 GiB
// of float32; VGG-16's largest layer has 2^26.6) — a corrupt or hostile shape must not make
// the loader allocate terabytes.
constexpr uint64_t kMaxLayerWeights = uint64_t{1} << 28;
// Within that cap a layer record is also bounded by its own size. Its streams cannot bound
// the weights it declares — trailing pruned weights are implicit and a one-symbol Huffman
// stream holds any number of entries in 0 bits — so without this a record of a few hundred
// bytes could expand to 2^28 weights (1.5 GB decoded: a decompression bomb). A real
// compressed layer holds far fewer than 4096 weights per byte (Deep Compression's ratios are
// ~10 weights per byte; 4096 is a layer over 99.9% pruned, fillers included), and a layer of
// at most 2^20 weights is accepted whatever its size (a fully pruned layer stores nothing).
constexpr uint64_t kMaxLayerWeightsPerByte = 4096;
constexpr uint64_t kLayerWeightsAlwaysAllowed = uint64_t{1} << 20;

uint64_t max_layer_weights(uint64_t record_bytes) {
  return std::min(kMaxLayerWeights,
                  std::max(kLayerWeightsAlwaysAllowed, record_bytes * kMaxLayerWeightsPerByte));
}

uint32_t crc32_of(const char* p, size_t n) {
  return static_cast<uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(p), n));
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

const char* record_type_name(uint32_t type) {
  switch (type) {
    case kRecordMetadata: return "metadata";
    case kRecordLayer: return "compressed layer";
    case kRecordRaw: return "raw tensor";
  }
  return "unknown";
}

}  // namespace

CodingPolicy coding_policy_from_string(std::string_view name) {
  if (name == "fixed") return CodingPolicy::kFixed;
  if (name == "huffman") return CodingPolicy::kHuffman;
  if (name == "smallest") return CodingPolicy::kSmallest;
  LB_FAIL("coding policy: unknown name \"", name, "\" (valid: \"fixed\", \"huffman\", \"smallest\")");
}

// ---- EncodedStream

EncodedStream EncodedStream::encode(std::span<const uint32_t> symbols, int symbol_bits,
                                    CodingPolicy policy) {
  LB_CHECK(symbol_bits >= 1 && symbol_bits <= 16, "EncodedStream::encode: symbol_bits must be in "
           "[1, 16], got ", symbol_bits);
  const uint32_t A = 1u << symbol_bits;
  std::vector<uint64_t> freq(A, 0);
  for (uint32_t s : symbols) {
    LB_CHECK(s < A, "EncodedStream::encode: symbol ", s, " does not fit ", symbol_bits, " bits");
    ++freq[s];
  }
  EncodedStream st;
  st.symbol_bits = symbol_bits;
  st.count = symbols.size();
  const uint64_t fixed_bits = st.count * static_cast<uint64_t>(symbol_bits);
  bool huffman = policy == CodingPolicy::kHuffman;
  HuffmanCode code;
  if (policy != CodingPolicy::kFixed) {
    code = HuffmanCode::from_frequencies(freq);
    if (policy == CodingPolicy::kSmallest)
      huffman = code.encoded_bits(freq) + code.table_bits() < fixed_bits;
  }
  BitWriter w;
  if (huffman) {
    st.coding = StreamCoding::kHuffman;
    code.encode(symbols, w);
    st.code = std::move(code);
  } else {
    for (uint32_t s : symbols) w.put(s, symbol_bits);
  }
  st.bit_count = w.bit_count();
  st.bytes = w.finish();
  return st;
}

std::vector<uint32_t> EncodedStream::decode() const {
  LB_CHECK(bytes.size() == (bit_count + 7) / 8, "EncodedStream::decode: ", bytes.size(),
           " bytes for ", bit_count, " bits");
  BitReader r(bytes.data(), bytes.size(), bit_count);
  std::vector<uint32_t> out;
  if (coding == StreamCoding::kHuffman) {
    out = code.decode(r, count);
  } else {
    LB_CHECK(bit_count == count * static_cast<uint64_t>(symbol_bits), "EncodedStream::decode: ",
             bit_count, " bits for ", count, " fixed-width symbols of ", symbol_bits, " bits");
    out.resize(count);
    for (auto& s : out) s = r.get(symbol_bits);
  }
  LB_CHECK(r.remaining() == 0, "EncodedStream::decode: ", r.remaining(), " bits left after ",
           count, " symbols (stream of ", bit_count, " bits)");
  return out;
}

// ---- CompressedLayer

CompressedLayer compress_layer(std::string name, const SharedWeights& sw, int index_bits,
                               CodingPolicy policy) {
  sw.validate();
  CompressedLayer l;
  l.name = std::move(name);
  l.shape = sw.shape;
  l.weight_bits = sw.bits;
  l.index_bits = index_bits;
  l.codebook.assign(sw.codebook.data(), sw.codebook.data() + sw.codebook_size());
  l.codebook[0] = 0.f;  // the zero cluster (SharedWeights reads it as 0 too)
  const RelativeIndex rel = encode_relative_index(sw.indices, index_bits);
  l.num_nonzero = rel.num_entries() - rel.num_fillers();
  l.weights = EncodedStream::encode(rel.codes, sw.bits, policy);
  l.index = EncodedStream::encode(rel.diffs, index_bits, policy);
  return l;
}

SharedWeights CompressedLayer::decode() const {
  LB_CHECK(weights.count == index.count, "CompressedLayer::decode: layer \"", name, "\" has ",
           weights.count, " weight codes but ", index.count, " index differences");
  LB_CHECK(weights.symbol_bits == weight_bits && index.symbol_bits == index_bits,
           "CompressedLayer::decode: layer \"", name, "\" stream widths disagree with the layer");
  RelativeIndex rel;
  rel.index_bits = index_bits;
  rel.codes = weights.decode();
  rel.diffs = index.decode();
  // The encoder emits code 0 only for filler zeros, which sit exactly 2^index_bits after
  // the previous entry; anything else is corruption, not a smaller encoding.
  const uint32_t max_diff = (1u << index_bits) - 1;
  uint64_t nonzero = 0;
  for (size_t e = 0; e < rel.codes.size(); ++e) {
    if (rel.codes[e] != 0)
      ++nonzero;
    else
      LB_CHECK(rel.diffs[e] == max_diff, "CompressedLayer::decode: layer \"", name,
               "\": entry ", e, " is a filler zero with gap ", rel.diffs[e] + 1,
               " (fillers always have gap ", max_diff + 1, ")");
  }
  LB_CHECK(nonzero == num_nonzero, "CompressedLayer::decode: layer \"", name, "\" records ",
           num_nonzero, " non-zero weights but its streams hold ", nonzero);
  SharedWeights sw;
  sw.shape = shape;
  sw.bits = weight_bits;
  LB_CHECK(static_cast<int64_t>(codebook.size()) == (int64_t{1} << weight_bits),
           "CompressedLayer::decode: layer \"", name, "\" codebook has ", codebook.size(),
           " entries, expected ", int64_t{1} << weight_bits);
  sw.codebook = Tensor::from_vector({static_cast<int64_t>(codebook.size())}, codebook);
  sw.codebook.data()[0] = 0.f;
  std::vector<uint16_t> dense = decode_relative_index(rel, numel());
  sw.indices = std::move(dense);
  sw.converged = true;
  return sw;
}

Tensor CompressedLayer::decode_tensor() const { return decode().reconstruct(); }

LayerStorage CompressedLayer::storage() const {
  LayerStorage s;
  s.name = name;
  s.num_weights = numel();
  s.num_nonzero = static_cast<int64_t>(num_nonzero);
  s.num_entries = static_cast<int64_t>(num_entries());
  s.weight_bits = weight_bits;
  s.index_bits = index_bits;
  s.codebook_bits = 32 * ((uint64_t{1} << weight_bits) - 1);
  s.weight_bits_pq = num_entries() * static_cast<uint64_t>(weight_bits);
  s.index_bits_pq = num_entries() * static_cast<uint64_t>(index_bits);
  s.weight_bits_pqh = weights.bit_count;
  s.index_bits_pqh = index.bit_count;
  s.table_bits = weights.table_bits() + index.table_bits();
  return s;
}

// ---- CompressedModel

NamedTensors CompressedModel::decode() const {
  NamedTensors out;
  out.reserve(layers.size() + raw.size());
  for (const auto& l : layers) out.emplace_back(l.name, l.decode_tensor());
  for (const auto& [name, t] : raw) out.emplace_back(name, t.clone());
  return out;
}

StorageReport CompressedModel::storage_report() const {
  StorageReport r;
  for (const auto& l : layers) r.layers.push_back(l.storage());
  for (const auto& [name, t] : raw) r.raw_floats += t.numel();
  r.file_bytes = serialize_compressed_model(*this).size();
  return r;
}

// ---- serialisation

namespace {

void write_name_shape(ByteWriter& w, const std::string& name, const Shape& shape) {
  w.u16(static_cast<uint16_t>(name.size()));
  w.bytes(name.data(), name.size());
  w.u8(static_cast<uint8_t>(shape.size()));
  for (int64_t d : shape) w.u64(static_cast<uint64_t>(d));
}

void write_stream(ByteWriter& w, const EncodedStream& s) {
  w.u8(static_cast<uint8_t>(s.coding));
  if (s.coding == StreamCoding::kHuffman) s.code.write_table(w);
  w.u64(s.bit_count);
  w.bytes(s.bytes.data(), s.bytes.size());
}

void write_record(ByteWriter& file, uint32_t type, const std::string& body) {
  const size_t start = file.size();
  file.u32(type);
  file.u64(body.size());
  file.bytes(body.data(), body.size());
  file.u32(crc32_of(file.str().data() + start, file.size() - start));
}

void check_name(std::set<std::string>& seen, const std::string& name, const Shape& shape) {
  LB_CHECK(!name.empty() && name.size() <= 0xFFFF,
           "serialize_compressed_model: tensor names must have 1 to 65535 bytes, got \"", name,
           "\"");
  LB_CHECK(seen.insert(name).second, "serialize_compressed_model: duplicate tensor name \"", name,
           "\"");
  LB_CHECK(shape.size() <= kMaxDims, "serialize_compressed_model: \"", name, "\" has ",
           shape.size(), " dimensions, at most ", kMaxDims, " are supported");
}

}  // namespace

std::string serialize_compressed_model(const CompressedModel& m) {
  std::set<std::string> seen;
  ByteWriter file;
  file.bytes(kMagic, sizeof kMagic);
  file.u32(kVersion);
  const size_t nrec = (m.metadata.empty() ? 0 : 1) + m.layers.size() + m.raw.size();
  LB_CHECK(nrec <= 0xFFFFFFFFu, "serialize_compressed_model: too many records");
  file.u32(static_cast<uint32_t>(nrec));
  file.u64(0);  // file size, patched below
  file.u32(0);  // header crc, patched below

  if (!m.metadata.empty()) {
    nlohmann::json j = m.metadata;
    write_record(file, kRecordMetadata, j.dump());
  }
  for (const auto& l : m.layers) {
    check_name(seen, l.name, l.shape);
    LB_CHECK(l.weight_bits >= 1 && l.weight_bits <= 16 && l.index_bits >= 1 && l.index_bits <= 16,
             "serialize_compressed_model: layer \"", l.name, "\" has weight_bits ", l.weight_bits,
             " and index_bits ", l.index_bits, "; both must be in [1, 16]");
    LB_CHECK(l.codebook.size() == (size_t{1} << l.weight_bits) &&
                 l.weights.count == l.index.count && l.weights.symbol_bits == l.weight_bits &&
                 l.index.symbol_bits == l.index_bits,
             "serialize_compressed_model: layer \"", l.name,
             "\" is inconsistent (codebook size or stream lengths); build it with compress_layer");
    ByteWriter b;
    write_name_shape(b, l.name, l.shape);
    b.u8(static_cast<uint8_t>(l.weight_bits));
    b.u8(static_cast<uint8_t>(l.index_bits));
    b.u64(l.num_nonzero);
    b.u64(l.num_entries());
    for (size_t k = 1; k < l.codebook.size(); ++k) b.f32(l.codebook[k]);
    write_stream(b, l.weights);
    write_stream(b, l.index);
    // Never write a layer the reader refuses (parse_compressed_model: read_layer).
    LB_CHECK(static_cast<uint64_t>(shape_numel(l.shape)) <= max_layer_weights(b.str().size()),
             "serialize_compressed_model: layer \"", l.name, "\" has ", shape_numel(l.shape),
             " weights in a record of ", b.str().size(), " bytes; a record may expand to at most ",
             max_layer_weights(b.str().size()), " weights (",
             kMaxLayerWeightsPerByte, " per byte, any layer up to ", kLayerWeightsAlwaysAllowed, ")");
    write_record(file, kRecordLayer, b.str());
  }
  for (const auto& [name, t] : m.raw) {
    check_name(seen, name, t.shape());
    ByteWriter b;
    write_name_shape(b, name, t.shape());
    static_assert(sizeof(float) == 4);
    // Little-endian host (x86-64, as core/serialize.cpp assumes): raw floats are file order.
    b.bytes(t.data(), static_cast<size_t>(t.numel()) * 4);
    write_record(file, kRecordRaw, b.str());
  }

  std::string& s = file.str();
  const uint64_t size = s.size() + 4;
  for (int i = 0; i < 8; ++i) s[16 + i] = static_cast<char>(size >> (8 * i));
  const uint32_t hcrc = crc32_of(s.data(), 24);
  for (int i = 0; i < 4; ++i) s[24 + i] = static_cast<char>(hcrc >> (8 * i));
  file.u32(crc32_of(s.data(), s.size()));
  return std::move(file.str());
}

// ---- parsing

namespace {

std::pair<std::string, Shape> read_name_shape(ByteReader& r) {
  const uint16_t len = r.u16("name length");
  const uint64_t at = r.offset();
  std::string name(r.bytes(len, "name"), len);
  LB_CHECK(!name.empty(), r.source(), ": empty tensor name at byte offset ", at);
  const uint64_t dims_at = r.offset();
  const int ndim = r.u8("number of dimensions");
  LB_CHECK(ndim <= kMaxDims, r.source(), ": corrupt shape at byte offset ", dims_at, ": ", ndim,
           " dimensions for \"", name, "\" (at most ", kMaxDims, ")");
  Shape shape;
  uint64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    const uint64_t v = r.u64("dimension");
    // 2^40 elements (4 TiB of float32) is far beyond any model; larger means corruption.
    LB_CHECK(v <= (uint64_t{1} << 40) && (v == 0 || numel <= (uint64_t{1} << 40) / v), r.source(),
             ": corrupt shape at byte offset ", dims_at, ": implausible dimension ", v, " for \"",
             name, "\"");
    numel *= v;
    shape.push_back(static_cast<int64_t>(v));
  }
  return {std::move(name), std::move(shape)};
}

EncodedStream read_stream(ByteReader& r, int symbol_bits, uint64_t count, const char* what) {
  EncodedStream s;
  s.symbol_bits = symbol_bits;
  s.count = count;
  const uint64_t at = r.offset();
  const uint8_t coding = r.u8("stream coding");
  LB_CHECK(coding <= 1, r.source(), ": corrupt ", what, " stream at byte offset ", at,
           ": coding ", int{coding}, " (expected 0 = fixed or 1 = Huffman)");
  s.coding = static_cast<StreamCoding>(coding);
  if (s.coding == StreamCoding::kHuffman) s.code = HuffmanCode::read_table(r, 1u << symbol_bits);
  s.bit_count = r.u64("stream bit count");
  const uint64_t nbytes = (s.bit_count + 7) / 8;
  LB_CHECK(s.bit_count <= uint64_t{8} * r.remaining(), r.source(), ": truncated ", what,
           " stream at byte offset ", r.offset(), ": ", s.bit_count, " bits announced, ",
           r.remaining(), " bytes left in the record");
  const auto* p = reinterpret_cast<const uint8_t*>(r.bytes(nbytes, "stream bits"));
  s.bytes.assign(p, p + nbytes);
  return s;
}

CompressedLayer read_layer(ByteReader& r, uint64_t record_bytes) {
  CompressedLayer l;
  const uint64_t shape_at = r.offset();
  std::tie(l.name, l.shape) = read_name_shape(r);
  LB_CHECK(static_cast<uint64_t>(l.numel()) <= kMaxLayerWeights, r.source(), ": layer \"", l.name,
           "\" at byte offset ", shape_at, " has shape ", l.shape, ": more than the ",
           kMaxLayerWeights, " weights a compressed layer may hold (corrupt file?)");
  LB_CHECK(static_cast<uint64_t>(l.numel()) <= max_layer_weights(record_bytes), r.source(),
           ": layer \"", l.name, "\" at byte offset ", shape_at, " has shape ", l.shape, " (",
           l.numel(), " weights) in a record of ", record_bytes, " bytes: more than the ",
           max_layer_weights(record_bytes), " weights a record of that size may expand to (",
           kMaxLayerWeightsPerByte, " per byte, any layer up to ", kLayerWeightsAlwaysAllowed,
           "; corrupt file?)");
  const uint64_t at = r.offset();
  l.weight_bits = r.u8("weight bits");
  l.index_bits = r.u8("index bits");
  LB_CHECK(l.weight_bits >= 1 && l.weight_bits <= 16 && l.index_bits >= 1 && l.index_bits <= 16,
           r.source(), ": corrupt layer \"", l.name, "\" at byte offset ", at, ": weight bits ",
           l.weight_bits, ", index bits ", l.index_bits, " (both must be in [1, 16])");
  l.num_nonzero = r.u64("non-zero count");
  const uint64_t entries_at = r.offset();
  const uint64_t entries = r.u64("entry count");
  // Entries sit at distinct positions, so there are at most numel of them.
  LB_CHECK(l.num_nonzero <= entries && entries <= static_cast<uint64_t>(l.numel()), r.source(),
           ": corrupt layer \"", l.name, "\" at byte offset ", entries_at, ": ", entries,
           " entries with ", l.num_nonzero, " non-zeros for ", l.numel(), " weights");
  l.codebook.assign(size_t{1} << l.weight_bits, 0.f);
  for (size_t k = 1; k < l.codebook.size(); ++k) l.codebook[k] = r.f32("codebook");
  l.weights = read_stream(r, l.weight_bits, entries, "weight");
  l.index = read_stream(r, l.index_bits, entries, "index");
  return l;
}

}  // namespace

CompressedModel parse_compressed_model(std::string_view bytes, const std::string& source) {
  const size_t size = bytes.size();
  const char* data = bytes.data();
  const size_t magic_n = std::min(size, sizeof kMagic);
  // (An empty view may have a null data(): no memcmp then; the size check below reports it.)
  LB_CHECK(magic_n == 0 || std::memcmp(data, kMagic, magic_n) == 0, source,
           ": not a lowbit compressed model (bad magic at byte offset 0)");
  LB_CHECK(size >= kHeaderSize, source, ": truncated at byte offset ", size, ": the header needs ",
           kHeaderSize, " bytes");
  ByteReader h(data, size, source);
  h.bytes(sizeof kMagic, "magic");
  const uint32_t version = h.u32("version");
  const uint32_t nrec = h.u32("record count");
  const uint64_t file_size = h.u64("file size");
  const uint32_t header_crc = h.u32("header checksum");
  const uint32_t header_crc_now = crc32_of(data, 24);
  LB_CHECK(header_crc == header_crc_now || kFuzzingSkipsChecksums, source,
           ": corrupted header: checksum mismatch over bytes [0, 24) (stored ", hex32(header_crc),
           ", computed ", hex32(header_crc_now), ")");
  LB_CHECK(version == kVersion, source, ": unsupported format version ", version,
           " (this build reads version ", kVersion, ")");
  LB_CHECK(size >= file_size, source, ": truncated at byte offset ", size, ": the header records ",
           file_size, " bytes");
  LB_CHECK(size == file_size, source, ": ", size - file_size,
           " unexpected bytes after the end of the model at byte offset ", file_size);
  LB_CHECK(file_size >= kHeaderSize + 4, source, ": corrupted header: file size ", file_size,
           " is smaller than header and trailer");

  const uint32_t file_crc_stored = [&] {
    ByteReader t(data + size - 4, 4, source, size - 4);
    return t.u32("file checksum");
  }();
  const bool file_crc_ok =
      crc32_of(data, size - 4) == file_crc_stored || kFuzzingSkipsChecksums;
  auto corrupt_hint = [&] {
    return file_crc_ok ? std::string() : std::string(" (the file checksum fails too)");
  };

  CompressedModel m;
  std::set<std::string> seen;
  ByteReader r(data, size - 4, source);  // records end where the trailer starts
  r.bytes(kHeaderSize, "header");
  for (uint32_t i = 0; i < nrec; ++i) {
    const uint64_t start = r.offset();
    LB_CHECK(r.remaining() >= 16, source, ": corrupted or truncated at byte offset ", start,
             ": record ", i, " of ", nrec, " needs at least 16 bytes, ", r.remaining(),
             " left before the trailer", corrupt_hint());
    const uint32_t type = r.u32("record type");
    const uint64_t body_size = r.u64("record size");
    LB_CHECK(body_size <= r.remaining() - 4, source, ": corrupted at byte offset ", start,
             ": record ", i, " claims ", body_size, " bytes, only ", r.remaining() - 4,
             " remain before the trailer", corrupt_hint());
    const char* body = r.bytes(body_size, "record body");
    const uint32_t crc = r.u32("record checksum");
    const uint32_t crc_now = crc32_of(data + start, 12 + body_size);
    LB_CHECK(crc == crc_now || kFuzzingSkipsChecksums, source, ": corrupted: record ", i, " (", record_type_name(type),
             ") at bytes [", start, ", ", r.offset(), ") fails its checksum (stored ", hex32(crc),
             ", computed ", hex32(crc_now), ")");
    ByteReader b(body, body_size, source, start + 12);
    try {
      if (type == kRecordMetadata) {
        const nlohmann::json j = parse_json(std::string_view(body, body_size),
                                            source + " (metadata record at byte " +
                                                std::to_string(start + 12) + ")");
        m.metadata = j.get<std::map<std::string, std::string>>();
        b.bytes(body_size, "metadata");
      } else if (type == kRecordLayer) {
        m.layers.push_back(read_layer(b, body_size));
        const CompressedLayer& l = m.layers.back();
        LB_CHECK(seen.insert(l.name).second, "duplicate tensor name \"", l.name, "\"");
        // Decode once now: a layer that does not decode exactly is rejected at load time.
        (void)l.decode();
      } else if (type == kRecordRaw) {
        auto [name, shape] = read_name_shape(b);
        LB_CHECK(seen.insert(name).second, "duplicate tensor name \"", name, "\"");
        // The bytes are taken (and their count checked) before the tensor is allocated, so a
        // corrupt shape cannot ask for gigabytes (read_name_shape bounds it by 2^40).
        const uint64_t numel = static_cast<uint64_t>(shape_numel(shape));
        const char* p = b.bytes(numel * 4, "raw float32 data");
        Tensor t = Tensor::empty(shape);
        std::memcpy(t.data(), p, static_cast<size_t>(numel) * 4);
        m.raw.emplace_back(std::move(name), std::move(t));
      } else {
        LB_FAIL("unknown record type ", type);
      }
      LB_CHECK(b.remaining() == 0, b.remaining(), " unexpected bytes at the end of the record");
    } catch (const nlohmann::json::exception& e) {
      LB_FAIL(source, ": record ", i, " (metadata) at byte offset ", start,
              " is not a JSON object of strings: ", e.what());
    } catch (const Error& e) {
      LB_FAIL(source, ": record ", i, " (", record_type_name(type), ") at byte offset ", start,
              " (body ", b.offset(), "): ", e.what());
    }
  }
  LB_CHECK(r.remaining() == 0, source, ": corrupted at byte offset ", r.offset(), ": ",
           r.remaining(), " bytes after the last of ", nrec, " records", corrupt_hint());
  LB_CHECK(file_crc_ok, source, ": corrupted: the file checksum at byte offset ", size - 4,
           " does not match (stored ", hex32(file_crc_stored), ", computed ",
           hex32(crc32_of(data, size - 4)), ")");
  return m;
}

uint64_t save_compressed_model(const std::string& path, const CompressedModel& m) {
  const std::string bytes = serialize_compressed_model(m);
  write_file_atomic(path, bytes);
  return bytes.size();
}

CompressedModel load_compressed_model(const std::string& path) {
  const std::string bytes = read_file(path);
  return parse_compressed_model(bytes, path);
}

}  // namespace lowbit
