// Work sharing for the streaming kernels: the flat range is cut into slices handed out one at a
// time, so a thread slowed down by other load on a shared machine just takes fewer slices
// (a static half/half split would wait for the slowest thread). Results must not depend on
// which thread ran a slice: callers keep per-thread tables indexed by `thread` and merge them.
#pragma once
#include <algorithm>
#include <cstdint>

#include "parallel.hpp"

namespace pycsc {

// Slice length in items: a few MiB of input per slice keeps scheduling overhead negligible.
constexpr int64_t kSliceItems = int64_t{1} << 22;

// Threads worth starting for n items: one per 2^20 items at most, as many as OpenMP allows.
inline int threads_for_items(int64_t n) { return threads_for(n, int64_t{1} << 20); }

// Calls fn(thread, lo, hi) for consecutive slices [lo, hi) of [0, n), `slice` items each (the
// last may be shorter), on up to `nthreads` threads; thread is in [0, nthreads).
template <class Fn>
void for_each_slice(int64_t n, int64_t slice, int nthreads, Fn&& fn) {
  if (n <= 0) return;
  slice = std::max<int64_t>(slice, 1);
  const int64_t count = (n + slice - 1) / slice;
  if (nthreads <= 1 || count == 1) {
    for (int64_t s = 0; s < count; ++s) fn(0, s * slice, std::min(n, (s + 1) * slice));
    return;
  }
#ifdef PYCSC_HAVE_OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1)
#endif
  for (int64_t s = 0; s < count; ++s) fn(thread_id(), s * slice, std::min(n, (s + 1) * slice));
}

}  // namespace pycsc
