// Internals of rescale.cpp: coordinate tables, scipy-compatible casts and the
// row-streaming separable Gaussian. Kept apart so that each file stays readable.
#pragma once
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "rescale.hpp"


// The smoothing and interpolation loops are compute bound and vectorise cleanly; where
// the toolchain can dispatch at load time (GNU ifunc), compile them for AVX-512 and
// AVX2 as well as the portable baseline. Results are identical on every path:
// element-wise IEEE operations, no reassociation, no FMA (-ffp-contract=off).
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(PYCSC_NO_ISA_CLONES)
#define PYCSC_ISA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PYCSC_ISA_CLONES
#endif
#if defined(__GNUC__)
#define PYCSC_INLINE inline __attribute__((always_inline))
#else
#define PYCSC_INLINE inline
#endif

namespace pycsc::rescale_detail {

// Per output index along one axis: the first input tap and (order 1) its weights.
// ndimage.zoom with grid_mode=True maps output k to cc = ((k + 0.5) * zoom) - 0.5 with
// zoom = n_in / n_out in float64; order 0 takes floor(cc + 0.5), order 1 floor(cc) with
// weights 1 - frac and 1 - (1 - frac) (scipy's get_spline_interpolation_weights).
struct AxisTable {
  int64_t n_in = 1, n_out = 1;
  std::vector<int64_t> start;
  std::vector<double> w0, w1;

  AxisTable(int64_t nin, int64_t nout, int order) : n_in(nin), n_out(nout), start(nout) {
    const double zoom = static_cast<double>(nin) / static_cast<double>(nout);
    if (order == 1) {
      w0.resize(nout);
      w1.resize(nout);
    }
    for (int64_t k = 0; k < nout; ++k) {
      const double cc = ((static_cast<double>(k) + 0.5) * zoom) - 0.5;
      if (order == 0) {
        start[k] = static_cast<int64_t>(std::floor(cc + 0.5));
      } else {
        const double fl = std::floor(cc);
        start[k] = static_cast<int64_t>(fl);
        w0[k] = 1.0 - (cc - fl);
        w1[k] = 1.0 - w0[k];
      }
    }
  }
  bool valid(int64_t i) const { return i >= 0 && i < n_in; }
};

// Input indices of one axis that the interpolation reads, sorted and unique, limited
// to the outputs [o0, o1).
inline std::vector<int64_t> taps_used(const AxisTable& t, int order, int64_t o0, int64_t o1) {
  std::vector<char> used(static_cast<size_t>(t.n_in), 0);
  for (int64_t k = o0; k < o1; ++k)
    for (int d = 0; d <= order; ++d)
      if (t.valid(t.start[k] + d)) used[t.start[k] + d] = 1;
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < t.n_in; ++i)
    if (used[i]) idx.push_back(i);
  return idx;
}

// scipy's store of an interpolated float64 value (CASE_INTERP_OUT*): floats are cast;
// integers are rounded half away from zero, clamped, then truncated. Where the C cast
// overflows (only at the 64-bit limits) this reproduces what x86-64 builds of scipy give.
template <class W>
PYCSC_INLINE W interp_out(double t) {
  if constexpr (std::is_floating_point_v<W>) {
    return static_cast<W>(t);
  } else if constexpr (std::is_unsigned_v<W>) {
    constexpr double hi = static_cast<double>(std::numeric_limits<W>::max());
    t = t > 0 ? t + 0.5 : 0;
    if (t > hi) t = hi;
    if constexpr (sizeof(W) == 8) {
      if (t >= 18446744073709551616.0) return 0;
    }
    return static_cast<W>(t);
  } else {
    constexpr double hi = static_cast<double>(std::numeric_limits<W>::max());
    constexpr double lo = static_cast<double>(std::numeric_limits<W>::min());
    t = t > 0 ? t + 0.5 : t - 0.5;
    if (t > hi) t = hi;
    if (t < lo) t = lo;
    if constexpr (sizeof(W) == 8) {
      if (t >= 9223372036854775808.0) return std::numeric_limits<W>::min();
    }
    return static_cast<W>(t);
  }
}

