#include "experiment/study_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/check.h"
#include "core/format.h"

namespace lowbit {

namespace {

std::string num(double v) { return format_double("%.2f", v); }

// Tick text: plain for linear axes; 10k / 2M style for log axes (sizes in bits).
std::string tick_text(double v, bool si) {
  if (si) {
    const char* suffix[] = {"", "k", "M", "G", "T"};
    int k = 0;
    double a = v;
    while (std::fabs(a) >= 1000.0 && k < 4) {
      a /= 1000.0;
      ++k;
    }
    return format_double("%g", std::round(a * 100.0) / 100.0) + suffix[k];
  }
  const double r = std::round(v * 1e6) / 1e6;  // no "0.30000000000000004"
  return format_double("%g", r == 0.0 ? 0.0 : r);
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Log-axis ticks: 1, 2, 5 x 10^k inside [lo, hi] (only powers of ten when the range is wide).
std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> out;
  const int k0 = int(std::floor(std::log10(lo))), k1 = int(std::ceil(std::log10(hi)));
  const bool wide = k1 - k0 > 4;
  for (int k = k0; k <= k1; ++k)
    for (double m : {1.0, 2.0, 5.0}) {
      if (wide && m != 1.0) continue;
      const double v = m * std::pow(10.0, k);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push_back(v);
    }
  return out;
}

}  // namespace

std::string palette_color(size_t i) {
  // Tableau-10 with the pale yellow, pink and grey darkened so point labels stay readable.
  static const char* const colors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                       "#b8860b", "#b07aa1", "#d37295", "#9c755f", "#7f7f7f"};
  return colors[i % std::size(colors)];
}

std::vector<double> nice_ticks(double lo, double hi, int target, double min_step) {
  LB_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && target >= 2, "nice_ticks: bad range [", lo,
           ", ", hi, "]");
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double raw = (hi - lo) / (target - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  step = std::max(step, min_step);
  // From the multiple of step at or below lo to the one at or above hi (multiplied, not
  // accumulated, so 0.1 steps do not drift).
  const int64_t k0 = int64_t(std::floor(lo / step + 1e-9)), k1 = int64_t(std::ceil(hi / step - 1e-9));
  std::vector<double> out;
  for (int64_t k = k0; k <= k1; ++k) out.push_back(k == 0 ? 0.0 : double(k) * step);
  return out;
}

