// Connected-component labelling on the GPU: the device path of pycsc.ops.connected_components,
// equal to the CPU path (csrc/components.hpp) for every input: multi-label (voxels join when
// neighbours under the connectivity and equal in value), ids 1..n in raster order of each
// component's first voxel.
//
// Method: union-find over voxel indices with lock-free hooking, in the spirit of Playne &
// Hawick, "A new algorithm for parallel connected-component labelling on GPUs" (IEEE TPDS 29(6),
// 2018) and Allegretti, Bolelli & Grana (IEEE TPDS 31(2), 2020); roots are hooked by CAS and
// paths halved with plain stores as in ECL-CC (Jaiganesh & Burtscher, HPDC 2018). Threads
// walk column segments so that every warp reads and writes 32 consecutive voxels of a row
// (x is the lanes' axis):
//   1. ccl_init: a thread walks a segment of `seg_rows` rows of one (z, x) column; each voxel's
//      parent is the first voxel of its run of equal values along y inside the segment
//      (background gets the sentinel BG). That settles every y-edge inside a segment.
//   2. ccl_merge: the same threads unite each run with the touching equal voxels of the
//      "backward" neighbour columns (z-1, x-1..x+1) and (z, x-1) at y-ext..y+ext, plus the
//      segment seam (y0-1, y0). An edge is skipped when the run's previous voxel or the
//      column's previous voxel already implies it (the rule is spelled out at `contact`),
//      so a long contact costs one union, not one per voxel.
//   3. ccl_compress: every voxel's parent becomes its root; roots set a bit in `roots`.
//   4. ccl_count_roots: roots per 32-voxel word; the driver takes their inclusive cumsum.
//   5. ccl_number: in place, each voxel's root r gets id = (roots before r) + 1.
// Hooking always puts the larger root under the smaller, so a root is the smallest index of
// its set, and numbering roots by index is numbering components by first raster appearance.
//
// Correctness for any interleaving (the emulator runs one order; this is the argument for the
// device). Invariants: parent[x] <= x, and parent[x] is always a node of x's tree.
//   * A root is hooked only by atomicCAS(parent[a], a, b): it succeeds only on a true root,
//     and merges two trees. Nothing else changes a root; nothing ever makes a node a root.
//   * find() halves paths with plain stores parent[x] = g, where g was read as x's
//     grandparent: g is in x's tree and g < x, so it is not in x's subtree; moving x under g
//     keeps every tree's node set. Racing stores to parent[x] each write such a node.
//   * So trees only ever merge. A read may be stale (L1 is not coherent across SMs), but any
//     value once held by parent[x] is a node of x's tree, now and forever: find() still
//     reaches a node of the right tree, a stale "root" only makes the CAS fail, and a == b
//     still proves the two voxels share a tree. Each failed CAS moves `a` to its true parent
//     (smaller), so unite() terminates. At the end of ccl_merge every requested edge has its
//     ends in one tree, and no tree holds voxels that no chain of edges joins.
//   * ccl_compress runs after all unions: roots are fixed; every store writes the true root.
//   * ccl_number reads only its own voxel's entry (plus roots/ends), so in place is safe.
// Passes and DRAM traffic for N voxels of B bytes, ids of 4 bytes (8 above 2^32 - 1 voxels):
// init N*(B + 4); merge about N*B (neighbour columns hit L1/L2) plus union probes; compress
// N*4 read + at most N*4 written; count + cumsum ~N/2 bytes; number N*4 read + N*4 written.
// About N*(2B + 20.5) bytes: 600^3 uint8 ~4.9 GB (~1.7 ms at 2.8 TB/s), uint32 ~6.0 GB
// (~2.2 ms); 400^3 uint8 ~1.4 GB (~0.5 ms); plus the latency of the union probes.
// Peak device memory besides input and ids: N/8 bytes (root bits) + 2 * N/32 * 4 (counts).
// Test oracle: the CPU path (itself tested against cc3d and scipy), run on the emulator, on
// host threads that really race (tests/gpu/test_components.py) and with CuPy on a device.
#include "common.cuh"

typedef VAL_T val_t;  // labels by width: only bit equality and zero matter (bool = u8)
typedef IDX_T idx_t;  // voxel indices and ids: u32 up to 2^32 - 1 voxels, else u64

#define BG ((idx_t) ~(idx_t)0)  // parent of background; never a voxel index (N <= max)
#define ROWS_AHEAD 8            // a thread loads this many rows at once (memory parallelism)
#ifndef CCL_NARROW_LIMIT        // up to this many column segments, 32-bit index arithmetic
#define CCL_NARROW_LIMIT 0xffffffffull  // (a test harness sets 0 to run the 64-bit branch)
#endif

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define CCL_UNROLL _Pragma("unroll")
#else
#define CCL_UNROLL
#endif

// The column segment of thread item t: x fastest, then z, then the segment of rows, so the
// warps of a block hold neighbouring columns and the z-1 columns were read moments before.
struct Segment {
  u64 z, x, y0, y1;
};

