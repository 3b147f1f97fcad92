// Overlap (contingency) table of two label volumes on the GPU, the device twin of
// csrc/overlaps.cpp (same numbers; the driver pycsc/gpu/overlaps.py sorts them into the same
// order).
//
// Method: one pass over both volumes. Each thread walks contiguous spans (hash.cuh) and keeps
// three run caches in registers -- the last truth id, the last pred id and the last (truth,
// pred) pair, each with its voxel count -- which persist across background voxels. A cache is
// flushed into its global hash table (atomicCAS on the key, atomicAdd on the count) only when
// a different non-zero id or pair shows up, so the table sees one atomic per run of an object
// along x (and fewer: an object's successive rows inside one span share the cache), none for
// background. Pairs of ids < 2^32 are packed into one u64 key (truth << 32 | pred), whose
// order is the (truth, pred) order.
// Ids >= 2^32 (64-bit dtypes only) cannot be packed: the first pass flags them, still counts
// the per-label sizes, and the driver runs overlap_count_ranked, which keys pairs by the ranks
// of the two ids among the sorted labels of each volume (rank + 1 < 2^32 always).
// Traffic: both volumes read once (600^3 u32: 1.73 GB, about 0.55 ms at 3.2 TB/s on an
// H100), plus the tables (16 B per slot, capacity about n / 64 capped at 2^21 slots: zeroed
// once and scanned once by the driver's compaction) and one atomic per run.
// Oracle in tests: the CPU path (tests/gpu/test_overlaps.py, emulated and on a device).
#include "hash.cuh"

#ifndef TRUTH_T
#error "TRUTH_T (the truth volume's unsigned element type) must be defined"
#endif

// Tables of a pass: 0 = pairs, 1 = truth sizes, 2 = pred sizes. Flags after PYCSC_FLAGS:
#define OV_TRUTH_NEGATIVE (PYCSC_FLAGS + 0)
#define OV_PRED_NEGATIVE (PYCSC_FLAGS + 1)
#define OV_WIDE (PYCSC_FLAGS + 2)      // an id >= 2^32: pairs must be counted by rank
#define OV_MISSING (PYCSC_FLAGS + 3)   // ranked pass: an id absent from its size table (a bug)

template <class P>
__device__ void overlap_count_body(const TRUTH_T* __restrict__ truth, const P* __restrict__ pred, u64 n,
                                   u64 span, u64 truth_neg, u64 pred_neg, u64* pair_keys,
                                   u64* pair_counts, u64* truth_keys, u64* truth_counts,
                                   u64* pred_keys, u64* pred_counts, const u64* geom, u64* status) {
  u64 g_id = 0, g_n = 0, p_id = 0, p_n = 0, k_id = 0, k_n = 0;
  bool g_neg = false, p_neg = false, wide = false;
  pycsc_for_each_item(n, span, [&](u64 i, u64 m) {
    typename PycscWord<TRUTH_T>::type gv[PYCSC_ITEM];
    typename PycscWord<P>::type pv[PYCSC_ITEM];
    pycsc_load_item(truth, i, m, gv);
    pycsc_load_item(pred, i, m, pv);
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) {
      const u64 g = gv[j], p = pv[j];  // 0 past m: skipped like background
      if (g != 0) {
        if (g != g_id) {
          pycsc_table_add(truth_keys, truth_counts, geom, 1, status, g_id, g_n);
          g_id = g;
          g_n = 0;
          g_neg |= (g & truth_neg) != 0;
          if (sizeof(TRUTH_T) == 8) wide |= (g >> 32) != 0;
        }
        ++g_n;
      }
      if (p != 0) {
        if (p != p_id) {
          pycsc_table_add(pred_keys, pred_counts, geom, 2, status, p_id, p_n);
          p_id = p;
          p_n = 0;
          p_neg |= (p & pred_neg) != 0;
          if (sizeof(P) == 8) wide |= (p >> 32) != 0;
        }
        ++p_n;
      }
      // Once this thread saw a wide id its pair counts are void (the driver redoes them).
      if (g != 0 && p != 0 && !wide) {
        const u64 key = (g << 32) | p;
        if (key != k_id) {
          pycsc_table_add(pair_keys, pair_counts, geom, 0, status, k_id, k_n);
          k_id = key;
          k_n = 0;
        }
        ++k_n;
      }
    }
  });
  pycsc_table_add(truth_keys, truth_counts, geom, 1, status, g_id, g_n);
  pycsc_table_add(pred_keys, pred_counts, geom, 2, status, p_id, p_n);
  if (!wide) pycsc_table_add(pair_keys, pair_counts, geom, 0, status, k_id, k_n);
  if (g_neg) status[OV_TRUTH_NEGATIVE] = 1;
  if (p_neg) status[OV_PRED_NEGATIVE] = 1;
  if (wide) status[OV_WIDE] = 1;
}