// scipy's store of a filtered float64 line (CASE_COPY_LINE_TO_DATA): a plain C cast.
template <class W>
PYCSC_INLINE W store_cast(double v) {
  if constexpr (std::is_integral_v<W> && sizeof(W) == 8) {
    constexpr double lim = std::is_unsigned_v<W> ? 18446744073709551616.0 : 9223372036854775808.0;
    if (!(v < lim) || (std::is_unsigned_v<W> ? v <= -1.0 : v < -lim))
      return std::is_unsigned_v<W> ? W(0) : std::numeric_limits<W>::min();
  }
  return static_cast<W>(v);
}

// min and max of v[0, n) ignoring NaNs (numpy's nanmin / nanmax); `nan` tells whether
// one was seen. Returns false when there is no non-NaN value. Compilers do not vectorise
// a NaN-aware float min reduction by themselves, hence the explicit lanes (GNU vector
// extension: 64 bytes, lowered to whatever the clone's ISA has). `x < m ? x : m` keeps
// m when x is NaN, which is exactly "ignore NaN".
#if defined(__GNUC__) && !defined(__clang__)
template <class W>
struct Vec64;
template <>
struct Vec64<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct Vec64<double> {
  typedef double type __attribute__((vector_size(64)));
};
#endif

template <class W>
PYCSC_ISA_CLONES bool min_max(const W* v, int64_t n, W& lo, W& hi, bool& nan) {
  W l, h;
  if constexpr (std::is_floating_point_v<W>) {
    l = std::numeric_limits<W>::infinity();
    h = -l;
  } else {
    l = std::numeric_limits<W>::max();
    h = std::numeric_limits<W>::lowest();
  }
  int64_t i = 0;
  bool seen_nan = false;
#if defined(__GNUC__) && !defined(__clang__)
  if constexpr (std::is_floating_point_v<W>) {
    constexpr int kLanes = 64 / sizeof(W);
    using Vec = typename Vec64<W>::type;
    using Mask = decltype(Vec{} < Vec{});
    Vec ml, mh;
    Mask un{};
    for (int j = 0; j < kLanes; ++j) {
      ml[j] = l;
      mh[j] = h;
    }
    for (; i + kLanes <= n; i += kLanes) {
      Vec x;
      std::memcpy(&x, v + i, sizeof(Vec));
      ml = x < ml ? x : ml;
      mh = x > mh ? x : mh;
      un |= x != x;
    }
    for (int j = 0; j < kLanes; ++j) {
      l = ml[j] < l ? ml[j] : l;
      h = mh[j] > h ? mh[j] : h;
      seen_nan = seen_nan || un[j] != 0;
    }
  }
#endif
  for (; i < n; ++i) {
    const W x = v[i];
    if constexpr (std::is_floating_point_v<W>) seen_nan = seen_nan || x != x;
    l = x < l ? x : l;
    h = x > h ? x : h;
  }
  nan = seen_nan;
  lo = l;
  hi = h;
  return l <= h;
}

// min / max of a set of values with numpy's two behaviours: NaN-ignoring
// (nanmin/nanmax) and NaN-propagating (min/max; `nan` says whether one was seen).
template <class W>
struct Range {
  W lo = W(0), hi = W(0);
  bool any = false, nan = false;

  void add(const W* v, int64_t n) {
    Range r;
    r.any = min_max(v, n, r.lo, r.hi, r.nan);
    merge(r);
  }
  void merge(const Range& o) {
    nan = nan || o.nan;
    if (!o.any) return;
    if (!any) {
      lo = o.lo;
      hi = o.hi;
      any = true;
    } else {
      lo = std::min(lo, o.lo);
      hi = std::max(hi, o.hi);
    }
  }
};

// Input rows one thread has read as the centre of its axis-0 pass, and their range:
// skimage's clip needs min / max of the whole input, gathered here while the rows are
// in cache; rows no thread needed are scanned afterwards.
template <class T>
struct InputCover {
  std::vector<uint8_t> seen;  // per (z, y) row
  Range<T> range;
};

