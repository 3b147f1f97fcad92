// Per-truth-instance Hausdorff distances on the GPU, bitwise equal to csrc/hausdorff*.cpp.
//
// Driver: pycsc/gpu/distance.py. Labels are first remapped to dense slots (1..n_ids, 0 for
// background and for prediction values that are no truth id), then every voxel of A (truth)
// and of B (prediction with a truth id) is listed, grouped by slot, raster order within. Each
// source voxel's squared distance to the other set is settled by
//   * membership (0) or a 26-neighbour in the other set no farther than any non-neighbour
//     can be (exact: hd_classify), else
//   * a search over the other set's 6-boundary voxels (hd_nearest: targets sorted by raster
//     key, scanned outward from the source's key until the per-axis lower bound exceeds the
//     best), or, for instances where that is dearer, exact EDTs over the instance's bounding
//     box (edt.cu boxes + hd_gather).
// Every distance is scipy's rounded ((dz*sz)^2 + (dy*sy)^2) + (dx*sx)^2 and every method
// finds its exact minimum, so the values equal the CPU's. The reductions (max; numpy's
// pairwise mean; numpy's linear percentile) then reproduce the CPU's arithmetic in order.
// Voxel keys pack z, y, x in 19 bits each (raster order = numeric order).
#include "common.cuh"
#include "edt_lines.cuh"

#ifndef LABEL_T
#define LABEL_T u32
#endif

#define HD_AXIS_MASK ((1ULL << 19) - 1)
#define HD_RUN 16

__device__ __forceinline__ double hd_min(double a, double b) { return b < a ? b : a; }

__device__ __forceinline__ double hd_q(i64 dz, i64 dy, i64 dx, double s0, double s1, double s2) {
  return (edt_term((double)dz, s0) + edt_term((double)dy, s1)) + edt_term((double)dx, s2);
}

// ---------------------------------------------------------------- dense slots

// table[v] = 1 for every non-zero value of `in` (all values are <= the table's last index).
extern "C" __global__ void hd_mark(const LABEL_T* in, u64 n, u32* table) {
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) {
    const LABEL_T v = in[i];
    if (v) table[v] = 1u;
  }
}

// out[i] = slot_of[in[i]] for values up to table_max, else 0; negative values (top bit set
// in a signed dtype) are never a truth id.
extern "C" __global__ void hd_remap(const LABEL_T* in, u64 n, const u32* slot_of, u64 table_max, u32 is_signed,
                                    u32* out) {
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) {
    const LABEL_T v = in[i];
    const bool negative = is_signed && ((u64)v >> (8 * sizeof(LABEL_T) - 1)) != 0;
    out[i] = (!negative && (u64)v <= table_max) ? slot_of[v] : 0u;
  }
}

// ---------------------------------------------------------------- voxel lists

// For the listed voxels (linear index, slot) of one set: raster key, 6-boundary flag (a
// neighbour inside the volume outside the set), and the distance to the other set when it is
// certain: 0 inside it; the nearest 26-neighbour in it when that is <= cert_q (every voxel
// outside the 26-neighbourhood is at least that far). Otherwise pend = 1 and val holds that
// neighbour bound (inf without one). Also widens box[6 * (slot - 1) ...] (z, y, x minima,
// then maxima); each thread takes HD_RUN consecutive entries so the atomics stay few.
extern "C" __global__ void hd_classify(const u32* own, const u32* other, const i64* lin, const u32* slot, u64 n,
                                       i64 nz, i64 ny, i64 nx, double s0, double s1, double s2, double cert_q,
                                       u64* key, u8* bnd, u8* pend, double* val, u32* box) {
  const u64 runs = (n + HD_RUN - 1) / HD_RUN;
  const i64 plane = ny * nx;
  for (u64 r = pycsc_thread_index(); r < runs; r += pycsc_thread_stride()) {
    u32 cur = 0, lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    const u64 end = min((r + 1) * HD_RUN, n);
    for (u64 j = r * HD_RUN; j <= end; ++j) {
      const u32 s = j < end ? slot[j] : 0u;
      if (s != cur && cur != 0) {
        u32* b = box + 6 * (u64)(cur - 1);
        for (int a = 0; a < 3; ++a) {
          atomicMin(b + a, lo[a]);
          atomicMax(b + 3 + a, hi[a]);
        }
      }
      if (j == end) break;
      const i64 i = lin[j];
      const i64 x = i % nx, y = (i / nx) % ny, z = i / plane;
      const u32 c[3] = {(u32)z, (u32)y, (u32)x};
      if (s != cur) {
        for (int a = 0; a < 3; ++a) lo[a] = hi[a] = c[a];
        cur = s;
      } else {
        for (int a = 0; a < 3; ++a) {
          lo[a] = min(lo[a], c[a]);
          hi[a] = max(hi[a], c[a]);
        }
      }
      key[j] = ((u64)z << 38) | ((u64)y << 19) | (u64)x;
      bnd[j] = (x > 0 && own[i - 1] != s) || (x + 1 < nx && own[i + 1] != s) || (y > 0 && own[i - nx] != s) ||
               (y + 1 < ny && own[i + nx] != s) || (z > 0 && own[i - plane] != s) ||
               (z + 1 < nz && own[i + plane] != s);
      if (other[i] == s) {
        val[j] = 0.0;
        pend[j] = 0;
        continue;
      }
      double u = EDT_INF;
      for (i64 dz = -1; dz <= 1; ++dz) {
        if (z + dz < 0 || z + dz >= nz) continue;
        for (i64 dy = -1; dy <= 1; ++dy) {
          if (y + dy < 0 || y + dy >= ny) continue;
          for (i64 dx = -1; dx <= 1; ++dx) {
            if (x + dx < 0 || x + dx >= nx || (dz == 0 && dy == 0 && dx == 0)) continue;
            if (other[i + (dz * ny + dy) * nx + dx] != s) continue;
            const double q = hd_q(dz, dy, dx, s0, s1, s2);
            if (q < u) u = q;
          }
        }
      }
      val[j] = u;
      pend[j] = u <= cert_q ? 0 : 1;
    }
  }
}

