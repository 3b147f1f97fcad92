// Label utilities on the GPU, the device twins of csrc/labels.cpp: value counts (unique),
// bounding boxes and remap. The driver is pycsc/gpu/labels.py.
//
// value_count: one pass; each thread keeps its background count and a run cache of the last
// non-zero value in registers and flushes the cache into a global hash table (hash.cuh) only
// when another non-zero value shows up; background goes to striped counters once per thread.
// Traffic: the volume read once (600^3 u32: 0.86 GB, about 0.27 ms on an H100) plus the table.
// box_update: one pass; ids are mapped to table slots (the dense index), each thread keeps the
// box of its last non-zero id in registers and merges it into the slot with atomicMin /
// atomicMax on int64 only when another id shows up. Same traffic as value_count, plus 48 B
// per slot.
// remap_lut_*: 8/16-bit inputs, a gather from a 256/65536-entry table (L1/L2 resident):
// read n values, write n values, coalesced grid-stride.
// remap_search_*: 32/64-bit inputs, binary search in the sorted keys (unsigned order), cached
// per run of equal values along the thread's span. Read n + write n values (600^3 u32 -> u32:
// 1.73 GB, about 0.55 ms on an H100).
// Unmapped values with preserve_missing off: the smallest flat index is kept (atomicMin), so
// the driver reports the same value as the CPU path (the first in memory order).
// Oracle in tests: the CPU path (tests/gpu/test_labels.py).
#include "hash.cuh"

#ifndef LABEL_T
#error "LABEL_T (the unsigned element type of the label volume) must be defined"
#endif

#define LB_NEGATIVE (PYCSC_FLAGS + 0)

extern "C" __global__ void value_count(const LABEL_T* __restrict__ a, u64 n, u64 span, u64* keys, u64* counts,
                                       u64* zero_stripes, const u64* geom, u64* status) {
  u64 v_id = 0, v_n = 0, zeros = 0;
  pycsc_for_each_item(n, span, [&](u64 i, u64 m) {
    typename PycscWord<LABEL_T>::type v[PYCSC_ITEM];
    pycsc_load_item(a, i, m, v);
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) {
      if ((u64)j >= m) break;
      if (v[j] == 0) {
        ++zeros;
        continue;
      }
      if (v[j] != v_id) {
        pycsc_table_add(keys, counts, geom, 0, status, v_id, v_n);
        v_id = v[j];
        v_n = 0;
      }
      ++v_n;
    }
  });
  pycsc_table_add(keys, counts, geom, 0, status, v_id, v_n);
  if (zeros) atomicAdd(&zero_stripes[pycsc_thread_index() & (PYCSC_STRIPES - 1)], zeros);
}

// Box accumulated by one thread for one id: lo/hi of z, y, x (hi inclusive).
struct LabelBox {
  i64 lo[3], hi[3];
};

__device__ __forceinline__ void box_flush(u64* keys, const u64* geom, u64* status, i64* boxes, u64 id,
                                          const LabelBox& b) {
  if (id == 0) return;
  const i64 s = pycsc_table_slot(keys, geom, 0, status, id);
  if (s < 0) return;
  i64* slot = boxes + 6 * s;
  for (int d = 0; d < 3; ++d) {
    atomicMin(&slot[d], b.lo[d]);
    atomicMax(&slot[3 + d], b.hi[d]);
  }
}

// boxes: 6 int64 per slot, {lo z, lo y, lo x, hi z, hi y, hi x}, initialised to
// {INT64_MAX x 3, -1 x 3}; (nz, ny, nx) is the C-ordered shape padded to 3D.
extern "C" __global__ void box_update(const LABEL_T* __restrict__ a, u64 n, u64 span, u64 ny, u64 nx,
                                      u64 neg_mask, u64* keys, i64* boxes, const u64* geom, u64* status) {
  u64 b_id = 0;
  LabelBox box;
  bool negative = false;
  for (int d = 0; d < 3; ++d) box.lo[d] = box.hi[d] = 0;
  u64 next = n;  // flat index the coordinates below belong to (n = none yet)
  i64 z = 0, y = 0, x = 0;
  pycsc_for_each_item(n, span, [&](u64 i, u64 m) {
    if (i != next) {  // a new span: derive the coordinates once, then step them
      x = (i64)(i % nx);
      y = (i64)((i / nx) % ny);
      z = (i64)(i / nx / ny);
    }
    next = i + m;
    typename PycscWord<LABEL_T>::type v[PYCSC_ITEM];
    pycsc_load_item(a, i, m, v);
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) {
      if ((u64)j >= m) break;
      const u64 id = v[j];
      if (id != 0) {
        if (id != b_id) {
          box_flush(keys, geom, status, boxes, b_id, box);
          b_id = id;
          negative |= (id & neg_mask) != 0;
          box.lo[0] = box.hi[0] = z;
          box.lo[1] = box.hi[1] = y;
          box.lo[2] = box.hi[2] = x;
        }
        box.lo[0] = min(box.lo[0], z);
        box.hi[0] = max(box.hi[0], z);
        box.lo[1] = min(box.lo[1], y);
        box.hi[1] = max(box.hi[1], y);
        box.lo[2] = min(box.lo[2], x);
        box.hi[2] = max(box.hi[2], x);
      }
      if (++x == (i64)nx) {
        x = 0;
        if (++y == (i64)ny) {
          y = 0;
          ++z;
        }
      }
    }
  });
  box_flush(keys, geom, status, boxes, b_id, box);
  if (negative) status[LB_NEGATIVE] = 1;
}

