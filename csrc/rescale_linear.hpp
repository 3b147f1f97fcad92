// Internals of rescale.cpp: one output row of order-1 (linear) interpolation.
#pragma once
#include <cstdint>
#include <numeric>
#include <vector>

#include "rescale_detail.hpp"

namespace pycsc::rescale_detail {

// How the interior outputs of a row (both x taps inside the input) read their taps.
// When the x table is periodic - after `period` outputs the taps advance by `step`
// input voxels, step 1 or 2 (x2, x3, x1.5, x0.5, ...) - each phase of the period reads
// its taps at a fixed stride, which vectorises without gathers; the weights of each
// phase are stored contiguously (they are not exactly periodic in floating point).
struct XPlan {
  int64_t lo = 0, hi = 0;
  int64_t period = 0, step = 0, m_max = 0;
  std::vector<int64_t> first, count;  // per phase: first output, number of outputs
  std::vector<double> u, v;           // per phase: m_max weights

  XPlan() = default;
  explicit XPlan(const AxisTable& tx) {
    const auto ok = [&](int64_t o) { return tx.valid(tx.start[o]) && tx.valid(tx.start[o] + 1); };
    while (lo < tx.n_out && !ok(lo)) ++lo;
    hi = tx.n_out;
    while (hi > lo && !ok(hi - 1)) --hi;
    const int64_t g = std::gcd(tx.n_in, tx.n_out);
    const int64_t p = tx.n_in / g, q = tx.n_out / g;
    if (p > 2 || q > 16 || hi - lo < 4 * q) return;
    for (int64_t o = lo; o + q < hi; ++o)
      if (tx.start[o + q] != tx.start[o] + p) return;
    period = q;
    step = p;
    m_max = (hi - lo + q - 1) / q;
    first.resize(q);
    count.resize(q);
    u.assign(static_cast<size_t>(q * m_max), 0.0);
    v.assign(static_cast<size_t>(q * m_max), 0.0);
    for (int64_t ph = 0; ph < q; ++ph) {
      first[ph] = lo + ph;
      count[ph] = first[ph] < hi ? (hi - first[ph] + q - 1) / q : 0;
      for (int64_t m = 0; m < count[ph]; ++m) {
        u[ph * m_max + m] = tx.w0[first[ph] + q * m];
        v[ph * m_max + m] = tx.w1[first[ph] + q * m];
      }
    }
  }
};

// t for K pre-scaled rows q[k] (k in scipy's z, y order) at tap i with weights uu, vv.
template <int K>
PYCSC_INLINE double tap_sum(const double* const* q, int64_t i, double uu, double vv) {
  double t = 0.0;
  for (int k = 0; k < K; ++k) {
    t += q[k][i] * uu;
    t += q[k][i + 1] * vv;
  }
  return t;
}

// One phase of a periodic plan: outputs first, first + period, ... read taps base,
// base + Step, ...; sums go to tmp, then to the strided outputs.
template <int K, int Step, class W>
PYCSC_INLINE void phase_row(const double* const* qk, int64_t base, const double* __restrict u,
                            const double* __restrict v, int64_t n, double* __restrict tmp,
                            W* __restrict o, int64_t stride) {
  const double* q[K];
  for (int k = 0; k < K; ++k) q[k] = qk[k] + base;
  for (int64_t m = 0; m < n; ++m) tmp[m] = tap_sum<K>(q, Step * m, u[m], v[m]);
  for (int64_t m = 0; m < n; ++m) o[stride * m] = interp_out<W>(tmp[m]);
}

template <int K, class W>
PYCSC_INLINE void interior_row(const double* const* q, int64_t i0, const AxisTable& tx, const XPlan& xp,
                               double* tmp, W* __restrict o) {
  if (xp.period > 0) {
    for (int64_t ph = 0; ph < xp.period; ++ph) {
      const int64_t f = xp.first[ph], base = tx.start[f] - i0;
      const double* u = xp.u.data() + ph * xp.m_max;
      const double* v = xp.v.data() + ph * xp.m_max;
      if (xp.step == 1)
        phase_row<K, 1>(q, base, u, v, xp.count[ph], tmp, o + f, xp.period);
      else
        phase_row<K, 2>(q, base, u, v, xp.count[ph], tmp, o + f, xp.period);
    }
    return;
  }
  const int64_t* sx = tx.start.data();
  for (int64_t ox = xp.lo; ox < xp.hi; ++ox)
    o[ox] = interp_out<W>(tap_sum<K>(q, sx[ox] - i0, tx.w0[ox], tx.w1[ox]));
}

// Order-1 output row from up to four (z, y) source rows, in scipy's tap order:
// t = 0; then for each row k (z, y lexicographic) t += ((v*wz)*wy)*wx for its left and
// right x tap. `a[k]`, `b[k]` are the z and y weights of row k. x taps outside the input
// are skipped (their product is +-0, which cannot change the sum). In the interior the
// per-row products (v*wz)*wy are formed once per source voxel into `scratch` (the same
// roundings), which leaves two products and two sums per row and output.
template <class S, class W>
PYCSC_ISA_CLONES void linear_row(const S* const* r, const double* a, const double* b, int k_rows,
                                 const AxisTable& tx, const XPlan& xp, double* scratch, W* o) {
  const int64_t* sx = tx.start.data();
  const auto edge = [&](int64_t ox) {
    const int64_t i = sx[ox];
    double t = 0.0;
    for (int k = 0; k < k_rows; ++k) {
      if (tx.valid(i)) t += ((static_cast<double>(r[k][i]) * a[k]) * b[k]) * tx.w0[ox];
      if (tx.valid(i + 1)) t += ((static_cast<double>(r[k][i + 1]) * a[k]) * b[k]) * tx.w1[ox];
    }
    o[ox] = interp_out<W>(t);
  };
  for (int64_t ox = 0; ox < xp.lo; ++ox) edge(ox);
  if (xp.lo < xp.hi && (k_rows == 4 || k_rows == 2)) {
    const int64_t i0 = sx[xp.lo], len = sx[xp.hi - 1] + 2 - i0;
    const double* q[4];
    for (int k = 0; k < k_rows; ++k) {
      const S* __restrict src = r[k] + i0;
      double* __restrict qk = scratch + k * len;
      const double ak = a[k], bk = b[k];
      for (int64_t i = 0; i < len; ++i) qk[i] = (static_cast<double>(src[i]) * ak) * bk;
      q[k] = qk;
    }
    double* tmp = scratch + k_rows * len;
    if (k_rows == 4)
      interior_row<4>(q, i0, tx, xp, tmp, o);
    else
      interior_row<2>(q, i0, tx, xp, tmp, o);
  } else {
    for (int64_t ox = xp.lo; ox < xp.hi; ++ox) edge(ox);
  }
  for (int64_t ox = xp.hi; ox < tx.n_out; ++ox) edge(ox);
}

}  // namespace pycsc::rescale_detail
