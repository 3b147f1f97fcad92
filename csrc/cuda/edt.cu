// Exact Euclidean distance transform on the GPU, bitwise equal to csrc/edt.cpp (and so to
// scipy.ndimage.distance_transform_edt): the same separable passes with the same float64
// operations, one thread per line.
//
// Work is described as boxes (see edt_lines.cuh): a whole-volume EDT is one box; the
// Hausdorff path (hausdorff.cu) runs many small boxes, one per instance, in the same launches.
//   axis 0: edt_axis0_mask / edt_axis0_label, one thread per (y, x) column; neighbouring
//           threads read neighbouring x, so loads and stores are coalesced.
//   axis 1: edt_lines(axis=1), one thread per (z, x) line, also coalesced across x.
//   axis 2: edt_lines(axis=2), one thread per contiguous row; each thread streams its own
//           row (its cache lines are reused from L1), the envelope scratch is interleaved
//           across threads.
// Traffic per voxel: axis 0 reads the mask once and writes 8 B; each envelope pass reads the
// line twice (max, build) plus gathers, writes 8 B, and touches ~12 B of scratch per element.
#include "common.cuh"
#include "edt_lines.cuh"

#ifndef MASK_T
#define MASK_T u8
#endif

// Axis 0 of a whole (nz, plane) volume: features are the zero voxels of `mask` (NaN is
// non-zero, -0.0 is zero, as in scipy). Sets *any_zero when the volume holds a zero voxel.
extern "C" __global__ void edt_axis0_mask(const MASK_T* mask, double* out, i64 nz, i64 plane, double s,
                                          u32* any_zero) {
  for (u64 p = pycsc_thread_index(); p < (u64)plane; p += pycsc_thread_stride()) {
    const MASK_T* m = mask + p;
    const bool found = edt_column([&](i64 z) { return pycsc_is_zero(m[z * plane]); }, out + p, plane, nz, s);
    if (found) *any_zero = 1u;
  }
}

// Axis 0 of each box of a dense label volume (ny, nx are the volume's): features are the
// voxels whose label equals the box's slot. Output in box layout at the box's offset.
extern "C" __global__ void edt_axis0_label(const u32* label, i64 ny, i64 nx, const i64* box, const u64* first,
                                           i64 nbox, double* out, double s) {
  const u64 total = first[nbox];
  for (u64 line = pycsc_thread_index(); line < total; line += pycsc_thread_stride()) {
    const i64 k = edt_find_box(first, nbox, line);
    const i64* b = box + 8 * k;
    const i64 local = (i64)(line - first[k]);
    const i64 bz = b[3], by = b[4], bx = b[5];
    const i64 y = local / bx, x = local % bx;
    const u32* col = label + ((b[0] * ny + b[1] + y) * nx + b[2] + x);
    const i64 gstride = ny * nx;
    const u32 slot = (u32)b[7];
    edt_column([&](i64 z) { return col[z * gstride] == slot; }, out + b[6] + y * bx + x, by * bx, bz, s);
  }
}

// One envelope pass along axis 1 (lines (z, x), stride bx) or axis 2 (rows (z, y), stride
// 1) of every box, src -> dst, optionally finishing with the square root. v, zb: scratch of
// (max line length) * (threads in the grid) entries.
extern "C" __global__ void edt_lines(const double* src, double* dst, const i64* box, const u64* first, i64 nbox,
                                     u32 axis, double s, u32 finish_sqrt, i32* v, double* zb) {
  const u64 total = first[nbox];
  const u64 tid = pycsc_thread_index(), threads = pycsc_thread_stride();
  for (u64 line = tid; line < total; line += threads) {
    const i64 k = edt_find_box(first, nbox, line);
    const i64* b = box + 8 * k;
    const i64 local = (i64)(line - first[k]);
    const i64 by = b[4], bx = b[5];
    i64 base, stride, n;
    if (axis == 1) {
      base = b[6] + (local / bx) * by * bx + local % bx;
      stride = bx;
      n = by;
    } else {
      base = b[6] + local * bx;
      stride = 1;
      n = bx;
    }
    if (n > 1) {
      edt_envelope(src + base, stride, dst + base, stride, n, s, v + tid, zb + tid, threads);
    } else {
      dst[base] = src[base];
    }
    if (finish_sqrt)
      for (i64 i = 0; i < n; ++i) dst[base + i * stride] = sqrt(dst[base + i * stride]);
  }
}

// No zero voxel anywhere: scipy measures from the virtual feature at index -1 of the first
// axis (0 on the others); csrc/edt.cpp fill_without_zeros.
extern "C" __global__ void edt_fill_without_zeros(double* out, i64 nz, i64 ny, i64 nx, double s0, double s1,
                                                  double s2, u32 three_d) {
  const u64 n = (u64)(nz * ny * nx);
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) {
    const i64 x = (i64)(i % (u64)nx), r = (i64)(i / (u64)nx), y = r % ny, z = r / ny;
    const double yx = three_d ? edt_term((double)(z + 1), s0) + edt_term((double)y, s1)
                              : edt_term((double)(y + 1), s1);
    out[i] = sqrt(yx + edt_term((double)x, s2));
  }
}
