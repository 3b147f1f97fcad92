// Resampling with scikit-image 0.26 `transform.rescale(..., mode="constant",
// preserve_range=True)` semantics, order 0 (nearest) and 1 (linear), bit for bit.
//
// Method: the official path is gaussian_filter (optional anti-aliasing) -> ndimage.zoom
// (grid_mode=True, grid-constant) -> clip to the input range. Every step is separable
// per axis, so the kernel builds one coordinate table per axis and streams the output
// in y bands, plane by plane: for each input plane the interpolation needs, the three
// 1D Gaussian passes run row by row (a ring of z-filtered rows feeds the y pass, the
// y pass feeds the x pass), each pass rounding to the working dtype exactly where
// scipy stores its intermediate array; the output rows are interpolated from the two
// smoothed planes while they are in cache, and the band keeps the 2 r_z + 1 input
// planes of one smoothed plane cached for the next. The input range that the clip
// needs is taken from the rows the z pass reads anyway. Order 0 without smoothing is
// a separable gather (strided copies for integer factors; repeated rows and planes
// become memcpy). Hot loops are compiled for AVX-512, AVX2 and the baseline and picked
// at load time (GNU ifunc).
// Exactness: the same float64 operation order as scipy (symmetric correlation
// `x0*w0 + sum_{j=r..1} (x[-j] + x[+j])*w[j]`, taps summed z, y, x lexicographically
// as ((v*wz)*wy)*wx, linear weights w0 = 1-frac, w1 = 1-w0), the same casts
// (ints: +-0.5 then truncate, as scipy's CASE_INTERP_OUT), no FMA contraction. Only
// the sign / payload of NaNs may differ (the compiler may commute an addition), and
// the sign of a zero that numpy's clip would replace by an equal bound of the other sign.
// Complexity: O(N_in * (r_z + r_y + r_x)) for the smoothing of the planes that are
// used plus O(N_out * 2^d) for the interpolation; O(N_out) without smoothing.
// Peak memory: output + per thread two smoothed planes (only the band's rows), a ring
// of 2 r_y + 1 rows and one byte per input (z, y) row.
// Reference: scipy.ndimage `NI_ZoomShift`, `NI_Correlate1D`, scikit-image `resize`.
// Oracle in tests: skimage.transform.rescale (tests/ops/test_resample.py).
#pragma once
#include <cstdint>
#include <vector>

namespace pycsc {

// A symmetric 1D Gaussian in scipy's layout: `half[0]` is the centre weight and
// `half[j]` the weight of the pair at distance j. Empty = no smoothing on that axis.
struct SymmetricKernel {
  std::vector<double> half;
  bool active() const { return !half.empty(); }
  int radius() const { return static_cast<int>(half.size()) - 1; }
};

// Resamples the C-contiguous volume `in` (shape z, y, x; 2D images use z = 1) onto
// `out` (C-contiguous, shape `out_shape`). `order` is 0 or 1; `kernels[axis]` is the
// anti-aliasing Gaussian of each axis (inactive = none). W is the working and output
// dtype: T for order 0, float for float input at order 1, double otherwise.
// The result is already clipped as scikit-image clips it.
template <class T, class W>
void rescale_volume(const T* in, const int64_t in_shape[3], W* out, const int64_t out_shape[3],
                    int order, const SymmetricKernel kernels[3]);

}  // namespace pycsc