// The value of input bits v in output type O, sign-extended when the input is signed.
template <class O>
__device__ __forceinline__ O remap_keep(u64 v, u32 sign_extend) {
  const int bits = 8 * (int)sizeof(LABEL_T);
  if (sign_extend && bits < 64 && ((v >> (bits - 1)) & 1)) v |= ~0ull << (bits & 63);
  return (O)v;
}

template <class O>
__device__ void remap_lut_body(const LABEL_T* __restrict__ a, O* __restrict__ out, u64 n, const O* __restrict__ lut,
                               const u8* __restrict__ known, u32 check_missing, u64* first_missing) {
  u64 missing = ~0ull;
  for (u64 i = pycsc_thread_index(); i < n; i += pycsc_thread_stride()) {
    const LABEL_T v = a[i];
    out[i] = lut[v];
    if (check_missing && !known[v] && i < missing) missing = i;
  }
  if (missing != ~0ull) atomicMin(first_missing, missing);
}

template <class O>
__device__ void remap_search_body(const LABEL_T* __restrict__ a, O* __restrict__ out, u64 n, u64 span,
                                  const LABEL_T* __restrict__ keys, const O* __restrict__ values, u64 m_keys,
                                  u32 preserve_missing, u32 sign_extend, u64* first_missing) {
  u64 last = 0, missing = ~0ull;
  bool have_last = false, last_known = false;
  O last_value = 0;
  pycsc_for_each_item(n, span, [&](u64 i, u64 m) {
    typename PycscWord<LABEL_T>::type v[PYCSC_ITEM];
    u64 o[PYCSC_ITEM];
    pycsc_load_item(a, i, m, v);
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) {
      if (!have_last || v[j] != last) {
        u64 lo = 0, hi = m_keys;
        while (lo < hi) {
          const u64 mid = lo + (hi - lo) / 2;
          if ((u64)keys[mid] < v[j])
            lo = mid + 1;
          else
            hi = mid;
        }
        have_last = true;
        last = v[j];
        last_known = lo < m_keys && (u64)keys[lo] == v[j];
        last_value = last_known ? values[lo] : remap_keep<O>(v[j], sign_extend);
      }
      if (!last_known && !preserve_missing && (u64)j < m && i + j < missing) missing = i + j;
      o[j] = (u64)last_value;
    }
    pycsc_store_item(out, i, m, o);
  });
  if (missing != ~0ull) atomicMin(first_missing, missing);
}

// Entry points per output element type (same signedness as the input, at least as wide).
#define PYCSC_REMAP_KERNELS(O)                                                                        \
  extern "C" __global__ void remap_lut_##O(const LABEL_T* __restrict__ a, O* __restrict__ out, u64 n,  \
                                           const O* __restrict__ lut, const u8* __restrict__ known,    \
                                           u32 check_missing, u64* first_missing) {                    \
    remap_lut_body<O>(a, out, n, lut, known, check_missing, first_missing);                           \
  }                                                                                                   \
  extern "C" __global__ void remap_search_##O(const LABEL_T* __restrict__ a, O* __restrict__ out, u64 n, \
                                              u64 span, const LABEL_T* __restrict__ keys,              \
                                              const O* __restrict__ values, u64 m_keys,                \
                                              u32 preserve_missing, u32 sign_extend,                   \
                                              u64* first_missing) {                                    \
    remap_search_body<O>(a, out, n, span, keys, values, m_keys, preserve_missing, sign_extend,        \
                         first_missing);                                                              \
  }

PYCSC_REMAP_KERNELS(u8)
PYCSC_REMAP_KERNELS(u16)
PYCSC_REMAP_KERNELS(u32)
PYCSC_REMAP_KERNELS(u64)
