// Run-based connected components; the method is described in components.hpp.
#include "components.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "parallel.hpp"

namespace pycsc {
namespace {

struct Run {
  int32_t x0, x1;  // inclusive
};

// An earlier row whose runs can touch a run of row (z, y): row (z + dz, y + dy), with runs
// reaching `ext` voxels further sideways (1 where diagonal neighbours count).
struct NeighbourRow {
  int dz, dy, ext;
};

int neighbour_rows(int connectivity, NeighbourRow rows[4]) {
  switch (connectivity) {
    case 4:
      rows[0] = {0, -1, 0};
      return 1;
    case 8:
      rows[0] = {0, -1, 1};
      return 1;
    case 6:
      rows[0] = {0, -1, 0};
      rows[1] = {-1, 0, 0};
      return 2;
    case 18:  // faces and edges: the corner offsets (+-1, +-1, +-1) do not count
      rows[0] = {0, -1, 1};
      rows[1] = {-1, -1, 0};
      rows[2] = {-1, 0, 1};
      rows[3] = {-1, 1, 0};
      return 4;
    case 26:
      rows[0] = {0, -1, 1};
      rows[1] = {-1, -1, 1};
      rows[2] = {-1, 0, 1};
      rows[3] = {-1, 1, 1};
      return 4;
  }
  throw std::invalid_argument("`connectivity` must be 4 or 8 (2D) or 6, 18 or 26 (3D); got " +
                              std::to_string(connectivity));
}

// First x' >= x with row[x'] != 0, or n. Tests 32 bytes per step, which is what makes
// the background of sparse volumes cheap.
template <class T>
inline int64_t next_nonzero(const T* row, int64_t x, int64_t n) {
#if defined(__SSE2__)
  constexpr int64_t per = 16 / sizeof(T);
  const __m128i zero = _mm_setzero_si128();
  for (; x + 2 * per <= n; x += 2 * per) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x + per));
    const unsigned za = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(a, zero)));
    const unsigned zb = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(b, zero)));
    const unsigned nz = ~(za | (zb << 16));
    if (nz) return x + __builtin_ctz(nz) / static_cast<int>(sizeof(T));
  }
#endif
  while (x < n && row[x] == 0) ++x;
  return x;
}

// First x' >= x with row[x'] != v, or n.
template <class T>
inline int64_t run_end(const T* row, int64_t x, int64_t n, T v) {
#if defined(__SSE2__)
  constexpr int64_t per = 16 / sizeof(T);
  if (x + per <= n) {
    T pattern[per];
    for (auto& p : pattern) p = v;
    const __m128i vv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pattern));
    for (; x + per <= n; x += per) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
      const unsigned ne =
          ~static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(a, vv))) & 0xFFFFu;
      if (ne) return x + __builtin_ctz(ne) / static_cast<int>(sizeof(T));
    }
  }
#endif
  while (x < n && row[x] == v) ++x;
  return x;
}

// Number of runs in rows [g0, g1), estimated from every 32nd row with 25 % headroom: regrowing
// the run arrays of a dense volume would copy them and touch fresh pages several times.
template <class T>
size_t estimate_runs(const T* labels, int64_t sx, int64_t g0, int64_t g1) {
  constexpr int64_t kStride = 32;
  int64_t sampled = 0, runs = 0;
  for (int64_t g = g0 + kStride / 2; g < g1; g += kStride, ++sampled) {
    const T* row = labels + g * sx;
    for (int64_t x = next_nonzero(row, 0, sx); x < sx; x = next_nonzero(row, x, sx)) {
      x = run_end(row, x + 1, sx, row[x]);
      ++runs;
    }
  }
  const double per_row = sampled ? static_cast<double>(runs) / sampled : 1.0;
  return static_cast<size_t>(per_row * 1.25 * static_cast<double>(g1 - g0)) + 64;
}

// Union-find over run indices. Roots are the smallest index of their set, so parent[i] <= i.
template <class Idx>
inline Idx find_root(Idx* parent, Idx x) {
  while (parent[x] != x) {
    const Idx up = parent[parent[x]];  // path halving
    parent[x] = up;
    x = up;
  }
  return x;
}

// Runs [begin, end) of an earlier row that may touch the current row, reaching `ext` sideways.
template <class Idx>
struct Span {
  Idx begin, end;
  int ext;
};

// Unites each run of [c0, c1) (one row, sorted by x, not yet linked to anything) with the
// touching runs of the same value in the spans. The spans' cursors only move forward.
template <class T, class Idx>
void unite_row(const Run* runs, const T* vals, Idx* parent, Idx c0, Idx c1, Span<Idx>* spans,
               int n_spans) {
  for (Idx r = c0; r < c1; ++r) {
    const int32_t x0 = runs[r].x0, x1 = runs[r].x1;
    const T v = vals[r];
    Idx root = find_root(parent, r);  // r itself, unless the seam pass linked it already
    for (int k = 0; k < n_spans; ++k) {
      Span<Idx>& sp = spans[k];
      const int32_t lo = x0 - sp.ext, hi = x1 + sp.ext;
      while (sp.begin < sp.end && runs[sp.begin].x1 < lo) ++sp.begin;
      for (Idx q = sp.begin; q < sp.end && runs[q].x0 <= hi; ++q) {
        if (vals[q] != v || parent[q] == root) continue;  // most candidates: already joined
        const Idx rq = find_root(parent, q);
        if (rq < root) {
          parent[root] = rq;
          root = rq;
        } else if (root < rq) {
          parent[rq] = root;
        }
      }
    }
  }
}