// slot_max[slot - 1] = max(slot_max, val) over the entries (pending ones skipped when asked),
// on the bits of the non-negative doubles (their order is the integer order).
extern "C" __global__ void hd_slot_max(const double* val, const u32* slot, const u8* pend, u32 skip_pending, u64 n,
                                       u64* slot_max) {
  const u64 runs = (n + HD_RUN - 1) / HD_RUN;
  for (u64 r = pycsc_thread_index(); r < runs; r += pycsc_thread_stride()) {
    u32 cur = 0;
    u64 best = 0;
    const u64 end = min((r + 1) * HD_RUN, n);
    for (u64 j = r * HD_RUN; j <= end; ++j) {
      const u32 s = j < end ? slot[j] : 0u;
      if (s != cur && cur != 0) atomicMax(slot_max + (cur - 1), best);
      if (j == end) break;
      if (s != cur) {
        cur = s;
        best = 0;
      }
      if (skip_pending && pend[j]) continue;
      const u64 bits = (u64)__double_as_longlong(val[j]);
      if (bits > best) best = bits;
    }
  }
}

// ---------------------------------------------------------------- searches

// Exact squared distance from each listed source (todo: indices into the source list) to the
// nearest target of its slot (targets: raster keys, grouped by slot at tgt_off). Targets are
// scanned outward from the source's key in both directions; a direction stops once the
// lower bound of every target left in it (from the axis order of the keys) reaches the best.
// val[j] holds an upper bound on entry. "standard" needs only each slot's maximum: a source
// stops as soon as its best cannot raise slot_max (early break, Taha & Hanbury 2015) and
// nothing beyond cap_q is looked for.
extern "C" __global__ void hd_nearest(const u64* src_key, const u32* src_slot, const i64* todo, u64 n_todo,
                                      const u64* tgt_key, const i64* tgt_off, i64 nz, i64 ny, double s0, double s1,
                                      double s2, double cap_q, u32 standard, u64* slot_max, double* val) {
  const double inf = EDT_INF;
  const double z1 = nz > 1 ? edt_term(1.0, s0) : inf, y1 = ny > 1 ? edt_term(1.0, s1) : inf;
  for (u64 t = pycsc_thread_index(); t < n_todo; t += pycsc_thread_stride()) {
    const i64 j = todo[t];
    const u64 key = src_key[j];
    const u32 s = src_slot[j];
    const i64 sz = (i64)(key >> 38), sy = (i64)((key >> 19) & HD_AXIS_MASK), sx = (i64)(key & HD_AXIS_MASK);
    volatile const u64* shared_max = slot_max + (s - 1);
    double best = val[j], stop = -1.0;
    if (standard) {
      if (cap_q < best) best = cap_q;
      stop = __longlong_as_double((i64)*shared_max);
    }
    const i64 lo = tgt_off[s - 1], hi = tgt_off[s];
    i64 a = lo, b = hi;
    while (a < b) {
      const i64 mid = a + ((b - a) >> 1);
      if (tgt_key[mid] < key) a = mid + 1;
      else b = mid;
    }
    i64 up = a, dn = a - 1;
    u32 steps = 0;
    while (best > stop && (up < hi || dn >= lo)) {
      if (up < hi) {
        const u64 k = tgt_key[up];
        const i64 dz = (i64)(k >> 38) - sz, dy = (i64)((k >> 19) & HD_AXIS_MASK) - sy,
                  dx = (i64)(k & HD_AXIS_MASK) - sx;
        const double lb = dz != 0   ? edt_term((double)dz, s0)
                          : dy != 0 ? hd_min(edt_term((double)dy, s1), z1)
                                    : hd_min(hd_min(edt_term((double)dx, s2), y1), z1);
        if (lb >= best) {
          up = hi;
        } else {
          const double q = hd_q(dz, dy, dx, s0, s1, s2);
          if (q < best) best = q;
          ++up;
        }
      }
      if (dn >= lo) {
        const u64 k = tgt_key[dn];
        const i64 dz = sz - (i64)(k >> 38), dy = sy - (i64)((k >> 19) & HD_AXIS_MASK),
                  dx = sx - (i64)(k & HD_AXIS_MASK);
        const double lb = dz != 0   ? edt_term((double)dz, s0)
                          : dy != 0 ? hd_min(edt_term((double)dy, s1), z1)
                                    : hd_min(hd_min(edt_term((double)dx, s2), y1), z1);
        if (lb >= best) {
          dn = lo - 1;
        } else {
          const double q = hd_q(dz, dy, dx, s0, s1, s2);
          if (q < best) best = q;
          --dn;
        }
      }
      if (standard && (++steps & 31u) == 0) stop = __longlong_as_double((i64)*shared_max);
    }
    val[j] = best;
    if (standard) atomicMax(slot_max + (s - 1), (u64)__double_as_longlong(best));
  }
}

