// Threshold + components + statistics, and the id table lookup; see segment.hpp.
#include "segment.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "components.hpp"
#include "parallel.hpp"

namespace pycsc {
namespace {

constexpr int64_t kGrain = int64_t{1} << 21;  // voxels per thread before a second one pays

// First i' >= i with a[i'] != 0, or end. Eight ids per test: background is most of a volume.
template <class Idx>
inline int64_t skip_background(const Idx* a, int64_t i, int64_t end) {
  for (; i + 8 <= end; i += 8)
    if ((a[i] | a[i + 1] | a[i + 2] | a[i + 3] | a[i + 4] | a[i + 5] | a[i + 6] | a[i + 7]) != 0)
      break;
  while (i < end && a[i] == 0) ++i;
  return i;
}

// First i' >= i with m[i'] != 0, or end; eight mask bytes per test.
inline int64_t skip_zero_bytes(const uint8_t* m, int64_t i, int64_t end) {
  for (; i + 8 <= end; i += 8) {
    uint64_t w;
    std::memcpy(&w, m + i, 8);
    if (w) break;
  }
  while (i < end && m[i] == 0) ++i;
  return i;
}

// Calls fn(id, begin, end) for every maximal run of one non-zero id in a[lo, hi). With a mask
// (non-zero exactly where a is), background is found in the mask and the ids are read only
// under foreground: pages of pure background in `a` (fresh calloc pages) are never touched,
// which on large volumes saves more time than the reads themselves.
template <class Idx, class Fn>
inline void for_each_run(const Idx* a, const uint8_t* mask, int64_t lo, int64_t hi, Fn&& fn) {
  if (mask == nullptr) {
    for (int64_t i = skip_background(a, lo, hi); i < hi; i = skip_background(a, i, hi)) {
      const Idx v = a[i];
      int64_t j = i + 1;
      while (j < hi && a[j] == v) ++j;
      fn(v, i, j);
      i = j;
    }
    return;
  }
  for (int64_t i = skip_zero_bytes(mask, lo, hi); i < hi; i = skip_zero_bytes(mask, i, hi)) {
    int64_t e = i + 1;
    while (e < hi && mask[e] != 0) ++e;
    while (i < e) {
      const Idx v = a[i];
      int64_t j = i + 1;
      while (j < e && a[j] == v) ++j;
      fn(v, i, j);
      i = j;
    }
  }
}

// Voxels and first voxel of every id over the leading core box (cz, cy, cx) of the C-ordered
// (sz, sy, sx) `ids`; first is the linear index in the core box. Threads take z-slabs.
template <class Idx>
void count_objects(const Idx* ids, const uint8_t* mask, int64_t sy, int64_t sx, int64_t cz,
                   int64_t cy, int64_t cx, Idx n, ObjectStats& stats) {
  const int threads = static_cast<int>(
      std::min<int64_t>(threads_for(cz * cy * cx, kGrain), std::max<int64_t>(cz, 1)));
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  std::vector<std::vector<int64_t>> sizes(threads), first(threads);
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    std::vector<int64_t>& s = sizes[t];
    std::vector<int64_t>& f = first[t];
    s.assign(static_cast<size_t>(n) + 1, 0);
    f.assign(static_cast<size_t>(n) + 1, kNone);
    for (int64_t z = cz * t / threads; z < cz * (t + 1) / threads; ++z) {
      for (int64_t y = 0; y < cy; ++y) {
        const int64_t start = (z * sy + y) * sx;
        const int64_t core_row = (z * cy + y) * cx;
        for_each_run(ids + start, mask + start, 0, cx, [&](Idx v, int64_t b, int64_t e) {
          s[v] += e - b;
          if (f[v] == kNone) f[v] = core_row + b;  // slabs run in raster order: first seen = least
        });
      }
    }
  }
  stats.sizes.assign(static_cast<size_t>(n) + 1, 0);
  stats.first.assign(static_cast<size_t>(n) + 1, kNone);
  int64_t foreground = 0;
  for (int t = 0; t < threads; ++t) {
    for (size_t v = 1; v <= static_cast<size_t>(n); ++v) {
      stats.sizes[v] += sizes[t][v];
      stats.first[v] = std::min(stats.first[v], first[t][v]);
      foreground += sizes[t][v];
    }
  }
  stats.sizes[0] = cz * cy * cx - foreground;
  stats.first[0] = -1;
}

}  // namespace