std::string svg_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string SvgChart::to_svg() const {
  // ---- data ranges (bands and error bars included)
  Range xr, yr;
  for (const SvgSeries& s : series) {
    LB_CHECK(s.x.size() == s.y.size(), "SvgChart: series \"", s.name, "\" has ", s.x.size(), " x and ",
             s.y.size(), " y values");
    LB_CHECK(s.lo.empty() || (s.lo.size() == s.y.size() && s.hi.size() == s.y.size()), "SvgChart: series \"",
             s.name, "\": lo/hi must match y");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (log_x) LB_CHECK(s.x[i] > 0, "SvgChart: log x axis needs x > 0 (series \"", s.name, "\")");
      xr.add(log_x ? std::log10(s.x[i]) : s.x[i]);
      yr.add(s.y[i]);
      if (!s.lo.empty()) {
        yr.add(s.lo[i]);
        yr.add(s.hi[i]);
      }
    }
  }
  if (xr.empty()) xr = {0, 1};
  if (yr.empty()) yr = {0, 1};
  if (y_floor && yr.lo < *y_floor && yr.hi > *y_floor) yr.lo = *y_floor;
  // Pad: linear x to nice ticks; log x by a quarter decade; y by 5 % of its span.
  std::vector<double> xt, yt;
  if (log_x) {
    const double pad = std::max(0.15, 0.08 * (xr.hi - xr.lo));
    xr.lo -= pad;
    xr.hi += pad;
    xt = log_ticks(std::pow(10.0, xr.lo), std::pow(10.0, xr.hi));
  } else {
    xt = nice_ticks(xr.lo, xr.hi, 8, integer_x ? 1.0 : 0.0);
    xr.lo = std::min(xr.lo, xt.front());
    xr.hi = std::max(xr.hi, xt.back());
  }
  {
    const double span = std::max(yr.hi - yr.lo, 1e-6);
    yt = nice_ticks(yr.lo - 0.05 * span, yr.hi + 0.05 * span, 7);
    yr.lo = yt.front();
    yr.hi = yt.back();
  }

  // ---- layout
  const double left = 72, right = 200, top = subtitle.empty() ? 46 : 62, bottom = 58;
  const double pw = width - left - right, ph = height - top - bottom;
  auto X = [&](double x) {
    const double v = log_x ? std::log10(x) : x;
    return left + (v - xr.lo) / (xr.hi - xr.lo) * pw;
  };
  auto Y = [&](double y) { return top + (yr.hi - y) / (yr.hi - yr.lo) * ph; };
  auto color = [&](size_t i) {
    return series[i].color.empty() ? palette_color(i) : series[i].color;
  };

  std::string o;
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" font-family=\"Helvetica, Arial, sans-serif\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(left) + "\" y=\"24\" font-size=\"16\" font-weight=\"bold\" fill=\"#222\">" +
       svg_escape(title) + "</text>\n";
  if (!subtitle.empty())
    o += "<text x=\"" + num(left) + "\" y=\"44\" font-size=\"12\" fill=\"#555\">" + svg_escape(subtitle) +
         "</text>\n";

  // grid + ticks
  o += "<g font-size=\"11\" fill=\"#444\">\n";
  for (double v : yt) {
    const double y = Y(v);
    o += "<line x1=\"" + num(left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(y) +
         "\" stroke=\"#e3e3e3\"/>\n";
    o += "<text x=\"" + num(left - 8) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\">" +
         tick_text(v, false) + "</text>\n";
  }
  for (double v : xt) {
    const double x = X(v);
    if (x < left - 0.5 || x > left + pw + 0.5) continue;
    o += "<line x1=\"" + num(x) + "\" y1=\"" + num(top) + "\" x2=\"" + num(x) + "\" y2=\"" + num(top + ph) +
         "\" stroke=\"#e3e3e3\"/>\n";
    o += "<line x1=\"" + num(x) + "\" y1=\"" + num(top + ph) + "\" x2=\"" + num(x) + "\" y2=\"" +
         num(top + ph + 5) + "\" stroke=\"#444\"/>\n";
    o += "<text x=\"" + num(x) + "\" y=\"" + num(top + ph + 18) + "\" text-anchor=\"middle\">" +
         tick_text(v, log_x) + "</text>\n";
  }
  o += "</g>\n";
  o += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
       "\" fill=\"none\" stroke=\"#444\"/>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(height - 14.0) +
       "\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\">" + svg_escape(x_label) + "</text>\n";
  o += "<text transform=\"translate(18," + num(top + ph / 2) +
       ") rotate(-90)\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\">" + svg_escape(y_label) +
       "</text>\n";

  // ---- series: bands first (under every line), then lines, bars, markers, labels
  o += "<g clip-path=\"url(#plot)\">\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const SvgSeries& s = series[i];
    if (!s.line || s.lo.empty() || s.x.size() < 2) continue;
    std::string pts;
    for (size_t k = 0; k < s.x.size(); ++k) pts += num(X(s.x[k])) + "," + num(Y(s.hi[k])) + " ";
    for (size_t k = s.x.size(); k-- > 0;) pts += num(X(s.x[k])) + "," + num(Y(std::max(s.lo[k], yr.lo))) + " ";
    o += "<polygon points=\"" + pts + "\" fill=\"" + color(i) + "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const SvgSeries& s = series[i];
    if (s.line && s.x.size() >= 2) {
      std::string pts;
      for (size_t k = 0; k < s.x.size(); ++k) pts += num(X(s.x[k])) + "," + num(Y(s.y[k])) + " ";
      o += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + color(i) + "\" stroke-width=\"2\"" +
           (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
    }
    if (!s.line && !s.lo.empty())
      for (size_t k = 0; k < s.x.size(); ++k) {
        const double x = X(s.x[k]);
        o += "<path d=\"M" + num(x) + "," + num(Y(s.lo[k])) + "V" + num(Y(s.hi[k])) + "M" + num(x - 4) + "," +
             num(Y(s.lo[k])) + "h8M" + num(x - 4) + "," + num(Y(s.hi[k])) + "h8\" stroke=\"" + color(i) +
             "\" stroke-width=\"1.5\" fill=\"none\"/>\n";
      }
    if (s.markers || !s.line || s.x.size() == 1)
      for (size_t k = 0; k < s.x.size(); ++k)
        o += "<circle cx=\"" + num(X(s.x[k])) + "\" cy=\"" + num(Y(s.y[k])) + "\" r=\"4.5\" fill=\"" + color(i) +
             "\" stroke=\"white\" stroke-width=\"1\"/>\n";
  }
  o += "</g>\n";
  // Point labels outside the clip: right of the point (left when that leaves the plot),
  // moved up or down in steps until they overlap no earlier label (nearby binary methods).
  struct Box {
    double x0, y0, x1, y1;
  };
  std::vector<Box> placed;
  for (size_t i = 0; i < series.size(); ++i) {
    const SvgSeries& s = series[i];
    if (!s.label_points) continue;
    for (size_t k = 0; k < s.x.size(); ++k) {
      const double w = 6.2 * double(s.name.size()), h = 12;
      const double px = X(s.x[k]), py = Y(s.y[k]);
      const double x0 = px + 7 + w > left + pw ? px - 7 - w : px + 7;
      double y = py - 6;
      for (int step = 0; step < 12; ++step) {
        const double cand = py - 6 + (step % 2 ? 1.0 : -1.0) * 13.0 * double((step + 1) / 2);
        const Box b{x0, cand - h + 2, x0 + w, cand + 2};
        const bool clash = std::any_of(placed.begin(), placed.end(), [&](const Box& p) {
          return b.x0 < p.x1 && p.x0 < b.x1 && b.y0 < p.y1 && p.y0 < b.y1;
        });
        if (!clash) {
          y = cand;
          break;
        }
      }
      placed.push_back({x0, y - h + 2, x0 + w, y + 2});
      o += "<text x=\"" + num(x0) + "\" y=\"" + num(y) + "\" font-size=\"11\" fill=\"" + color(i) + "\">" +
           svg_escape(s.name) + "</text>\n";
    }
  }
  o += "<defs><clipPath id=\"plot\"><rect x=\"" + num(left - 6) + "\" y=\"" + num(top - 6) + "\" width=\"" +
       num(pw + 12) + "\" height=\"" + num(ph + 6) + "\"/></clipPath></defs>\n";

  // ---- legend (right of the plot)
  o += "<g font-size=\"12\" fill=\"#222\">\n";
  double ly = top + 8;
  const double lx = left + pw + 16;
  for (size_t i = 0; i < series.size(); ++i, ly += 20) {
    const SvgSeries& s = series[i];
    if (s.line)
      o += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 22) + "\" y2=\"" + num(ly) +
           "\" stroke=\"" + color(i) + "\" stroke-width=\"3\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : "") +
           "/>\n";
    else
      o += "<circle cx=\"" + num(lx + 11) + "\" cy=\"" + num(ly) + "\" r=\"4.5\" fill=\"" + color(i) + "\"/>\n";
    o += "<text x=\"" + num(lx + 30) + "\" y=\"" + num(ly + 4) + "\">" + svg_escape(s.name) + "</text>\n";
  }
  o += "</g>\n</svg>\n";
  return o;
}

}  // namespace lowbit
