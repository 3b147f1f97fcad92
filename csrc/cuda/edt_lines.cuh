// Exact squared-EDT line primitives shared by edt.cu (whole volumes) and the per-instance
// boxes of the Hausdorff path. The arithmetic is csrc/edt.cpp's, operation for operation (no
// FMA: NVRTC runs with --fmad=false), so both paths return the same float64 bits; see
// csrc/edt.hpp for why the separable minima equal scipy's rounded formula.
#pragma once
#include "common.cuh"

#define EDT_INF __longlong_as_double(0x7ff0000000000000LL)
#define EDT_EPS 0x1p-52

// scipy's per-axis term: (offset * spacing)^2, each operation rounded on its own.
__device__ __forceinline__ double edt_term(double offset, double s) {
  const double t = offset * s;
  return t * t;
}

// Axis-0 line (nearest feature along the line, squared term): every element is written once,
// when the run of non-features it belongs to is closed by the next feature or the line's end.
// Returns whether the line holds a feature.
template <class IsFeature>
__device__ __forceinline__ bool edt_column(IsFeature is_feature, double* o, i64 os, i64 n, double s) {
  i64 last = -1;
  for (i64 z = 0; z < n; ++z) {
    if (!is_feature(z)) continue;
    for (i64 w = last + 1; w < z; ++w) {
      i64 a = z - w;
      if (last >= 0 && w - last < a) a = w - last;
      o[w * os] = edt_term((double)a, s);
    }
    o[z * os] = 0.0;
    last = z;
  }
  for (i64 w = last + 1; w < n; ++w) o[w * os] = last >= 0 ? edt_term((double)(w - last), s) : EDT_INF;
  return last >= 0;
}

// Lower envelope of the parabolas f[j] + ((i - j) * s)^2 over the finite f[j] (csrc/edt.cpp
// envelope_1d): d[i] gets the smallest rounded value. f, d: elements q * fs, i * ds. v, zb:
// this thread's scratch, entry k at k * ss (interleaved with other threads, so that threads
// at the same step touch neighbouring words). f and d may not alias.
__device__ void edt_envelope(const double* f, i64 fs, double* d, i64 ds, i64 n, double s, i32* v, double* zb,
                             u64 ss) {
  const double inf = EDT_INF;
  double fmax = -1.0;
  for (i64 q = 0; q < n; ++q) {
    const double fq = f[q * fs];
    if (fq != inf && fmax < fq) fmax = fq;
  }
  if (fmax < 0.0) {
    for (i64 i = 0; i < n; ++i) d[i * ds] = inf;
    return;
  }
  const double inv_s2 = 1.0 / (s * s);
  const double tol = 64.0 * EDT_EPS * (fmax * inv_s2 + (double)n * (double)n + 1.0);
  i64 m = 0;
  for (i64 q = 0; q < n; ++q) {
    const double fq = f[q * fs];
    if (fq == inf) continue;
    if (m == 0) {
      v[0] = (i32)q;
      zb[0] = -inf;
      m = 1;
      continue;
    }
    const double dq = (double)q;
    for (;;) {
      const i64 p = v[(u64)(m - 1) * ss];
      const double dp = (double)p;
      const double x = ((fq - f[p * fs]) * inv_s2 + (dq * dq - dp * dp)) / (2.0 * (dq - dp));
      if (m > 1 && x < zb[(u64)(m - 1) * ss] - tol) {
        --m;
        continue;
      }
      v[(u64)m * ss] = (i32)q;
      zb[(u64)m * ss] = x;
      ++m;
      break;
    }
  }
  i64 k = 0;
  for (i64 i = 0; i < n; ++i) {
    const double di = (double)i;
    while (k + 1 < m && zb[(u64)(k + 1) * ss] < di) ++k;
    i64 p = v[(u64)k * ss];
    double best = f[p * fs] + edt_term(di - (double)p, s);
    for (i64 j = k + 1; j < m && zb[(u64)j * ss] <= di + tol; ++j) {
      p = v[(u64)j * ss];
      const double c = f[p * fs] + edt_term(di - (double)p, s);
      if (c < best) best = c;
    }
    for (i64 j = k - 1; j >= 0 && zb[(u64)(j + 1) * ss] >= di - tol; --j) {
      p = v[(u64)j * ss];
      const double c = f[p * fs] + edt_term(di - (double)p, s);
      if (c < best) best = c;
    }
    d[i * ds] = best;
  }
}

// Boxes: 8 i64 per box (z0, y0, x0, bz, by, bx, buffer offset, slot); `first` holds the
// running count of lines over the boxes (nbox + 1 entries). The box of global line `line`.
__device__ __forceinline__ i64 edt_find_box(const u64* first, i64 nbox, u64 line) {
  i64 lo = 0, hi = nbox - 1;
  while (lo < hi) {
    const i64 mid = (lo + hi + 1) >> 1;
    if (first[mid] <= line) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
