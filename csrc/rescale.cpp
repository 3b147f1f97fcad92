// rescale_volume: see rescale.hpp for the method, its exactness rules and its cost.
#include "rescale.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "parallel.hpp"
#include "rescale_detail.hpp"
#include "rescale_linear.hpp"

namespace pycsc {
namespace {

using rescale_detail::AxisTable;
using rescale_detail::interp_out;
using rescale_detail::linear_row;
using rescale_detail::XPlan;
using rescale_detail::PlaneSmoother;
using rescale_detail::InputCover;
using rescale_detail::Range;
using rescale_detail::taps_used;

// One thread's share of the output: planes [z0, z1) x rows [y0, y1).
struct Block {
  int64_t z0, z1, y0, y1;
};

// Contiguous slabs along z when there are enough output planes, bands along y otherwise
// (2D images, thin volumes), so that every thread gets a similar share.
std::vector<Block> split_output(const int64_t os[3], int64_t work) {
  const int nt = threads_for(work, int64_t(1) << 20);
  std::vector<Block> blocks;
  const bool by_z = os[0] >= 4 * nt || os[1] < nt;
  const int64_t n = by_z ? os[0] : os[1];
  const int parts = static_cast<int>(std::min<int64_t>(nt, n));
  for (int t = 0; t < parts; ++t) {
    const int64_t a = n * t / parts, b = n * (t + 1) / parts;
    blocks.push_back(by_z ? Block{a, b, 0, os[1]} : Block{0, os[0], a, b});
  }
  return blocks;
}

template <class T>
Range<T> input_range(const T* in, int64_t n) {
  const int nt = threads_for(n, int64_t(1) << 22);
  std::vector<Range<T>> part(nt);
#pragma omp parallel for schedule(static, 1) num_threads(nt)
  for (int t = 0; t < nt; ++t) part[t].add(in + n * t / nt, n * (t + 1) / nt - n * t / nt);
  Range<T> r;
  for (const auto& p : part) r.merge(p);
  return r;
}

// Range of the whole input from the rows the smoothing read and a scan of the others.
template <class T>
Range<T> covered_range(const T* in, const int64_t is[3], const std::vector<InputCover<T>>& cover) {
  const int64_t rows = is[0] * is[1];
  std::vector<int64_t> missing;
  for (int64_t q = 0; q < rows; ++q) {
    bool seen = false;
    for (const auto& c : cover) seen = seen || c.seen[q];
    if (!seen) missing.push_back(q);
  }
  Range<T> r;
  for (const auto& c : cover) r.merge(c.range);
  const int64_t n = static_cast<int64_t>(missing.size());
  const int nt = threads_for(n * is[2], int64_t(1) << 22);
  std::vector<Range<T>> part(nt);
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t i = 0; i < n; ++i) part[thread_id()].add(in + missing[i] * is[2], is[2]);
  for (const auto& p : part) r.merge(p);
  return r;
}

// scikit-image's _clip_warp_output for mode="constant", cval=0: clip `out` to the input
// range, widened to include 0 when 0 lies outside the input range but inside the output's.
template <class T, class W>
void clip_like_skimage(const Range<T>& in_r, W* out, int64_t n_out, const Range<W>& out_r) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  // numpy: min(input) is NaN when the input holds one; then nanmin/nanmax are used on
  // both arrays. All-NaN input gives NaN bounds.
  W lo, hi;
  if constexpr (std::is_floating_point_v<W>) {
    lo = in_r.any ? static_cast<W>(in_r.lo) : static_cast<W>(kNaN);
    hi = in_r.any ? static_cast<W>(in_r.hi) : static_cast<W>(kNaN);
  } else {
    lo = static_cast<W>(in_r.lo);
    hi = static_cast<W>(in_r.hi);
  }
  const bool ignore_nan = in_r.nan;
  const bool out_nan = !ignore_nan && out_r.nan;
  const bool in_has_zero = lo <= W(0) && W(0) <= hi;
  const bool out_has_zero = !out_nan && out_r.any && out_r.lo <= W(0) && W(0) <= out_r.hi;
  if (!in_has_zero && out_has_zero) {
    lo = std::min(lo, W(0));
    hi = std::max(hi, W(0));
  }
  if constexpr (std::is_floating_point_v<W>) {
    if (lo != lo || hi != hi) {
      std::fill(out, out + n_out, static_cast<W>(kNaN));
      return;
    }
  }
  if (!out_r.any || (out_r.lo >= lo && out_r.hi <= hi)) return;
  const int nt = threads_for(n_out, int64_t(1) << 22);
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t i = 0; i < n_out; ++i) {
    const W v = out[i];
    out[i] = v < lo ? lo : (v > hi ? hi : v);
  }
}

