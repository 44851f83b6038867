#pragma once
// Private: im2col / col2im for one NCHW image, the data movement behind conv2d.
//
// Legend: C input channels, H×W input size, KH×KW kernel, s stride, p zero padding,
// OH×OW output size. cols is the (C·KH·KW, OH·OW) matrix whose row r = (c, kh, kw) holds,
// for every output position (oh, ow), the input value x[c, oh·s − p + kh, ow·s − p + kw]
// (0 outside the image). Then conv(x, w) = w(OC, C·KH·KW) · cols.
#include <cstdint>

namespace lowbit::kernels {

struct ConvGeom {
  int64_t C = 0, H = 0, W = 0;
  int64_t KH = 0, KW = 0;
  int64_t stride = 1, pad = 0;
  int64_t OH = 0, OW = 0;

  /// Fills OH, OW from the other fields (floor division, as PyTorch).
  static ConvGeom make(int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t stride,
                       int64_t pad);
  int64_t col_rows() const { return C * KH * KW; }
  int64_t col_cols() const { return OH * OW; }
  int64_t image_size() const { return C * H * W; }
  /// True when cols would equal the image itself (1×1 kernel, stride 1, no padding).
  bool is_identity() const { return KH == 1 && KW == 1 && stride == 1 && pad == 0; }
};

/// x: one image (C, H, W) -> rows [r0, r1) of cols (C·KH·KW, OH·OW), stored with row
/// stride `ld` >= OH·OW (so that several images can sit side by side in one wider matrix).
/// Every entry of those rows is written (padding as zeros).
void im2col(const float* x, const ConvGeom& g, float* cols, int64_t ld, int64_t r0, int64_t r1);
inline void im2col(const float* x, const ConvGeom& g, float* cols, int64_t ld) {
  im2col(x, g, cols, ld, 0, g.col_rows());
}

/// The adjoint of im2col: channels [c0, c1) of x (C, H, W) are overwritten with the sum of
/// the cols entries (row stride `ld`) that im2col would have read from each pixel (padding
/// entries dropped).
void col2im(const float* cols, const ConvGeom& g, int64_t ld, float* x, int64_t c0, int64_t c1);
inline void col2im(const float* cols, const ConvGeom& g, int64_t ld, float* x) {
  col2im(cols, g, ld, x, 0, g.C);
}

}  // namespace lowbit::kernels