template <class Idx>
Idx threshold_components(uint8_t* data, uint8_t cutoff, bool in_place, Idx* ids, int64_t sz,
                         int64_t sy, int64_t sx, int connectivity, ObjectStats& stats, int64_t cz,
                         int64_t cy, int64_t cx) {
  if (cz < 0 || cz > sz || cy < 0 || cy > sy || cx < 0 || cx > sx)
    throw std::invalid_argument("`core` must lie within the volume's shape");
  if (connectivity != 6 && connectivity != 18 && connectivity != 26)
    throw std::invalid_argument("`connectivity` must be 6, 18 or 26; got " +
                                std::to_string(connectivity));
  const int64_t n_voxels = sz * sy * sx;
  // In place, the data becomes the 0/1 mask: no fresh pages to fault in.
  std::unique_ptr<uint8_t[]> own;
  if (!in_place) own.reset(new uint8_t[static_cast<size_t>(std::max<int64_t>(n_voxels, 1))]);
  uint8_t* mask = in_place ? data : own.get();
  const int threads = threads_for(n_voxels, kGrain);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n_voxels; ++i) mask[i] = data[i] >= cutoff;
  const Idx n = connected_components<uint8_t, Idx>(mask, ids, sz, sy, sx, connectivity);
  count_objects(ids, mask, sy, sx, cz, cy, cx, n, stats);
  return n;
}

template <class Idx, class U>
void apply_id_table(Idx* ids, const uint8_t* mask, int64_t n, const U* table,
                    int64_t table_size, U* out, bool clear_ids) {
  if (table_size < 1 || table[0] != 0)
    throw std::invalid_argument("`table` must start with 0 (background stays background)");
  const int threads = threads_for(n, kGrain);
  std::vector<int64_t> bad(threads, -1);
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    const int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
    for_each_run(ids, mask, lo, hi, [&](Idx v, int64_t b, int64_t e) {
      if (static_cast<uint64_t>(v) >= static_cast<uint64_t>(table_size)) {
        if (bad[t] < 0) bad[t] = b;
        return;
      }
      const U value = table[v];
      if (value != 0) std::fill(out + b, out + e, value);
      if (clear_ids) std::fill(ids + b, ids + e, Idx{0});
    });
  }
  for (int t = 0; t < threads; ++t)
    if (bad[t] >= 0)
      throw std::invalid_argument(
          "`ids` holds " + std::to_string(static_cast<uint64_t>(ids[bad[t]])) + " at index " +
          std::to_string(bad[t]) + ", beyond the table's " + std::to_string(table_size) +
          " entries");
}

template uint32_t threshold_components<uint32_t>(uint8_t*, uint8_t, bool, uint32_t*, int64_t,
                                                 int64_t, int64_t, int, ObjectStats&, int64_t,
                                                 int64_t, int64_t);
template uint64_t threshold_components<uint64_t>(uint8_t*, uint8_t, bool, uint64_t*, int64_t,
                                                 int64_t, int64_t, int, ObjectStats&, int64_t,
                                                 int64_t, int64_t);

#define PYCSC_TABLE_INSTANTIATE(Idx, U) \
  template void apply_id_table<Idx, U>(Idx*, const uint8_t*, int64_t, const U*, int64_t, U*, bool);
PYCSC_TABLE_INSTANTIATE(uint32_t, uint8_t)
PYCSC_TABLE_INSTANTIATE(uint32_t, uint16_t)
PYCSC_TABLE_INSTANTIATE(uint32_t, uint32_t)
PYCSC_TABLE_INSTANTIATE(uint32_t, uint64_t)
PYCSC_TABLE_INSTANTIATE(uint64_t, uint8_t)
PYCSC_TABLE_INSTANTIATE(uint64_t, uint16_t)
PYCSC_TABLE_INSTANTIATE(uint64_t, uint32_t)
PYCSC_TABLE_INSTANTIATE(uint64_t, uint64_t)
#undef PYCSC_TABLE_INSTANTIATE

}  // namespace pycsc