__device__ __forceinline__ Segment segment_of(u64 t, u64 sz, u64 sy, u64 sx, u64 seg_rows,
                                              bool narrow) {
  Segment s;
  u64 seg;
  if (narrow) {  // 32-bit division is several times cheaper; the item count fits
    const u32 zs = (u32)t / (u32)sx, sg = zs / (u32)sz;
    s.x = (u32)t - zs * (u32)sx;
    s.z = zs - sg * (u32)sz;
    seg = sg;
  } else {
    const u64 zs = t / sx;
    seg = zs / sz;
    s.x = t - zs * sx;
    s.z = zs - seg * sz;
  }
  s.y0 = seg * seg_rows;
  s.y1 = s.y0 + seg_rows < sy ? s.y0 + seg_rows : sy;
  return s;
}

__device__ __forceinline__ u64 segment_items(u64 sz, u64 sy, u64 sx, u64 seg_rows) {
  return (sy + seg_rows - 1) / seg_rows * sz * sx;
}

extern "C" __global__ void ccl_init(const VAL_T* __restrict__ labels, IDX_T* parent, u64 sz,
                                    u64 sy, u64 sx, u64 seg_rows) {
  const u64 items = segment_items(sz, sy, sx, seg_rows);
  const bool narrow = items <= CCL_NARROW_LIMIT;
  for (u64 t = pycsc_thread_index(); t < items; t += pycsc_thread_stride()) {
    const Segment s = segment_of(t, sz, sy, sx, seg_rows, narrow);
    u64 i = (s.z * sy + s.y0) * sx + s.x;
    val_t prev = 0;
    idx_t start = 0;
    for (u64 y = s.y0; y < s.y1; y += ROWS_AHEAD) {
      val_t v[ROWS_AHEAD];
      CCL_UNROLL
      for (int k = 0; k < ROWS_AHEAD; ++k) v[k] = y + k < s.y1 ? labels[i + k * sx] : 0;
      CCL_UNROLL
      for (int k = 0; k < ROWS_AHEAD; ++k) {
        if (y + k >= s.y1) break;
        if (v[k] == 0) {
          parent[i] = BG;
        } else {
          if (v[k] != prev) start = (idx_t)i;
          parent[i] = start;
        }
        prev = v[k];
        i += sx;
      }
    }
  }
}

// Path-halving find; see the correctness notes above for why plain stores are safe.
__device__ __forceinline__ idx_t find_root(idx_t* parent, idx_t x) {
  for (;;) {
    const idx_t p = parent[x];
    if (p == x) return x;
    const idx_t g = parent[p];
    if (g == p) return p;
    parent[x] = g;
    x = g;
  }
}

__device__ void unite(idx_t* parent, idx_t a, idx_t b) {
  for (;;) {
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a == b) return;
    if (a < b) {
      const idx_t t = a;
      a = b;
      b = t;
    }
    const idx_t old = atomicCAS(parent + a, a, b);  // hook the larger root under the smaller
    if (old == a) return;
    a = old;  // a was hooked meanwhile: carry on from its parent
  }
}

// The backward neighbour columns of voxel (z, y, x), walking along y: column k sits at
// (z + dz, x + dx) and touches rows y - ext .. y + ext. With the y-edge (y-1, y) of the
// voxel's own column these cover each neighbour pair of the connectivity exactly once.
//   k:        0          1         2         3
//   (dz,dx):  (-1,-1)    (-1,0)    (-1,+1)   (0,-1)
//   26:       ext 1      ext 1     ext 1     ext 1
//   18:       ext 0      ext 1     ext 0     ext 1      (no corner offsets)
//   6:        -          ext 0     -         ext 0
//   8 (2D):   -          -         -         ext 1      (2D is z = 1: dz = -1 never exists)
//   4 (2D):   -          -         -         ext 0
__device__ __forceinline__ int column_ext(u32 connectivity, int k) {
  if (k == 1) return connectivity == 6 ? 0 : connectivity == 18 || connectivity == 26 ? 1 : -1;
  if (k == 3) return connectivity == 4 || connectivity == 6 ? 0 : 1;
  return connectivity == 26 ? 1 : connectivity == 18 ? 0 : -1;  // k = 0, 2; -1: absent
}

// One contact test: voxel p (value v, run representative `run`) against column voxel q at row
// c with value `cv`, whose column predecessor at c-1 holds `pv`. Skipped when pv == v and the
// pair (p, c-1) is itself a neighbour pair (c-1 >= y-ext) or the pair (p's predecessor y-1,
// c-1) is (then run_continues): the y-edges of both columns are all united (init or seams),
// so p and q already meet through c-1. The implied edges come earlier in (y, c) order, so by
// induction every skipped edge is implied by performed ones.
__device__ __forceinline__ void contact(idx_t* parent, idx_t run, val_t v, val_t cv, val_t pv,
                                        bool implied_by_pv, u64 q) {
  if (cv == v && !(pv == v && implied_by_pv)) unite(parent, run, (idx_t)q);
}

