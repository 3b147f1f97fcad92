// Exact EDT; see edt.hpp for the method and why the result matches scipy bitwise.
#include "edt.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "parallel.hpp"

namespace pycsc {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr int64_t kTile = 16;  // columns gathered together for the strided axis-1 pass

// scipy's per-axis term: (offset * spacing)^2 with each operation rounded on its own.
inline double term(double offset, double s) {
  const double t = offset * s;
  return t * t;
}

// Axis 0: nearest zero along each line by a forward and a backward sweep, then the rounded
// term. Lines are walked plane by plane in blocks so both sweeps stream through memory.
// Returns whether the volume holds any zero voxel.
template <class T>
bool axis0_pass(const T* mask, int64_t nz, int64_t plane, double s, double* out) {
  constexpr int64_t kBlock = 2048;
  const int64_t blocks = (plane + kBlock - 1) / kBlock;
  const int nt = threads_for(nz * plane, 1 << 18);
  int any_zero = 0;
#pragma omp parallel for schedule(static) num_threads(nt) reduction(| : any_zero) if (nt > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t p0 = b * kBlock, p1 = std::min(plane, p0 + kBlock), w = p1 - p0;
    double back[kBlock];
    for (int64_t z = 0; z < nz; ++z) {
      const T* m = mask + z * plane + p0;
      double* o = out + z * plane + p0;
      const double* prev = z ? o - plane : nullptr;
      for (int64_t p = 0; p < w; ++p) o[p] = m[p] != T(0) ? (prev ? prev[p] + 1.0 : kInf) : 0.0;
    }
    std::fill(back, back + w, kInf);
    int zero_seen = 0;
    for (int64_t z = nz - 1; z >= 0; --z) {
      const T* m = mask + z * plane + p0;
      double* o = out + z * plane + p0;
      for (int64_t p = 0; p < w; ++p) {
        const bool fg = m[p] != T(0);
        zero_seen |= !fg;
        back[p] = fg ? back[p] + 1.0 : 0.0;
        const double v = std::min(o[p], back[p]);
        o[p] = v == kInf ? kInf : term(v, s);
      }
    }
    any_zero |= zero_seen;
  }
  return any_zero != 0;
}

// Lower envelope of the parabolas f[j] + ((i - j) * s)^2 over the finite f[j]; d[i] gets the
// smallest rounded value. v and zb are scratch of n and n + 1 entries. f and d may not alias.
void envelope_1d(const double* f, int64_t n, double s, double* d, int64_t* v, double* zb) {
  double fmax = -1.0;
  for (int64_t q = 0; q < n; ++q)
    if (f[q] != kInf) fmax = std::max(fmax, f[q]);
  if (fmax < 0.0) {
    std::fill(d, d + n, kInf);
    return;
  }
  const double inv_s2 = 1.0 / (s * s);
  // Bound on the rounding error of a boundary (a few ulps of its numerator's terms, with a
  // wide margin). A parabola is dropped only when it is beaten by more than this, so exact
  // ties (common: integer offsets of equal length) keep every tied candidate, and at query
  // time the candidates whose boundaries lie this close to i are compared by their sums.
  const double tol = 64.0 * kEps * (fmax * inv_s2 + static_cast<double>(n) * n + 1.0);
  int64_t m = 0;
  for (int64_t q = 0; q < n; ++q) {
    const double fq = f[q];
    if (fq == kInf) continue;
    if (m == 0) {
      v[0] = q;
      zb[0] = -kInf;
      m = 1;
      continue;
    }
    const double dq = static_cast<double>(q);
    for (;;) {
      const int64_t p = v[m - 1];
      const double dp = static_cast<double>(p);
      const double x = ((fq - f[p]) * inv_s2 + (dq * dq - dp * dp)) / (2.0 * (dq - dp));
      if (m > 1 && x < zb[m - 1] - tol) {
        --m;
        continue;
      }
      v[m] = q;
      zb[m] = x;
      ++m;
      break;
    }
  }
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double di = static_cast<double>(i);
    while (k + 1 < m && zb[k + 1] < di) ++k;
    double best = f[v[k]] + term(di - static_cast<double>(v[k]), s);
    for (int64_t j = k + 1; j < m && zb[j] <= di + tol; ++j)
      best = std::min(best, f[v[j]] + term(di - static_cast<double>(v[j]), s));
    for (int64_t j = k - 1; j >= 0 && zb[j + 1] >= di - tol; --j)
      best = std::min(best, f[v[j]] + term(di - static_cast<double>(v[j]), s));
    d[i] = best;
  }
}

