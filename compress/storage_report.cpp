#include "compress/storage_report.h"

#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/format.h"

namespace lowbit {

double LayerStorage::density() const {
  return num_weights == 0 ? 1.0
                          : static_cast<double>(num_nonzero) / static_cast<double>(num_weights);
}

double LayerStorage::per_entry(uint64_t bits) const {
  return num_entries == 0 ? 0.0 : static_cast<double>(bits) / static_cast<double>(num_entries);
}

double LayerStorage::rate_pq() const {
  return num_weights == 0 ? 0.0
                          : static_cast<double>(bits_pq()) / static_cast<double>(dense_bits());
}

double LayerStorage::rate_pqh() const {
  return num_weights == 0 ? 0.0
                          : static_cast<double>(bits_pqh()) / static_cast<double>(dense_bits());
}

LayerStorage& LayerStorage::operator+=(const LayerStorage& o) {
  num_weights += o.num_weights;
  num_nonzero += o.num_nonzero;
  num_entries += o.num_entries;
  codebook_bits += o.codebook_bits;
  weight_bits_pq += o.weight_bits_pq;
  index_bits_pq += o.index_bits_pq;
  weight_bits_pqh += o.weight_bits_pqh;
  index_bits_pqh += o.index_bits_pqh;
  table_bits += o.table_bits;
  return *this;
}

LayerStorage StorageReport::total() const {
  LayerStorage t;
  t.name = "total";
  for (const auto& l : layers) t += l;
  return t;
}

double StorageReport::overall_rate() const {
  const LayerStorage t = total();
  const double dense = 32.0 * static_cast<double>(t.num_weights + raw_floats);
  if (dense == 0) return 0.0;
  return (static_cast<double>(t.bits_pqh()) + 32.0 * static_cast<double>(raw_floats)) / dense;
}

namespace {

double ratio(double rate) { return rate > 0 ? 1.0 / rate : 0.0; }

nlohmann::json row_json(const LayerStorage& l) {
  nlohmann::json j = {
      {"name", l.name},
      {"num_weights", l.num_weights},
      {"num_nonzero", l.num_nonzero},
      {"num_fillers", l.num_fillers()},
      {"density", l.density()},
      {"weight_bits_pq", l.avg_weight_bits_pq()},
      {"weight_bits_pqh", l.avg_weight_bits_pqh()},
      {"index_bits_pq", l.avg_index_bits_pq()},
      {"index_bits_pqh", l.avg_index_bits_pqh()},
      {"codebook_bits", l.codebook_bits},
      {"huffman_table_bits", l.table_bits},
      {"bits_pq", l.bits_pq()},
      {"bits_pqh", l.bits_pqh()},
      {"dense_bits", l.dense_bits()},
      {"rate_pq", l.rate_pq()},
      {"rate_pqh", l.rate_pqh()},
      {"ratio_pq", ratio(l.rate_pq())},
      {"ratio_pqh", ratio(l.rate_pqh())},
  };
  if (l.weight_bits > 0) j["code_bits"] = l.weight_bits;
  if (l.index_bits > 0) j["relative_index_bits"] = l.index_bits;
  return j;
}

std::string pct(double fraction) {
  return format_double(fraction < 0.001 && fraction > 0 ? "%.4f%%" : "%.2f%%", 100.0 * fraction);
}

}  // namespace

nlohmann::json StorageReport::to_json() const {
  nlohmann::json j;
  j["layers"] = nlohmann::json::array();
  for (const auto& l : layers) j["layers"].push_back(row_json(l));
  j["total"] = row_json(total());
  j["raw_floats"] = raw_floats;
  const LayerStorage t = total();
  const uint64_t overall_bits = t.bits_pqh() + 32 * static_cast<uint64_t>(raw_floats);
  j["overall"] = {{"bits", overall_bits},
                  {"dense_bits", 32 * static_cast<uint64_t>(t.num_weights + raw_floats)},
                  {"rate", overall_rate()},
                  {"ratio", ratio(overall_rate())}};
  if (file_bytes) j["file_bytes"] = *file_bytes;
  if (error_before) j["error_before"] = *error_before;
  if (error_after) j["error_after"] = *error_after;
  return j;
}

std::string StorageReport::to_markdown() const {
  std::ostringstream os;
  os << "| Layer | #Weights | Weights% (P) | Weight bits (P+Q) | Weight bits (P+Q+H) "
        "| Index bits (P+Q) | Index bits (P+Q+H) | Compress rate (P+Q) | Compress rate (P+Q+H) |\n"
     << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  auto row = [&](const LayerStorage& l, bool is_total) {
    os << "| " << l.name << " | " << l.num_weights << " | " << pct(l.density());
    if (is_total) os << " (" << format_double("%.1f", ratio(l.density())) << "x)";
    os << " | " << format_double("%.2f", l.avg_weight_bits_pq()) << " | "
       << format_double("%.2f", l.avg_weight_bits_pqh()) << " | " << format_double("%.2f", l.avg_index_bits_pq())
       << " | " << format_double("%.2f", l.avg_index_bits_pqh()) << " | " << pct(l.rate_pq());
    if (is_total) os << " (" << format_double("%.1f", ratio(l.rate_pq())) << "x)";
    os << " | " << pct(l.rate_pqh());
    if (is_total) os << " (" << format_double("%.1f", ratio(l.rate_pqh())) << "x)";
    os << " |\n";
  };
  for (const auto& l : layers) row(l, false);
  const LayerStorage t = total();
  row(t, true);
  os << "\nWith the " << raw_floats << " raw float32 values (biases, batch norm): "
     << (t.bits_pqh() + 32 * static_cast<uint64_t>(raw_floats) + 7) / 8 << " bytes vs "
     << 4 * (t.num_weights + raw_floats) << " dense, " << pct(overall_rate()) << " ("
     << format_double("%.1f", ratio(overall_rate())) << "x).";
  if (file_bytes) os << " File: " << *file_bytes << " bytes.";
  os << "\n";
  if (error_before || error_after) {
    os << "\nTest error:";
    if (error_before) os << " before " << format_double("%.2f", *error_before) << "%";
    if (error_before && error_after) os << ",";
    if (error_after) os << " after " << format_double("%.2f", *error_after) << "%";
    os << "\n";
  }
  return os.str();
}

}  // namespace lowbit
