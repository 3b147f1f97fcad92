// Global-memory open-addressing hash tables and the span walk shared by the label kernels.
//
// Tables: u64 keys, 0 = empty slot (callers never insert 0: background is counted apart or
// skipped), linear probing from a multiplicative (Fibonacci) hash, capacity a power of two.
// A key is claimed with atomicCAS and never moves or changes afterwards, so a stale read of a
// slot can only be a 0 that the CAS then corrects. The payload of a slot (counts, boxes) lives
// in arrays indexed by the slot and is updated with atomics.
//
// Capacity is not known in advance, so a table counts its claimed slots; past `limit` (3/4 of
// the capacity) it raises its overflow flag and claims no more slots. The driver then discards
// the pass and reruns it with a larger table. A probe never runs longer than the capacity.
#pragma once
#include "common.cuh"

// Status words of a kernel pass (a u64 array of PYCSC_STATUS_WORDS zeros): word t is table t's
// overflow flag, word 8 + t its count of claimed slots, words from PYCSC_FLAGS on are the
// kernel's own flags. Table t's geometry is geom[3t .. 3t+2] = {mask, shift, limit}.
#define PYCSC_STATUS_WORDS 32
#define PYCSC_FLAGS 16

__device__ __forceinline__ u64 pycsc_hash_home(u64 key, u32 shift) {
  return (key * 0x9E3779B97F4A7C15ull) >> shift;
}

// Slot of `key` (non-zero) in table t, claimed if new; -1 when the table has overflowed.
// Called once per run, not per voxel: kept out of line, reading the geometry from memory,
// so that the unrolled item loops stay small and hold few registers.
__device__ __noinline__ i64 pycsc_table_slot(u64* keys, const u64* geom, int t, u64* status, u64 key) {
  const u64 mask = geom[3 * t], limit = geom[3 * t + 2];
  volatile u64* overflow = &status[t];
  u64 h = pycsc_hash_home(key, (u32)geom[3 * t + 1]);
  for (u64 probe = 0; probe <= mask; ++probe) {
    const u64 k = keys[h];
    if (k == key) return (i64)h;
    if (k == 0) {
      if (*overflow) return -1;
      const u64 old = atomicCAS(&keys[h], 0ull, key);
      if (old == 0) {
        if (atomicAdd(&status[8 + t], 1ull) + 1 > limit) *overflow = 1;
        return (i64)h;
      }
      if (old == key) return (i64)h;
    }
    h = (h + 1) & mask;
  }
  *overflow = 1;
  return -1;
}

// Slot of `key` in finished table t; -1 when absent.
__device__ i64 pycsc_table_find(const u64* keys, const u64* geom, int t, u64 key) {
  const u64 mask = geom[3 * t];
  u64 h = pycsc_hash_home(key, (u32)geom[3 * t + 1]);
  for (u64 probe = 0; probe <= mask; ++probe) {
    const u64 k = keys[h];
    if (k == key) return (i64)h;
    if (k == 0) return -1;
    h = (h + 1) & mask;
  }
  return -1;
}

// Adds `count` voxels to `key`'s counter in table t (nothing for an empty run).
__device__ __forceinline__ void pycsc_table_add(u64* keys, u64* counts, const u64* geom, int t, u64* status,
                                                u64 key, u64 count) {
  if (count == 0) return;
  const i64 s = pycsc_table_slot(keys, geom, t, status, key);
  if (s >= 0) atomicAdd(&counts[s], count);
}

// Work split: the flat range is cut into spans of `span` voxels, handed out grid-stride, and a
// thread walks its span in items of PYCSC_ITEM voxels. A thread's voxels are contiguous, so
// runs of equal ids (objects along x, background) collapse in registers before any atomic;
// each warp step still reads whole 32-byte sectors (8 voxels of 4 bytes per thread).
#define PYCSC_ITEM 8

// Threads add their count of the one very common value (background) to one of these stripes,
// so that no single counter takes an atomic from every thread.
#define PYCSC_STRIPES 1024

