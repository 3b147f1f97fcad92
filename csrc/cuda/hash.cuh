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

struct PycscTable {
  u64* keys;
  u64 mask;        // capacity - 1
  u32 shift;       // 64 - log2(capacity)
  u64 limit;       // slots that may be claimed before the table overflows
  u64* used;       // claimed slots
  u64* overflow;   // set to 1 once the table is too small
};

__device__ __forceinline__ PycscTable pycsc_table(u64* keys, const u64* geom, int t, u64* status) {
  PycscTable table;
  table.keys = keys;
  table.mask = geom[3 * t];
  table.shift = (u32)geom[3 * t + 1];
  table.limit = geom[3 * t + 2];
  table.used = &status[8 + t];
  table.overflow = &status[t];
  return table;
}

__device__ __forceinline__ u64 pycsc_hash_home(u64 key, u32 shift) {
  return (key * 0x9E3779B97F4A7C15ull) >> shift;
}

// Slot of `key` (non-zero), claimed if new; -1 when the table has overflowed.
__device__ i64 pycsc_table_slot(const PycscTable& t, u64 key) {
  u64 h = pycsc_hash_home(key, t.shift);
  for (u64 probe = 0; probe <= t.mask; ++probe) {
    const u64 k = t.keys[h];
    if (k == key) return (i64)h;
    if (k == 0) {
      if (*(volatile u64*)t.overflow) return -1;
      const u64 old = atomicCAS(&t.keys[h], 0ull, key);
      if (old == 0) {
        if (atomicAdd(t.used, 1ull) + 1 > t.limit) *(volatile u64*)t.overflow = 1;
        return (i64)h;
      }
      if (old == key) return (i64)h;
    }
    h = (h + 1) & t.mask;
  }
  *(volatile u64*)t.overflow = 1;
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

// Adds `count` voxels to `key`'s counter (nothing for an empty run).
__device__ __forceinline__ void pycsc_table_add(const PycscTable& t, u64* counts, u64 key, u64 count) {
  if (count == 0) return;
  const i64 s = pycsc_table_slot(t, key);
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
// increasing i within a span; spans follow in increasing order too.
template <class F>
__device__ __forceinline__ void pycsc_for_each_item(u64 n, u64 span, F&& body) {
  const u64 spans = (n + span - 1) / span;
  for (u64 s = pycsc_thread_index(); s < spans; s += pycsc_thread_stride()) {
    const u64 hi = min(n, (s + 1) * span);
    for (u64 i = s * span; i < hi; i += PYCSC_ITEM) body(i, min((u64)PYCSC_ITEM, hi - i));
  }
}

// Loads a[i .. i+m) into v (as u64), unrolled when the item is full.
template <class T>
__device__ __forceinline__ void pycsc_load_item(const T* __restrict__ a, u64 i, u64 m, u64* v) {
  if (m == PYCSC_ITEM) {
    PYCSC_UNROLL
    for (int j = 0; j < PYCSC_ITEM; ++j) v[j] = a[i + j];
  } else {
    for (u64 j = 0; j < m; ++j) v[j] = a[i + j];
  }
}
