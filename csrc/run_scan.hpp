// Run-length scanning of label volumes: visit every maximal run of equal values (or of equal
// (a, b) pairs in two volumes read in lockstep) in a range of the flat index space.
//
// Method: blocks of 64 voxels. A block that only continues the current run (the common case:
// 90-95 % of an EM crop is background, objects span many voxels) is recognised by an
// OR-of-XORs against the current value, which compilers vectorise. Other blocks get a 64-bit
// change mask (bit k set where voxel k differs from voxel k-1; SSE2 compares + movemask on
// x86-64, a scalar loop elsewhere) and their runs are visited by counting trailing zeros, so the
// cost is one branch per run rather than one per voxel.
// Complexity: O(n / 64) block tests + O(runs); no allocation.
// Oracle: the overlap and label kernels' tests (numpy / fastremap / scipy).
#pragma once
#include <cstdint>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define PYCSC_RUN_SCAN_SSE2 1
#endif

namespace pycsc {

namespace run_detail {

constexpr int64_t kBlock = 64;

inline int ctz64(uint64_t m) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(m);
#else
  int k = 0;
  while (!(m & 1)) m >>= 1, ++k;
  return k;
#endif
}

// True when a[0..64) all equal v.
template <class T>
inline bool uniform(const T* a, T v) {
  T acc = 0;
  for (int64_t k = 0; k < kBlock; ++k) acc |= static_cast<T>(a[k] ^ v);
  return acc == 0;
}

// True when a[0..64) all equal v and b[0..64) all equal w.
template <class A, class B>
inline bool uniform2(const A* a, const B* b, A v, B w) {
  A acc_a = 0;
  B acc_b = 0;
  for (int64_t k = 0; k < kBlock; ++k) {
    acc_a |= static_cast<A>(a[k] ^ v);
    acc_b |= static_cast<B>(b[k] ^ w);
  }
  return (acc_a | acc_b) == 0;
}

// Bit k set where a[k] != a[k-1], k in [0, 64); reads a[-1].
template <class T>
inline uint64_t change_mask(const T* a) {
#ifdef PYCSC_RUN_SCAN_SSE2
  uint64_t same = 0;
  constexpr int lanes = 16 / sizeof(T);
  for (int j = 0; j < kBlock / lanes; ++j) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + j * lanes));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + j * lanes - 1));
    uint64_t bits;
    if constexpr (sizeof(T) == 1) {
      bits = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)));
    } else if constexpr (sizeof(T) == 2) {
      const __m128i c = _mm_cmpeq_epi16(x, y);
      bits = static_cast<uint32_t>(_mm_movemask_epi8(_mm_packs_epi16(c, c))) & 0xFFu;
    } else if constexpr (sizeof(T) == 4) {
      bits = static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(x, y))));
    } else {
      __m128i c = _mm_cmpeq_epi32(x, y);
      c = _mm_and_si128(c, _mm_shuffle_epi32(c, 0xB1));
      bits = static_cast<uint32_t>(_mm_movemask_pd(_mm_castsi128_pd(c)));
    }
    same |= bits << (j * lanes);
  }
  return ~same;
#else
  uint64_t m = 0;
  for (int k = 0; k < kBlock; ++k) m |= static_cast<uint64_t>(a[k] != a[k - 1]) << k;
  return m;
#endif
}

}  // namespace run_detail

// Calls visit(value, start, length) for every maximal run of equal values of a[lo..hi), in order.
template <class T, class Visit>
inline void for_each_run(const T* a, int64_t lo, int64_t hi, Visit&& visit) {
  using namespace run_detail;
  if (lo >= hi) return;
  T cur = a[lo];
  int64_t start = lo;
  int64_t i = lo + 1;  // invariant: a[start..i) == cur
  for (; i + kBlock <= hi; i += kBlock) {
    if (uniform(a + i, cur)) continue;
    uint64_t m = change_mask(a + i);
    while (m) {
      const int64_t pos = i + ctz64(m);
      m &= m - 1;
      visit(cur, start, pos - start);
      cur = a[pos];
      start = pos;
    }
  }
  for (; i < hi; ++i) {
    if (a[i] != cur) {
      visit(cur, start, i - start);
      cur = a[i];
      start = i;
    }
  }
  visit(cur, start, hi - start);
}

// Calls visit(a_value, b_value, length) for every maximal run of equal (a, b) pairs of
// a[lo..hi), b[lo..hi), in order.
template <class A, class B, class Visit>
inline void for_each_run2(const A* a, const B* b, int64_t lo, int64_t hi, Visit&& visit) {
  using namespace run_detail;
  if (lo >= hi) return;
  A cur_a = a[lo];
  B cur_b = b[lo];
  int64_t start = lo;
  int64_t i = lo + 1;
  for (; i + kBlock <= hi; i += kBlock) {
    if (uniform2(a + i, b + i, cur_a, cur_b)) continue;
    uint64_t m = change_mask(a + i) | change_mask(b + i);
    while (m) {
      const int64_t pos = i + ctz64(m);
      m &= m - 1;
      visit(cur_a, cur_b, pos - start);
      cur_a = a[pos];
      cur_b = b[pos];
      start = pos;
    }
  }
  for (; i < hi; ++i) {
    if (a[i] != cur_a || b[i] != cur_b) {
      visit(cur_a, cur_b, i - start);
      cur_a = a[i];
      cur_b = b[i];
      start = i;
    }
  }
  visit(cur_a, cur_b, hi - start);
}

}  // namespace pycsc
