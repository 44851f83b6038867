#pragma once
/// A small SVG chart writer for study pictures (no plotting library): axes with "nice"
/// ticks (linear or log10 x), grid, title, axis labels, a legend, and per series a line,
/// a shaded band (min-max or ±std), markers with error bars and point labels.
///
///   SvgChart c{.title = "MNIST LeNet-5", .x_label = "epoch", .y_label = "val accuracy (%)"};
///   c.series.push_back({.name = "TWN", .x = {1, 2}, .y = {98.9, 99.1}, .lo = {...}, .hi = {...}});
///   write_file_atomic("acc.svg", c.to_svg());
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace lowbit {

struct SvgSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;  ///< band (lines) or error bars (markers); empty = none
  bool line = true;            ///< connect the points
  bool markers = false;        ///< draw a dot at each point
  bool label_points = false;   ///< write the series name beside its (single) point
  std::string color;           ///< CSS colour; empty = from the palette
  bool dashed = false;
};

struct SvgChart {
  std::string title, subtitle, x_label, y_label;
  bool log_x = false;      ///< x values must be > 0
  bool integer_x = false;  ///< x ticks at whole numbers only (epochs)
  /// Lower end of the y axis when the data go further down (early epochs far below the
  /// end would flatten the differences that matter); lines are clipped at the axis.
  std::optional<double> y_floor;
  int width = 760, height = 460;
  std::vector<SvgSeries> series;
  std::string to_svg() const;
};

/// About `target` round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi].
/// Steps are at least `min_step` (1 for whole-number axes).
std::vector<double> nice_ticks(double lo, double hi, int target = 6, double min_step = 0);
/// The i-th colour of the series palette (cycles after 10).
std::string palette_color(size_t i);
/// Escapes &, <, >, " for SVG text and attributes.
std::string svg_escape(const std::string& s);

}  // namespace lowbit