// One output row of scipy's symmetric correlation (NI_Correlate1D):
// t = c[x]*w[0]; for j = r..1: t += (lo[j][x] + hi[j][x]) * w[j]; stored rounded to W
// (dst of type W, or float64 holding the W value). The radius is a template parameter
// for the common small kernels so that the sum stays in registers.
template <class W, class D>
PYCSC_INLINE D round_to(double t) {
  if constexpr (std::is_same_v<D, W>) {
    return store_cast<W>(t);
  } else {
    return static_cast<D>(store_cast<W>(t));
  }
}

template <class W, int R, class A, class D>
PYCSC_INLINE void sym_correlate_fixed(const A* c, const A* const* lo, const A* const* hi,
                                      const double* w, int64_t n, D* __restrict dst) {
  const A* l[R + 1];
  const A* h[R + 1];
  double wj[R + 1];
  for (int j = 0; j <= R; ++j) {
    l[j] = lo[j];
    h[j] = hi[j];
    wj[j] = w[j];
  }
  for (int64_t x = 0; x < n; ++x) {
    double t = static_cast<double>(c[x]) * wj[0];
    for (int j = R; j >= 1; --j) t += (static_cast<double>(l[j][x]) + static_cast<double>(h[j][x])) * wj[j];
    dst[x] = round_to<W, D>(t);
  }
}

template <class W, class A, class D>
PYCSC_INLINE void sym_correlate(int r, const A* c, const A* const* lo, const A* const* hi, const double* w,
                                int64_t n, D* __restrict dst, double* __restrict acc) {
  switch (r) {
    case 0: return sym_correlate_fixed<W, 0>(c, lo, hi, w, n, dst);
    case 1: return sym_correlate_fixed<W, 1>(c, lo, hi, w, n, dst);
    case 2: return sym_correlate_fixed<W, 2>(c, lo, hi, w, n, dst);
    case 3: return sym_correlate_fixed<W, 3>(c, lo, hi, w, n, dst);
    case 4: return sym_correlate_fixed<W, 4>(c, lo, hi, w, n, dst);
    case 5: return sym_correlate_fixed<W, 5>(c, lo, hi, w, n, dst);
    case 6: return sym_correlate_fixed<W, 6>(c, lo, hi, w, n, dst);
    default: break;
  }
  for (int64_t x = 0; x < n; ++x) acc[x] = static_cast<double>(c[x]) * w[0];
  for (int j = r; j >= 1; --j) {
    const A* a = lo[j];
    const A* b = hi[j];
    for (int64_t x = 0; x < n; ++x) acc[x] += (static_cast<double>(a[x]) + static_cast<double>(b[x])) * w[j];
  }
  for (int64_t x = 0; x < n; ++x) dst[x] = round_to<W, D>(acc[x]);
}

// Separable Gaussian smoothing of single z planes, as three scipy correlate1d passes
// (axis 0, 1, 2) each rounded to W, computed only for the rows that are asked for.
// Not thread-safe: one instance per thread.
template <class T, class W>
class PlaneSmoother {
 public:
  PlaneSmoother(const T* in, const int64_t shape[3], const SymmetricKernel k[3], InputCover<T>* cover)
      : in_(in), nz_(shape[0]), ny_(shape[1]), nx_(shape[2]), kz_(k[0]), ky_(k[1]), kx_(k[2]), cover_(cover) {
    rz_ = kz_.active() ? kz_.radius() : 0;
    ry_ = ky_.active() ? ky_.radius() : 0;
    rx_ = kx_.active() ? kx_.radius() : 0;
    ring_rows_ = 2 * ry_ + 1;
    ring_.assign(static_cast<size_t>(ring_rows_ * nx_), 0.0);
    tag_.assign(static_cast<size_t>(ring_rows_), -1);
    line_.assign(static_cast<size_t>(nx_ + 2 * rx_), 0.0);
    acc_.assign(static_cast<size_t>(nx_), 0.0);
    zero_d_.assign(static_cast<size_t>(nx_), 0.0);
    zero_t_.assign(static_cast<size_t>(nx_), T(0));
    const size_t taps = static_cast<size_t>(std::max({rz_, ry_, rx_}) + 1);
    lo_t_.resize(taps);
    hi_t_.resize(taps);
    lo_d_.resize(taps);
    hi_d_.resize(taps);
  }