// Axis 1 (stride nx): tiles of columns are gathered into contiguous lines, transformed, and
// scattered back.
void axis1_pass(int64_t nz, int64_t ny, int64_t nx, double s, double* out) {
  const int64_t tiles = (nx + kTile - 1) / kTile;
  const int64_t jobs = nz * tiles;
  const int nt = threads_for(nz * ny * nx, 1 << 16);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<double> lines(static_cast<size_t>(kTile * ny)), d(ny), zb(ny + 1);
    std::vector<int64_t> v(ny);
#pragma omp for schedule(static)
    for (int64_t job = 0; job < jobs; ++job) {
      double* slice = out + (job / tiles) * ny * nx;
      const int64_t x0 = (job % tiles) * kTile, w = std::min(kTile, nx - x0);
      for (int64_t y = 0; y < ny; ++y)
        for (int64_t c = 0; c < w; ++c) lines[c * ny + y] = slice[y * nx + x0 + c];
      for (int64_t c = 0; c < w; ++c) {
        envelope_1d(&lines[c * ny], ny, s, d.data(), v.data(), zb.data());
        for (int64_t y = 0; y < ny; ++y) slice[y * nx + x0 + c] = d[y];
      }
    }
  }
}

// Axis 2 (contiguous rows), fused with the final square root.
void axis2_pass_sqrt(int64_t rows, int64_t nx, double s, double* out) {
  const int nt = threads_for(rows * nx, 1 << 16);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<double> f(nx), zb(nx + 1);
    std::vector<int64_t> v(nx);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      double* row = out + r * nx;
      if (nx > 1) {
        std::copy(row, row + nx, f.begin());
        envelope_1d(f.data(), nx, s, row, v.data(), zb.data());
      }
      for (int64_t x = 0; x < nx; ++x) row[x] = std::sqrt(row[x]);
    }
  }
}

// No zero voxel anywhere: scipy's feature transform leaves the feature at index -1 on the
// first axis and 0 on the others, and the distance is measured from there.
void fill_without_zeros(int64_t nz, int64_t ny, int64_t nx, const double sp[3], int ndim, double* out) {
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x) {
        const double yx = ndim == 3 ? term(static_cast<double>(z + 1), sp[0]) + term(static_cast<double>(y), sp[1])
                                    : term(static_cast<double>(y + 1), sp[1]);
        out[(z * ny + y) * nx + x] = std::sqrt(yx + term(static_cast<double>(x), sp[2]));
      }
}

}  // namespace

template <class T>
void distance_transform_edt(const T* mask, int64_t nz, int64_t ny, int64_t nx, const double spacing[3],
                            int ndim, double* out) {
  if (nz <= 0 || ny <= 0 || nx <= 0) return;
  // A 2D input is the single slice nz = 1: the axis-0 pass then only marks zeros (term 0)
  // and infinities, so the sums start at the y term exactly as scipy's 2D sum does.
  if (!axis0_pass(mask, nz, ny * nx, spacing[0], out)) {
    fill_without_zeros(nz, ny, nx, spacing, ndim, out);
    return;
  }
  if (ny > 1) axis1_pass(nz, ny, nx, spacing[1], out);
  axis2_pass_sqrt(nz * ny, nx, spacing[2], out);
}

#define PYCSC_EDT_INSTANTIATE(T)                                                                \
  template void distance_transform_edt<T>(const T*, int64_t, int64_t, int64_t, const double[3], \
                                          int, double*);
PYCSC_EDT_INSTANTIATE(uint8_t)
PYCSC_EDT_INSTANTIATE(uint16_t)
PYCSC_EDT_INSTANTIATE(uint32_t)
PYCSC_EDT_INSTANTIATE(uint64_t)
PYCSC_EDT_INSTANTIATE(int8_t)
PYCSC_EDT_INSTANTIATE(int16_t)
PYCSC_EDT_INSTANTIATE(int32_t)
PYCSC_EDT_INSTANTIATE(int64_t)
PYCSC_EDT_INSTANTIATE(float)
PYCSC_EDT_INSTANTIATE(double)
#undef PYCSC_EDT_INSTANTIATE

}  // namespace pycsc