// The runs of one block of rows, in raster order, with their values and union-find parents.
// Plain arrays rather than vectors: the scan writes a whole row's runs through raw pointers
// after one capacity check per row.
template <class T, class Idx>
struct BlockRuns {
  std::unique_ptr<Run[]> runs;
  std::unique_ptr<T[]> vals;
  std::unique_ptr<Idx[]> parent;
  size_t size = 0, capacity = 0;

  void reserve(size_t n) {
    if (n <= capacity) return;
    std::unique_ptr<Run[]> r(new Run[n]);
    std::unique_ptr<T[]> v(new T[n]);
    std::unique_ptr<Idx[]> p(new Idx[n]);
    std::copy(runs.get(), runs.get() + size, r.get());
    std::copy(vals.get(), vals.get() + size, v.get());
    std::copy(parent.get(), parent.get() + size, p.get());
    runs = std::move(r);
    vals = std::move(v);
    parent = std::move(p);
    capacity = n;
  }
};

// Collects the non-empty spans of the earlier rows of row g = z * sy + y that lie in
// [first_row, end_row).
template <class Idx>
int collect_spans(const NeighbourRow* nb, int n_nb, int64_t sy, int64_t z, int64_t y, int64_t g,
                  int64_t first_row, int64_t end_row, const Idx* row_begin, Span<Idx>* spans) {
  int n = 0;
  for (int k = 0; k < n_nb; ++k) {
    const int64_t yy = y + nb[k].dy;
    if (z + nb[k].dz < 0 || yy < 0 || yy >= sy) continue;
    const int64_t h = g + nb[k].dz * sy + nb[k].dy;
    if (h < first_row || h >= end_row || row_begin[h] == row_begin[h + 1]) continue;
    spans[n++] = {row_begin[h], row_begin[h + 1], nb[k].ext};
  }
  return n;
}

// Pass 1 for rows [g0, g1): cut rows into runs and unite them within the block.
// row_begin[g] receives the block-local index of row g's first run.
template <class T, class Idx>
void scan_block(const T* labels, const NeighbourRow* nb, int n_nb, int64_t sy, int64_t sx,
                int64_t g0, int64_t g1, Idx* row_begin, BlockRuns<T, Idx>& b) {
  const size_t row_bytes = static_cast<size_t>(sx) * sizeof(T);
  int64_t z = g0 / sy, y = g0 - z * sy;
  for (int64_t g = g0; g < g1; ++g) {
    const T* row = labels + g * sx;
    // The hardware prefetcher loses the stream at every row's run handling; ask two rows ahead.
    if (g + 2 < g1)
      for (size_t off = 0; off < row_bytes; off += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(row + 2 * sx) + off);
    // A row holds at most sx runs (multi-label) and usually far fewer.
    if (b.capacity - b.size < static_cast<size_t>(sx)) b.reserve(2 * b.capacity + sx);
    const Idx c0 = static_cast<Idx>(b.size);
    row_begin[g] = c0;
    Idx c1 = c0;
    for (int64_t x = next_nonzero(row, 0, sx); x < sx; x = next_nonzero(row, x, sx)) {
      const T v = row[x];
      const int64_t e = run_end(row, x + 1, sx, v);
      b.runs[c1] = {static_cast<int32_t>(x), static_cast<int32_t>(e - 1)};
      b.vals[c1] = v;
      b.parent[c1] = c1;
      ++c1;
      x = e;
    }
    b.size = c1;
    if (c0 != c1) {
      Span<Idx> spans[4];
      const int n = collect_spans(nb, n_nb, sy, z, y, g, g0, g, row_begin, spans);
      unite_row(b.runs.get(), b.vals.get(), b.parent.get(), c0, c1, spans, n);
    }
    if (++y == sy) {
      y = 0;
      ++z;
    }
  }
}

}  // namespace