// ---- order 0 without smoothing: a separable gather --------------------------------

// Values pass through float64 in scipy; only 64-bit integers can change on the way.
template <class T>
constexpr bool kExactViaDouble = !(std::is_integral_v<T> && sizeof(T) == 8);

template <class T, int Step>
void gather_step(const T* row, int64_t first, int64_t n, T* o) {
  const T* r = row + first;
  for (int64_t k = 0; k < n; ++k) o[k] = r[Step * k];
}

template <class T>
void gather_row(const T* row, const AxisTable& tx, int64_t step, T* o, bool& changed) {
  const int64_t n = tx.n_out;
  if constexpr (kExactViaDouble<T>) {
    if (step == 1) {
      std::memcpy(o, row + tx.start[0], n * sizeof(T));
    } else if (step == 2) {
      gather_step<T, 2>(row, tx.start[0], n, o);
    } else if (step == 3) {
      gather_step<T, 3>(row, tx.start[0], n, o);
    } else if (step == 4) {
      gather_step<T, 4>(row, tx.start[0], n, o);
    } else {
      const int64_t* ix = tx.start.data();
      for (int64_t k = 0; k < n; ++k) o[k] = tx.valid(ix[k]) ? row[ix[k]] : T(0);
    }
  } else {
    const int64_t* ix = tx.start.data();
    bool ch = false;
    for (int64_t k = 0; k < n; ++k) {
      const T v = tx.valid(ix[k]) ? row[ix[k]] : T(0);
      o[k] = interp_out<T>(static_cast<double>(v));
      ch |= o[k] != v;
    }
    changed = changed || ch;
  }
}

// Step of an all-valid arithmetic index table, 0 when the table is not one.
int64_t affine_step(const AxisTable& t) {
  if (!t.valid(t.start.front()) || !t.valid(t.start.back())) return 0;
  if (t.n_out == 1) return 1;
  const int64_t s = t.start[1] - t.start[0];
  if (s < 1) return 0;
  for (int64_t k = 1; k < t.n_out; ++k)
    if (t.start[k] - t.start[k - 1] != s) return 0;
  return s;
}

template <class T>
void nearest_plain(const T* in, const int64_t is[3], T* out, const int64_t os[3]) {
  const AxisTable tz(is[0], os[0], 0), ty(is[1], os[1], 0), tx(is[2], os[2], 0);
  const int64_t step = affine_step(tx);
  const int64_t row_n = os[2], plane_n = os[1] * os[2];
  const auto blocks = split_output(os, os[0] * plane_n);
  std::vector<char> changed(blocks.size(), 0);
#pragma omp parallel for schedule(static, 1) num_threads(static_cast<int>(blocks.size()))
  for (int64_t b = 0; b < static_cast<int64_t>(blocks.size()); ++b) {
    const Block& bl = blocks[b];
    bool ch = false;
    for (int64_t oz = bl.z0; oz < bl.z1; ++oz) {
      T* op = out + oz * plane_n;
      const int64_t iz = tz.start[oz];
      if (oz > bl.z0 && iz == tz.start[oz - 1] && bl.y0 == 0 && bl.y1 == os[1]) {
        std::memcpy(op, op - plane_n, plane_n * sizeof(T));
        continue;
      }
      for (int64_t oy = bl.y0; oy < bl.y1; ++oy) {
        T* o = op + oy * row_n;
        const int64_t iy = ty.start[oy];
        if (!tz.valid(iz) || !ty.valid(iy)) {
          std::fill(o, o + row_n, T(0));
        } else if (oy > bl.y0 && iy == ty.start[oy - 1]) {
          std::memcpy(o, o - row_n, row_n * sizeof(T));
        } else {
          gather_row(in + (iz * is[1] + iy) * is[2], tx, step, o, ch);
        }
      }
    }
    changed[b] = ch;
  }
  if (std::find(changed.begin(), changed.end(), 1) == changed.end()) return;
  // Rounding through float64 moved some 64-bit ids: skimage's clip then matters.
  const int64_t n_out = os[0] * plane_n;
  Range<T> out_r;
  out_r.add(out, n_out);
  clip_like_skimage(input_range(in, is[0] * is[1] * is[2]), out, n_out, out_r);
}