  // Smoothed rows `rows` (sorted) of plane p, written to dst + slot * nx for the
  // row's position `slot` in `rows`.
  PYCSC_ISA_CLONES void plane(int64_t p, const std::vector<int64_t>& rows, W* dst) {
    std::fill(tag_.begin(), tag_.end(), -1);
    double* lp = line_.data() + rx_;
    for (size_t s = 0; s < rows.size(); ++s) {
      const int64_t y = rows[s];
      if (ky_.active()) {
        for (int64_t q = std::max<int64_t>(0, y - ry_); q <= std::min(ny_ - 1, y + ry_); ++q) {
          const int64_t slot = q % ring_rows_;
          if (tag_[slot] != q) {
            zfiltered_row(p, q, ring_.data() + slot * nx_);
            tag_[slot] = q;
          }
        }
        for (int j = 1; j <= ry_; ++j) {
          lo_d_[j] = y - j >= 0 ? ring_row(y - j) : zero_d_.data();
          hi_d_[j] = y + j < ny_ ? ring_row(y + j) : zero_d_.data();
        }
        sym_correlate<W>(ry_, ring_row(y), lo_d_.data(), hi_d_.data(), ky_.half.data(), nx_, lp, acc_.data());
      } else {
        zfiltered_row(p, y, lp);
      }
      W* o = dst + static_cast<int64_t>(s) * nx_;
      if (kx_.active()) {
        for (int j = 1; j <= rx_; ++j) {
          lo_d_[j] = lp - j;
          hi_d_[j] = lp + j;
        }
        sym_correlate<W>(rx_, static_cast<const double*>(lp), lo_d_.data(), hi_d_.data(), kx_.half.data(), nx_,
                         o, acc_.data());
      } else {
        for (int64_t x = 0; x < nx_; ++x) o[x] = store_cast<W>(lp[x]);
      }
    }
  }

 private:
  PYCSC_INLINE const double* ring_row(int64_t q) const { return ring_.data() + (q % ring_rows_) * nx_; }

  // Row (p, y) after the axis-0 pass (rounded to W), as float64; the input as float64
  // when axis 0 is not smoothed.
  PYCSC_INLINE void zfiltered_row(int64_t p, int64_t y, double* dst) {
    const T* c = in_ + (p * ny_ + y) * nx_;
    if (cover_ && !cover_->seen[p * ny_ + y]) {
      cover_->seen[p * ny_ + y] = 1;
      cover_->range.add(c, nx_);
    }
    if (!kz_.active()) {
      for (int64_t x = 0; x < nx_; ++x) dst[x] = static_cast<double>(c[x]);
      return;
    }
    for (int j = 1; j <= rz_; ++j) {
      lo_t_[j] = p - j >= 0 ? in_ + ((p - j) * ny_ + y) * nx_ : zero_t_.data();
      hi_t_[j] = p + j < nz_ ? in_ + ((p + j) * ny_ + y) * nx_ : zero_t_.data();
    }
    sym_correlate<W>(rz_, c, lo_t_.data(), hi_t_.data(), kz_.half.data(), nx_, dst, acc_.data());
  }

  const T* in_;
  int64_t nz_, ny_, nx_;
  const SymmetricKernel &kz_, &ky_, &kx_;
  InputCover<T>* cover_;
  int rz_ = 0, ry_ = 0, rx_ = 0;
  int64_t ring_rows_ = 1;
  std::vector<double> ring_, line_, acc_, zero_d_;
  std::vector<int64_t> tag_;
  std::vector<T> zero_t_;
  std::vector<const T*> lo_t_, hi_t_;
  std::vector<const double*> lo_d_, hi_d_;
};

}  // namespace pycsc::rescale_detail