template <class T, class Idx>
Idx connected_components(const T* labels, Idx* out, int64_t sz, int64_t sy, int64_t sx,
                         int connectivity, int force_blocks) {
  NeighbourRow nb[4];
  const int n_nb = neighbour_rows(connectivity, nb);
  if ((connectivity == 4 || connectivity == 8) && sz != 1)
    throw std::invalid_argument("`connectivity` 4 and 8 are for 2D input; use 6, 18 or 26");
  if (sx > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("`labels` rows longer than 2^31 - 1 voxels are not supported");
  const int64_t n_rows = sz * sy;
  if (n_rows == 0 || sx == 0) return 0;
  if (static_cast<uint64_t>(n_rows) * static_cast<uint64_t>(sx) >
      static_cast<uint64_t>(std::numeric_limits<Idx>::max()))
    throw std::invalid_argument("connected_components: index type too small for this volume");

  // Four blocks per thread, handed out dynamically: on a shared machine one thread often runs
  // slower than the other, and a static half each would leave the fast one waiting.
  const int threads = threads_for(n_rows * sx, int64_t{1} << 20);
  const int64_t wanted = force_blocks > 0 ? force_blocks : (threads > 1 ? 4 * threads : 1);
  const int n_blocks = static_cast<int>(std::min(wanted, n_rows));
  std::vector<int64_t> block_row(n_blocks + 1);
  for (int b = 0; b <= n_blocks; ++b) block_row[b] = n_rows * b / n_blocks;

  // Pass 1: runs and unions within each block (the loops stay correct for any team size).
  std::unique_ptr<Idx[]> row_begin(new Idx[n_rows + 1]);
  std::vector<BlockRuns<T, Idx>> blocks(n_blocks);
  std::vector<std::exception_ptr> failed(n_blocks);  // exceptions must not leave an omp region
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int b = 0; b < n_blocks; ++b) {
    try {
      blocks[b].reserve(estimate_runs(labels, sx, block_row[b], block_row[b + 1]) + sx);
      scan_block(labels, nb, n_nb, sy, sx, block_row[b], block_row[b + 1], row_begin.get(), blocks[b]);
    } catch (...) {
      failed[b] = std::current_exception();
    }
  }
  for (const auto& e : failed)
    if (e) std::rethrow_exception(e);

  // Concatenate in block order, which keeps the runs in raster order.
  std::vector<Idx> base(n_blocks + 1, 0);
  for (int b = 0; b < n_blocks; ++b)
    base[b + 1] = base[b] + static_cast<Idx>(blocks[b].size);
  const Idx total = base[n_blocks];
  std::unique_ptr<Run[]> runs(new Run[total]);
  std::unique_ptr<T[]> vals(new T[total]);
  std::unique_ptr<Idx[]> parent(new Idx[total]);
  row_begin[n_rows] = total;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int b = 0; b < n_blocks; ++b) {
    BlockRuns<T, Idx>& mine = blocks[b];
    const Idx off = base[b];
    for (int64_t g = block_row[b]; g < block_row[b + 1]; ++g) row_begin[g] += off;
    std::copy(mine.runs.get(), mine.runs.get() + mine.size, runs.get() + off);
    std::copy(mine.vals.get(), mine.vals.get() + mine.size, vals.get() + off);
    for (size_t i = 0; i < mine.size; ++i) parent[off + i] = mine.parent[i] + off;
    mine = BlockRuns<T, Idx>{};
  }

  // Seam: the first rows of each block reach back into earlier blocks.
  for (int b = 1; b < n_blocks; ++b) {
    const int64_t g0 = block_row[b];
    const int64_t g_end = std::min(block_row[b + 1], g0 + sy + 1);
    for (int64_t g = g0; g < g_end; ++g) {
      if (row_begin[g] == row_begin[g + 1]) continue;
      Span<Idx> spans[4];
      const int64_t z = g / sy;
      const int n = collect_spans(nb, n_nb, sy, z, g - z * sy, g, 0, g0, row_begin.get(), spans);
      unite_row(runs.get(), vals.get(), parent.get(), row_begin[g], row_begin[g + 1], spans, n);
    }
  }

  // parent[r] <= r, so by the time r is reached its parent already holds its final id.
  Idx n = 0;
  Idx* id = parent.get();
  for (Idx r = 0; r < total; ++r)
    id[r] = (id[r] == r) ? ++n : id[id[r]];

#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int b = 0; b < n_blocks; ++b) {
    for (int64_t g = block_row[b]; g < block_row[b + 1]; ++g) {
      Idx* row = out + g * sx;
      for (Idx r = row_begin[g]; r < row_begin[g + 1]; ++r)
        std::fill(row + runs[r].x0, row + runs[r].x1 + 1, id[r]);
    }
  }
  return n;
}

#define PYCSC_CCL_INSTANTIATE(T)                                                              \
  template uint32_t connected_components<T, uint32_t>(const T*, uint32_t*, int64_t, int64_t, \
                                                      int64_t, int, int);                     \
  template uint64_t connected_components<T, uint64_t>(const T*, uint64_t*, int64_t, int64_t, \
                                                      int64_t, int, int);

PYCSC_CCL_INSTANTIATE(uint8_t)
PYCSC_CCL_INSTANTIATE(uint16_t)
PYCSC_CCL_INSTANTIATE(uint32_t)
PYCSC_CCL_INSTANTIATE(uint64_t)
PYCSC_CCL_INSTANTIATE(int8_t)
PYCSC_CCL_INSTANTIATE(int16_t)
PYCSC_CCL_INSTANTIATE(int32_t)
PYCSC_CCL_INSTANTIATE(int64_t)
#undef PYCSC_CCL_INSTANTIATE

}  // namespace pycsc