// ---- smoothing and / or linear interpolation ---------------------------------------

// Source planes for one thread: the input itself (no smoothing) or smoothed planes,
// of which only the rows this thread reads are kept (row y at slot row_slot[y]).
template <class T, class W, class S>
class PlaneSource {
 public:
  PlaneSource(const T* in, const int64_t is[3], const SymmetricKernel k[3], std::vector<int64_t> rows,
              InputCover<T>* cover)
      : in_(in), ny_(is[1]), nx_(is[2]), rows_(std::move(rows)) {
    smooth_ = k[0].active() || k[1].active() || k[2].active();
    if (smooth_) {
      smoother_ = std::make_unique<PlaneSmoother<T, W>>(in, is, k, cover);
      row_slot_.assign(static_cast<size_t>(ny_), -1);
      for (size_t s = 0; s < rows_.size(); ++s) row_slot_[rows_[s]] = static_cast<int64_t>(s);
      for (auto& b : buf_) b.resize(rows_.size() * nx_);
    }
  }
  // Plane p; `keep` is a plane that must stay available.
  const S* plane(int64_t p, int64_t keep) {
    if constexpr (std::is_same_v<S, T>) {
      if (!smooth_) return in_ + p * ny_ * nx_;
    }
    if constexpr (std::is_same_v<S, W>) {
      for (int s = 0; s < 2; ++s)
        if (tag_[s] == p) return buf_[s].data();
      const int s = tag_[0] == keep ? 1 : 0;
      smoother_->plane(p, rows_, buf_[s].data());
      tag_[s] = p;
      return buf_[s].data();
    }
    return nullptr;
  }
  const S* row(const S* plane, int64_t y) const {
    return plane + (smooth_ ? row_slot_[y] : y) * nx_;
  }

 private:
  const T* in_;
  int64_t ny_, nx_;
  std::vector<int64_t> rows_, row_slot_;
  bool smooth_ = false;
  std::unique_ptr<PlaneSmoother<T, W>> smoother_;
  std::vector<W> buf_[2];
  int64_t tag_[2] = {-1, -1};
};

template <class T, class W, class S>
void interpolate_block(const T* in, const int64_t is[3], W* out, const int64_t os[3], int order,
                       const SymmetricKernel k[3], const AxisTable& tz, const AxisTable& ty,
                       const AxisTable& tx, const XPlan& xplan, const Block& bl, Range<W>& range,
                       InputCover<T>* cover) {
  PlaneSource<T, W, S> src(in, is, k, taps_used(ty, order, bl.y0, bl.y1), cover);
  std::vector<double> q(order == 1 ? 4 * static_cast<size_t>(is[2] + 1) + static_cast<size_t>(os[2]) : 0);
  for (int64_t oz = bl.z0; oz < bl.z1; ++oz) {
    const int64_t z0 = tz.start[oz];
    const S* pz[2] = {nullptr, nullptr};
    double wz[2] = {1.0, 0.0};
    if (order == 1) {
      wz[0] = tz.w0[oz];
      wz[1] = tz.w1[oz];
      if (tz.valid(z0)) pz[0] = src.plane(z0, z0 + 1);
      if (tz.valid(z0 + 1)) pz[1] = src.plane(z0 + 1, z0);
    } else if (tz.valid(z0)) {
      pz[0] = src.plane(z0, -1);
    }
    for (int64_t oy = bl.y0; oy < bl.y1; ++oy) {
      W* o = out + (oz * os[1] + oy) * os[2];
      const int64_t y0 = ty.start[oy];
      if (order == 0) {
        if (pz[0] && ty.valid(y0)) {
          const S* r = src.row(pz[0], y0);
          for (int64_t ox = 0; ox < os[2]; ++ox) {
            const int64_t i = tx.start[ox];
            o[ox] = interp_out<W>(tx.valid(i) ? static_cast<double>(r[i]) : 0.0);
          }
        } else {
          std::fill(o, o + os[2], W(0));
        }
      } else {
        const S* rows[4];
        double a[4], b[4];
        int n = 0;
        for (int dz = 0; dz < 2; ++dz) {
          if (!pz[dz]) continue;
          for (int dy = 0; dy < 2; ++dy) {
            if (!ty.valid(y0 + dy)) continue;
            rows[n] = src.row(pz[dz], y0 + dy);
            a[n] = wz[dz];
            b[n] = dy == 0 ? ty.w0[oy] : ty.w1[oy];
            ++n;
          }
        }
        linear_row<S, W>(rows, a, b, n, tx, xplan, q.data(), o);
      }
      range.add(o, os[2]);
    }
  }
}