#if defined(__CUDACC__)
#define PYCSC_UNROLL _Pragma("unroll")
#else
#define PYCSC_UNROLL
#endif

// Calls body(i, m) for each item of this thread: voxels [i, i + m), m <= PYCSC_ITEM, in
// increasing i within a span; spans follow in increasing order too. Bodies loop over the
// item with PYCSC_UNROLL and `if (j < m)`, so that the item stays in registers.
template <class F>
__device__ __forceinline__ void pycsc_for_each_item(u64 n, u64 span, F&& body) {
  const u64 spans = (n + span - 1) / span;
  for (u64 s = pycsc_thread_index(); s < spans; s += pycsc_thread_stride()) {
    const u64 hi = min(n, (s + 1) * span);
    for (u64 i = s * span; i < hi; i += PYCSC_ITEM) body(i, min((u64)PYCSC_ITEM, hi - i));
  }
}

// 16 bytes, for vector loads and stores (one ld/st.global.v2.u64 instead of several scalars).
struct alignas(16) PycscVec16 {
  u64 lo, hi;
};

// An item of PYCSC_ITEM values of type T occupies 8 * sizeof(T) bytes = `words` u64 words,
// element j at bit 8 * sizeof(T) * j (little-endian). Full, aligned items move as vectors.
template <class T>
__device__ __forceinline__ bool pycsc_item_aligned(const T* p, u64 m) {
  const u64 bytes = PYCSC_ITEM * sizeof(T);
  return m == PYCSC_ITEM && ((u64)p & ((bytes < 16 ? bytes : 16) - 1)) == 0;
}

// The register type items of T are loaded into: u32 up to 32-bit elements (half the registers).
template <class T>
struct PycscWord {
  typedef u32 type;
};
template <>
struct PycscWord<u64> {
  typedef u64 type;
};

// Loads a[i .. i+m) into v (0 past m).
template <class T>
__device__ __forceinline__ void pycsc_load_item(const T* __restrict__ a, u64 i, u64 m,
                                                typename PycscWord<T>::type* v) {
  typedef typename PycscWord<T>::type W;
  const T* p = a + i;
  if (pycsc_item_aligned(p, m)) {
    const int bits = 8 * (int)sizeof(T);
    u64 w[PYCSC_ITEM];
    if (sizeof(T) == 1) {
      w[0] = *(const u64*)p;
    } else {
      PYCSC_UNROLL
      for (int k = 0; k < (int)sizeof(T) / 2; ++k) {
        const PycscVec16 x = ((const PycscVec16*)p)[k];
        w[2 * k] = x.lo;
        w[2 * k + 1] = x.hi;
      }
    }
    const u64 mask = bits == 64 ? ~0ull : (1ull << (bits & 63)) - 1;
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) v[j] = (W)((w[(j * bits) / 64] >> ((j * bits) % 64)) & mask);
  } else {
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) v[j] = (u64)j < m ? (W)p[j] : (W)0;
  }
}

// Stores v[0 .. m) (truncated to T) at a[i .. i+m).
template <class T>
__device__ __forceinline__ void pycsc_store_item(T* __restrict__ a, u64 i, u64 m, const u64* v) {
  T* p = a + i;
  if (pycsc_item_aligned(p, m)) {
    const int bits = 8 * (int)sizeof(T);
    const u64 mask = bits == 64 ? ~0ull : (1ull << (bits & 63)) - 1;
    u64 w[PYCSC_ITEM];
    PYCSC_UNROLL
    for (int k = 0; k < PYCSC_ITEM; ++k) w[k] = 0;
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) w[(j * bits) / 64] |= (v[j] & mask) << ((j * bits) % 64);
    if (sizeof(T) == 1) {
      *(u64*)p = w[0];
    } else {
      PYCSC_UNROLL
      for (int k = 0; k < (int)sizeof(T) / 2; ++k) {
        PycscVec16 x;
        x.lo = w[2 * k];
        x.hi = w[2 * k + 1];
        ((PycscVec16*)p)[k] = x;
      }
    }
  } else {
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j)
      if ((u64)j < m) p[j] = (T)v[j];
  }
}