// val[j] for listed sources of slots that have a box in this batch: the squared EDT value at
// the source's place in its box (slot_box: box index per slot, -1 when not in the batch).
extern "C" __global__ void hd_gather(const u64* src_key, const u32* src_slot, const i64* todo, u64 n_todo,
                                     const i64* slot_box, const i64* box, const double* buf, double* val) {
  for (u64 t = pycsc_thread_index(); t < n_todo; t += pycsc_thread_stride()) {
    const i64 j = todo[t];
    const i64 k = slot_box[src_slot[j] - 1];
    if (k < 0) continue;
    const i64* b = box + 8 * k;
    const u64 key = src_key[j];
    const i64 z = (i64)(key >> 38) - b[0], y = (i64)((key >> 19) & HD_AXIS_MASK) - b[1],
              x = (i64)(key & HD_AXIS_MASK) - b[2];
    val[j] = buf[b[6] + (z * b[4] + y) * b[5] + x];
  }
}

// ---------------------------------------------------------------- statistics

// numpy's pairwise summation (np.add.reduce on float64: blocks of at most 128 summed with 8
// accumulators, longer runs split at n / 2 rounded down to a multiple of 8), evaluated as a
// tree walk. Nodes of length <= cut are summed by leaf(offset, length) (cut >= 128, so a
// leaf is one whole subtree of numpy's recursion).
template <class Leaf>
__device__ double hd_pairwise_walk(i64 n, i64 cut, Leaf leaf) {
  i64 off[64], len[64];
  double left[64];
  u8 right[64];
  int sp = 1;
  off[0] = 0;
  len[0] = n;
  right[0] = 0;
  double ret = 0.0;
  bool have = false;
  for (;;) {
    if (!have) {
      const int t = sp - 1;
      if (len[t] <= cut) {
        ret = leaf(off[t], len[t]);
        have = true;
        --sp;
      } else {
        i64 half = len[t] / 2;
        half -= half % 8;
        off[sp] = off[t];
        len[sp] = half;
        right[sp] = 0;
        ++sp;
      }
    } else {
      if (sp == 0) return ret;
      const int t = sp - 1;
      if (!right[t]) {
        i64 half = len[t] / 2;
        half -= half % 8;
        left[t] = ret;
        right[t] = 1;
        off[sp] = off[t] + half;
        len[sp] = len[t] - half;
        right[sp] = 0;
        ++sp;
        have = false;
      } else {
        ret = left[t] + ret;
        --sp;
      }
    }
  }
}

