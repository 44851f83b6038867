#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "compress/storage_report.h"

using namespace lowbit;

namespace {
LayerStorage row(const char* name, int64_t n, int64_t nz, int64_t fillers, int wb, int ib,
                 uint64_t wh, uint64_t ih, uint64_t table) {
  LayerStorage l;
  l.name = name;
  l.num_weights = n;
  l.num_nonzero = nz;
  l.num_entries = nz + fillers;
  l.weight_bits = wb;
  l.index_bits = ib;
  l.codebook_bits = 32 * ((uint64_t{1} << wb) - 1);
  l.weight_bits_pq = static_cast<uint64_t>(l.num_entries) * static_cast<uint64_t>(wb);
  l.index_bits_pq = static_cast<uint64_t>(l.num_entries) * static_cast<uint64_t>(ib);
  l.weight_bits_pqh = wh;
  l.index_bits_pqh = ih;
  l.table_bits = table;
  return l;
}
}  // namespace

TEST_CASE("storage report: totals, rates, JSON and markdown") {
  StorageReport rep;
  rep.layers.push_back(row("ip1", 235200, 18816, 100, 6, 5, 80000, 70000, 500));
  rep.layers.push_back(row("ip2", 30000, 2700, 0, 6, 5, 12000, 11000, 400));
  rep.raw_floats = 400;
  rep.error_before = 1.64;
  rep.error_after = 1.58;
  const LayerStorage t = rep.total();
  CHECK(t.num_weights == 265200);
  CHECK(t.num_nonzero == 21516);
  CHECK(t.num_entries == 21616);
  CHECK(t.avg_weight_bits_pq() == doctest::Approx(6.0));
  CHECK(t.avg_weight_bits_pqh() == doctest::Approx(92000.0 / 21616));
  const uint64_t pq = 32 * 63 * 2 + 21616 * 11;
  CHECK(t.bits_pq() == pq);
  CHECK(t.rate_pq() == doctest::Approx(double(pq) / (32.0 * 265200)));
  const uint64_t pqh = 32 * 63 * 2 + 92000 + 81000 + 900;
  CHECK(t.bits_pqh() == pqh);
  CHECK(rep.overall_rate() == doctest::Approx((pqh + 32.0 * 400) / (32.0 * (265200 + 400))));

  const nlohmann::json j = rep.to_json();
  CHECK(j["layers"].size() == 2);
  CHECK(j["layers"][0]["name"] == "ip1");
  CHECK(j["layers"][0]["num_fillers"] == 100);
  CHECK(j["layers"][0]["weight_bits_pq"].get<double>() == 6.0);
  CHECK(j["total"]["bits_pqh"].get<uint64_t>() == pqh);
  CHECK(j["total"]["ratio_pq"].get<double>() == doctest::Approx(32.0 * 265200 / double(pq)));
  CHECK(j["error_after"].get<double>() == 1.58);
  CHECK(!j.contains("file_bytes"));

  const std::string md = rep.to_markdown();
  CHECK(md.find("| Layer | #Weights | Weights% (P) | Weight bits (P+Q) | Weight bits (P+Q+H) "
                "| Index bits (P+Q) | Index bits (P+Q+H) | Compress rate (P+Q) | Compress rate (P+Q+H) |") == 0);
  CHECK(md.find("| ip1 | 235200 | 8.00% | 6.00 |") != std::string::npos);
  CHECK(md.find("| total | 265200 | 8.11% (12.3x) |") != std::string::npos);
  CHECK(md.find("before 1.64%, after 1.58%") != std::string::npos);
}

TEST_CASE("storage report of nothing is well-defined") {
  StorageReport rep;
  CHECK(rep.total().num_weights == 0);
  CHECK(rep.overall_rate() == 0.0);
  CHECK(rep.total().rate_pqh() == 0.0);
  CHECK(rep.to_json()["total"]["num_weights"] == 0);
  CHECK(rep.to_markdown().find("| total | 0 |") != std::string::npos);
}