// Rank of `id` among the sorted labels of table t (ranks[slot] filled by the driver).
__device__ __forceinline__ u64 overlap_rank(const u64* keys, const u64* ranks, const u64* geom, int t,
                                            u64 id, u64* status) {
  const i64 s = pycsc_table_find(keys, geom, t, id);
  if (s < 0) {
    status[OV_MISSING] = 1;
    return 0;
  }
  return ranks[s];
}

template <class P>
__device__ void overlap_count_ranked_body(const TRUTH_T* __restrict__ truth, const P* __restrict__ pred,
                                          u64 n, u64 span, u64* pair_keys, u64* pair_counts,
                                          const u64* truth_keys, const u64* truth_ranks,
                                          const u64* pred_keys, const u64* pred_ranks, const u64* geom,
                                          u64* status) {
  u64 g_id = 0, g_rank = 0, p_id = 0, p_rank = 0, k_id = 0, k_n = 0;
  pycsc_for_each_item(n, span, [&](u64 i, u64 m) {
    typename PycscWord<TRUTH_T>::type gv[PYCSC_ITEM];
    typename PycscWord<P>::type pv[PYCSC_ITEM];
    pycsc_load_item(truth, i, m, gv);
    pycsc_load_item(pred, i, m, pv);
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) {
      const u64 g = gv[j], p = pv[j];  // 0 past m
      if (g == 0 || p == 0) continue;
      if (g != g_id) {
        g_id = g;
        g_rank = overlap_rank(truth_keys, truth_ranks, geom, 1, g, status);
      }
      if (p != p_id) {
        p_id = p;
        p_rank = overlap_rank(pred_keys, pred_ranks, geom, 2, p, status);
      }
      const u64 key = ((g_rank + 1) << 32) | (p_rank + 1);
      if (key != k_id) {
        pycsc_table_add(pair_keys, pair_counts, geom, 0, status, k_id, k_n);
        k_id = key;
        k_n = 0;
      }
      ++k_n;
    }
  });
  pycsc_table_add(pair_keys, pair_counts, geom, 0, status, k_id, k_n);
}

// One pair of entry points per pred element type.
#define PYCSC_OVERLAP_KERNELS(P)                                                                      \
  extern "C" __global__ void overlap_count_##P(                                                       \
      const TRUTH_T* __restrict__ truth, const P* __restrict__ pred, u64 n, u64 span, u64 truth_neg,  \
      u64 pred_neg, u64* pair_keys, u64* pair_counts, u64* truth_keys, u64* truth_counts,             \
      u64* pred_keys, u64* pred_counts, const u64* geom, u64* status) {                               \
    overlap_count_body<P>(truth, pred, n, span, truth_neg, pred_neg, pair_keys, pair_counts,          \
                          truth_keys, truth_counts, pred_keys, pred_counts, geom, status);            \
  }                                                                                                   \
  extern "C" __global__ void overlap_count_ranked_##P(                                                \
      const TRUTH_T* __restrict__ truth, const P* __restrict__ pred, u64 n, u64 span, u64* pair_keys, \
      u64* pair_counts, const u64* truth_keys, const u64* truth_ranks, const u64* pred_keys,          \
      const u64* pred_ranks, const u64* geom, u64* status) {                                          \
    overlap_count_ranked_body<P>(truth, pred, n, span, pair_keys, pair_counts, truth_keys,            \
                                 truth_ranks, pred_keys, pred_ranks, geom, status);                   \
  }

PYCSC_OVERLAP_KERNELS(u8)
PYCSC_OVERLAP_KERNELS(u16)
PYCSC_OVERLAP_KERNELS(u32)
PYCSC_OVERLAP_KERNELS(u64)