// Output rows per band: about 1 MiB of input rows (with the y halo) per z tap.
inline int64_t band_rows(const int64_t is[3], const int64_t os[3], const SymmetricKernel k[3],
                         size_t item) {
  const int64_t taps = k[0].active() ? 2 * k[0].radius() + 2 : 2;
  const int64_t halo = k[1].active() ? 2 * k[1].radius() : 0;
  int64_t in_rows = (int64_t(1) << 20) / (taps * is[2] * static_cast<int64_t>(std::max<size_t>(item, 4)));
  in_rows = std::max<int64_t>({in_rows, 8, 4 * halo});
  return std::max<int64_t>(1, in_rows * os[1] / is[1]);
}

template <class T, class W>
void smooth_and_interpolate(const T* in, const int64_t is[3], W* out, const int64_t os[3], int order,
                            const SymmetricKernel k[3]) {
  const AxisTable tz(is[0], os[0], order), ty(is[1], os[1], order), tx(is[2], os[2], order);
  const XPlan xplan = order == 1 ? XPlan(tx) : XPlan();
  const bool smooth = k[0].active() || k[1].active() || k[2].active();
  const int64_t n_in = is[0] * is[1] * is[2], n_out = os[0] * os[1] * os[2];
  const auto blocks = split_output(os, n_out + (smooth ? n_in : 0));
  std::vector<Range<W>> ranges(blocks.size());
  std::vector<InputCover<T>> cover(smooth ? blocks.size() : 0);
  for (auto& c : cover) c.seen.assign(static_cast<size_t>(is[0] * is[1]), 0);
  const int64_t band = band_rows(is, os, k, sizeof(T));
#pragma omp parallel for schedule(static, 1) num_threads(static_cast<int>(blocks.size()))
  for (int64_t b = 0; b < static_cast<int64_t>(blocks.size()); ++b) {
    // Band by band along y, each through all of the block's planes: the 2 r_z + 1
    // input planes that one smoothed plane reads stay in cache for the next planes.
    for (int64_t y0 = blocks[b].y0; y0 < blocks[b].y1; y0 += band) {
      const Block bl{blocks[b].z0, blocks[b].z1, y0, std::min(blocks[b].y1, y0 + band)};
      if (smooth)
        interpolate_block<T, W, W>(in, is, out, os, order, k, tz, ty, tx, xplan, bl, ranges[b], &cover[b]);
      else
        interpolate_block<T, W, T>(in, is, out, os, order, k, tz, ty, tx, xplan, bl, ranges[b], nullptr);
    }
  }
  Range<W> r;
  for (const auto& p : ranges) r.merge(p);
  clip_like_skimage(smooth ? covered_range(in, is, cover) : input_range(in, n_in), out, n_out, r);
}

}  // namespace

template <class T, class W>
void rescale_volume(const T* in, const int64_t in_shape[3], W* out, const int64_t out_shape[3],
                    int order, const SymmetricKernel kernels[3]) {
  const bool smooth = kernels[0].active() || kernels[1].active() || kernels[2].active();
  if constexpr (std::is_same_v<T, W>) {
    if (order == 0 && !smooth) {
      nearest_plain(in, in_shape, out, out_shape);
      return;
    }
  }
  smooth_and_interpolate(in, in_shape, out, out_shape, order, kernels);
}

#define PYCSC_RESCALE_INSTANTIATE(T, W)                                                       \
  template void rescale_volume<T, W>(const T*, const int64_t[3], W*, const int64_t[3], int, \
                                     const SymmetricKernel[3]);
#define PYCSC_RESCALE_ALL(T)      \
  PYCSC_RESCALE_INSTANTIATE(T, T) \
  PYCSC_RESCALE_INSTANTIATE(T, double)
PYCSC_RESCALE_ALL(uint8_t)
PYCSC_RESCALE_ALL(uint16_t)
PYCSC_RESCALE_ALL(uint32_t)
PYCSC_RESCALE_ALL(uint64_t)
PYCSC_RESCALE_ALL(int8_t)
PYCSC_RESCALE_ALL(int16_t)
PYCSC_RESCALE_ALL(int32_t)
PYCSC_RESCALE_ALL(int64_t)
PYCSC_RESCALE_ALL(float)
PYCSC_RESCALE_INSTANTIATE(double, double)

}  // namespace pycsc