extern "C" __global__ void ccl_merge(const VAL_T* __restrict__ labels, IDX_T* parent, u64 sz,
                                     u64 sy, u64 sx, u64 seg_rows, u32 connectivity) {
  const u64 items = segment_items(sz, sy, sx, seg_rows);
  const bool narrow = items <= CCL_NARROW_LIMIT;
  const u64 plane = sy * sx;
  for (u64 t = pycsc_thread_index(); t < items; t += pycsc_thread_stride()) {
    const Segment s = segment_of(t, sz, sy, sx, seg_rows, narrow);
    u64 i = (s.z * sy + s.y0) * sx + s.x;
    // Per column: its index at the current row, its ext (-1: absent or outside the volume),
    // and the values at rows y-2, y-1, y (0 outside the volume, which matches no voxel).
    u64 q[4];
    int ext[4];
    val_t w0[4], w1[4], w2[4];
    CCL_UNROLL
    for (int k = 0; k < 4; ++k) {
      const int dz = k < 3 ? -1 : 0, dx = k < 3 ? k - 1 : -1;
      ext[k] = column_ext(connectivity, k);
      if ((dz < 0 && s.z == 0) || (dx < 0 && s.x == 0) || (dx > 0 && s.x + 1 == sx)) ext[k] = -1;
      q[k] = i - (dz < 0 ? plane : 0) + dx;  // wraps when absent; then never read
      w0[k] = w1[k] = w2[k] = 0;
      if (ext[k] >= 0) {
        if (s.y0 >= 2) w0[k] = labels[q[k] - 2 * sx];
        if (s.y0 >= 1) w1[k] = labels[q[k] - sx];
        w2[k] = labels[q[k]];
      }
    }
    val_t up = s.y0 > 0 ? labels[i - sx] : 0;
    idx_t run = 0;
    for (u64 y = s.y0; y < s.y1; ++y) {
      // Row y+1 of the columns; column 3 shares its cache lines with the next own row, so
      // the next step's own load hits L1 (a one-row lookahead for the DRAM stream).
      val_t w3[4];
      CCL_UNROLL
      for (int k = 0; k < 4; ++k) w3[k] = ext[k] >= 0 && y + 1 < sy ? labels[q[k] + sx] : 0;
      const val_t v = labels[i];
      if (v != 0) {
        const bool run_continues = up == v;
        if (y == s.y0 || !run_continues) run = (idx_t)i;  // what ccl_init made the parent
        if (y == s.y0 && run_continues) unite(parent, (idx_t)i, (idx_t)(i - sx));  // seam
        CCL_UNROLL
        for (int k = 0; k < 4; ++k) {
          if (ext[k] == 1) {
            contact(parent, run, v, w1[k], w0[k], run_continues, q[k] - sx);  // c = y-1
            contact(parent, run, v, w2[k], w1[k], true, q[k]);                // c = y
            contact(parent, run, v, w3[k], w2[k], true, q[k] + sx);           // c = y+1
          } else if (ext[k] == 0) {
            contact(parent, run, v, w2[k], w1[k], run_continues, q[k]);
          }
        }
      }
      CCL_UNROLL
      for (int k = 0; k < 4; ++k) {
        w0[k] = w1[k];
        w1[k] = w2[k];
        w2[k] = w3[k];
        q[k] += sx;
      }
      up = v;
      i += sx;
    }
  }
}

extern "C" __global__ void ccl_compress(IDX_T* parent, u32* roots, u64 n) {
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) {
    const idx_t p = parent[i];
    if (p == BG) continue;
    if (p == (idx_t)i) {
      atomicOr(roots + (i >> 5), 1u << (u32)(i & 31));
      continue;
    }
    idx_t r = p;
    for (;;) {
      const idx_t up = parent[r];
      if (up == r) break;
      r = up;
    }
    if (r == p) continue;
    parent[i] = r;
    for (idx_t x = p; x != r;) {  // the rest of the path too: deep chains are walked once
      const idx_t next = parent[x];
      if (next != r) parent[x] = r;
      x = next;
    }
  }
}

extern "C" __global__ void ccl_count_roots(const u32* roots, IDX_T* counts, u64 words) {
  for (u64 w = pycsc_thread_index(); w < words; w += pycsc_thread_stride())
    counts[w] = (idx_t)__popc(roots[w]);
}

// `ends[w]`: roots in words 0..w (inclusive cumsum of the counts).
extern "C" __global__ void ccl_number(IDX_T* ids, const u32* roots, const IDX_T* ends, u64 n) {
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) {
    const idx_t r = ids[i];
    if (r == BG) {
      ids[i] = 0;
    } else {
      const u64 w = (u64)(r >> 5);
      ids[i] = ends[w] - (idx_t)__popc(roots[w] >> (u32)(r & 31)) + 1;
    }
  }
}