// numpy's sum of sqrt(q[0..n)) for n <= 128 (csrc/hausdorff_search.cpp numpy_pairwise_sum).
__device__ double hd_block_sum_sqrt(const double* q, i64 n) {
  if (n < 8) {
    double r = 0.0;
    for (i64 i = 0; i < n; ++i) r += sqrt(q[i]);
    return r;
  }
  double r[8];
  for (int k = 0; k < 8; ++k) r[k] = sqrt(q[k]);
  i64 i = 8;
  for (; i < n - (n % 8); i += 8)
    for (int k = 0; k < 8; ++k) r[k] += sqrt(q[i + k]);
  double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (; i < n; ++i) res += sqrt(q[i]);
  return res;
}

// Long segments are summed in parallel: hd_pairwise_plan lists each segment's subtrees of
// length <= chunk (>= 128; at chunk_first[seg]...), hd_pairwise_chunks sums them, and
// hd_pairwise_mean joins them in the tree's order, so the bits equal one sequential walk.
extern "C" __global__ void hd_pairwise_plan(const i64* off, u64 nseg, const i64* chunk_first, i64 chunk,
                                            i64* chunk_off, i64* chunk_len) {
  for (u64 s = pycsc_thread_index(); s < nseg; s += pycsc_thread_stride()) {
    const i64 base = off[s], n = off[s + 1] - base;
    if (n == 0) continue;
    i64 c = chunk_first[s];
    hd_pairwise_walk(n, chunk, [&](i64 o, i64 len) {
      chunk_off[c] = base + o;
      chunk_len[c] = len;
      ++c;
      return 0.0;
    });
  }
}

extern "C" __global__ void hd_pairwise_chunks(const double* q, const i64* chunk_off, const i64* chunk_len, u64 n,
                                              double* chunk_sum) {
  for (u64 c = pycsc_thread_index(); c < n; c += pycsc_thread_stride()) {
    const i64 len = chunk_len[c];
    if (len <= 0) continue;
    const double* a = q + chunk_off[c];
    chunk_sum[c] = hd_pairwise_walk(len, 128, [&](i64 o, i64 m) { return hd_block_sum_sqrt(a + o, m); });
  }
}

// mean[seg] = np.mean(sqrt(q)) over the segment (segments of length 0 are left alone).
extern "C" __global__ void hd_pairwise_mean(const i64* off, u64 nseg, const i64* chunk_first, i64 chunk,
                                            const double* chunk_sum, double* mean) {
  for (u64 s = pycsc_thread_index(); s < nseg; s += pycsc_thread_stride()) {
    const i64 n = off[s + 1] - off[s];
    if (n == 0) continue;
    i64 c = chunk_first[s];
    const double sum = hd_pairwise_walk(n, chunk, [&](i64, i64) { return chunk_sum[c++]; });
    mean[s] = sum / (double)n;
  }
}

// np.percentile(sqrt(q), pct) (linear) per segment, q sorted ascending within each segment
// (csrc/hausdorff_search.cpp numpy_percentile_distance).
extern "C" __global__ void hd_percentile(const double* q, const i64* off, u64 nseg, double pct, double* out) {
  for (u64 s = pycsc_thread_index(); s < nseg; s += pycsc_thread_stride()) {
    const i64 base = off[s], n = off[s + 1] - base;
    if (n == 0) continue;
    const double vi = (double)(n - 1) * (pct / 100.0);
    if (vi >= (double)(n - 1)) {
      out[s] = sqrt(q[base + n - 1]);
      continue;
    }
    const double lo = floor(vi);
    const i64 i = (i64)lo;
    const double a = sqrt(q[base + i]), b = sqrt(q[base + i + 1]);
    const double gamma = vi - lo, diff = b - a;
    out[s] = gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
  }
}

// The distance per slot: B empty -> cap; "standard" from the squared maximum; otherwise the
// larger of the two directed statistics; capped.
extern "C" __global__ void hd_finish(const i64* a_off, const i64* b_off, u64 nseg, u32 method, const u64* slot_max,
                                     const double* fwd, const double* bwd, double cap, double cap_q, double* out) {
  for (u64 s = pycsc_thread_index(); s < nseg; s += pycsc_thread_stride()) {
    if (b_off[s + 1] == b_off[s]) {
      out[s] = a_off[s + 1] == a_off[s] ? 0.0 : cap;
      continue;
    }
    double d;
    if (method == 0) {
      const double q = __longlong_as_double((i64)slot_max[s]);
      d = q >= cap_q ? cap : sqrt(q);
    } else {
      d = fwd[s] < bwd[s] ? bwd[s] : fwd[s];
    }
    out[s] = cap < d ? cap : d;
  }
}
