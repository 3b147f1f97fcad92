// Run-based connected components; the method is described in components.hpp.
#include "components.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
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
  [[maybe_unused]] const size_t row_bytes = static_cast<size_t>(sx) * sizeof(T);
  int64_t z = g0 / sy, y = g0 - z * sy;
  for (int64_t g = g0; g < g1; ++g) {
    const T* row = labels + g * sx;
#if defined(__GNUC__) || defined(__clang__)
    // The hardware prefetcher loses the stream at every row's run handling; ask two rows ahead.
    if (g + 2 < g1)
      for (size_t off = 0; off < row_bytes; off += 64)
        __builtin_prefetch(reinterpret_cast<const char*>(row + 2 * sx) + off);
#endif
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

// Unions made at the seams between blocks, over global run indices (block base + local index)
// of block-local roots. Few entries: only roots that touch a seam appear. A key's value is its
// parent; absent keys are roots. The root of a set is its smallest index.
template <class Idx>
class SeamForest {
 public:
  Idx find(Idx x) {
    Idx root = x;
    for (auto it = parent_.find(root); it != parent_.end(); it = parent_.find(root))
      root = it->second;
    while (x != root) {  // path compression: long seams (noise) would build long chains
      Idx& up = parent_[x];
      x = up;
      up = root;
    }
    return root;
  }
  void unite(Idx a, Idx b) {
    a = find(a);
    b = find(b);
    if (a < b)
      parent_[b] = a;
    else if (b < a)
      parent_[a] = b;
  }
  bool empty() const { return parent_.empty(); }
  bool contains(Idx x) const { return parent_.count(x) != 0; }

 private:
  std::unordered_map<Idx, Idx> parent_;
};

// The blocks and where their rows' runs are: row g of block b holds the local runs
// [row_begin[g], end(g)) of blocks[b]; global run index = base[b] + local index.
template <class T, class Idx>
struct BlockSet {
  std::vector<int64_t> block_row;  // first row of each block, plus n_rows
  std::vector<BlockRuns<T, Idx>> blocks;
  std::vector<Idx> base;
  const Idx* row_begin;

  int block_of_row(int64_t g) const {
    return static_cast<int>(std::upper_bound(block_row.begin(), block_row.end(), g) -
                            block_row.begin()) - 1;
  }
  Idx row_end(int b, int64_t g) const {
    return g + 1 == block_row[b + 1] ? static_cast<Idx>(blocks[b].size) : row_begin[g + 1];
  }
  int block_of_run(Idx global) const {
    return static_cast<int>(std::upper_bound(base.begin(), base.end(), global) - base.begin()) -
           1;
  }
};

// Unites the first rows of block b (those that reach back past its first row) with the touching
// runs of earlier blocks, in the seam forest.
template <class T, class Idx>
void unite_seam(BlockSet<T, Idx>& set, int b, const NeighbourRow* nb, int n_nb, int64_t sy,
                SeamForest<Idx>& forest) {
  const int64_t g0 = set.block_row[b];
  const int64_t g_end = std::min(set.block_row[b + 1], g0 + sy + 1);
  BlockRuns<T, Idx>& cur = set.blocks[b];
  for (int64_t g = g0; g < g_end; ++g) {
    const Idx c0 = set.row_begin[g], c1 = set.row_end(b, g);
    if (c0 == c1) continue;
    const int64_t z = g / sy, y = g - z * sy;
    for (int k = 0; k < n_nb; ++k) {
      const int64_t yy = y + nb[k].dy;
      if (z + nb[k].dz < 0 || yy < 0 || yy >= sy) continue;
      const int64_t h = g + nb[k].dz * sy + nb[k].dy;
      if (h >= g0) continue;  // united within the block already
      const int hb = set.block_of_row(h);
      BlockRuns<T, Idx>& prev = set.blocks[hb];
      const Idx n1 = set.row_end(hb, h);
      Idx j = set.row_begin[h];
      for (Idx r = c0; r < c1 && j < n1; ++r) {
        const int32_t lo = cur.runs[r].x0 - nb[k].ext, hi = cur.runs[r].x1 + nb[k].ext;
        while (j < n1 && prev.runs[j].x1 < lo) ++j;
        for (Idx q = j; q < n1 && prev.runs[q].x0 <= hi; ++q) {
          if (prev.vals[q] != cur.vals[r]) continue;
          forest.unite(set.base[b] + find_root(cur.parent.get(), r),
                       set.base[hb] + find_root(prev.parent.get(), q));
        }
      }
    }
  }
}

// Turns every block's parents into final ids, in raster order: a run's id is its parent's (an
// earlier run of the same block), a block-local root's id is new unless the seams joined it to
// a smaller global root, whose id is then already known.
template <class T, class Idx>
Idx assign_ids(BlockSet<T, Idx>& set, SeamForest<Idx>& forest) {
  Idx n = 0;
  for (size_t b = 0; b < set.blocks.size(); ++b) {
    Idx* id = set.blocks[b].parent.get();
    const Idx size = static_cast<Idx>(set.blocks[b].size), base = set.base[b];
    for (Idx r = 0; r < size; ++r) {
      if (id[r] != r) {
        id[r] = id[id[r]];
        continue;
      }
      const Idx root = forest.empty() || !forest.contains(base + r) ? base + r
                                                                     : forest.find(base + r);
      if (root == base + r) {
        id[r] = ++n;
      } else {
        const int rb = set.block_of_run(root);
        id[r] = set.blocks[rb].parent[root - set.base[rb]];
      }
    }
  }
  return n;
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

  // Threads only from 8 Mi voxels each: below that a single thread takes a few milliseconds,
  // about what waking and spin-waiting OpenMP workers costs on a busy machine. Four blocks per
  // thread, handed out dynamically: on a shared machine one thread often runs slower than the
  // other, and a static half each would leave the fast one waiting.
  const int threads = threads_for(n_rows * sx, int64_t{1} << 23);
  const int64_t wanted = force_blocks > 0 ? force_blocks : (threads > 1 ? 4 * threads : 1);
  const int n_blocks = static_cast<int>(std::min(wanted, n_rows));
  BlockSet<T, Idx> set;
  set.block_row.resize(n_blocks + 1);
  for (int b = 0; b <= n_blocks; ++b) set.block_row[b] = n_rows * b / n_blocks;
  set.blocks.resize(n_blocks);
  std::unique_ptr<Idx[]> row_begin(new Idx[n_rows]);  // local to each row's block
  set.row_begin = row_begin.get();

  // Pass 1: runs and unions within each block (the loops stay correct for any team size).
  std::vector<std::exception_ptr> failed(n_blocks);  // exceptions must not leave an omp region
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int b = 0; b < n_blocks; ++b) {
    try {
      const int64_t g0 = set.block_row[b], g1 = set.block_row[b + 1];
      set.blocks[b].reserve(estimate_runs(labels, sx, g0, g1) + sx);
      scan_block(labels, nb, n_nb, sy, sx, g0, g1, row_begin.get(), set.blocks[b]);
    } catch (...) {
      failed[b] = std::current_exception();
    }
  }
  for (const auto& e : failed)
    if (e) std::rethrow_exception(e);

  // Global run index = block base + local index: raster order across blocks.
  set.base.assign(n_blocks + 1, 0);
  for (int b = 0; b < n_blocks; ++b)
    set.base[b + 1] = set.base[b] + static_cast<Idx>(set.blocks[b].size);

  SeamForest<Idx> forest;
  for (int b = 1; b < n_blocks; ++b) unite_seam(set, b, nb, n_nb, sy, forest);
  const Idx n = assign_ids(set, forest);

#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int b = 0; b < n_blocks; ++b) {
    const BlockRuns<T, Idx>& mine = set.blocks[b];
    for (int64_t g = set.block_row[b]; g < set.block_row[b + 1]; ++g) {
      Idx* row = out + g * sx;
      for (Idx r = row_begin[g], end = set.row_end(b, g); r < end; ++r)
        std::fill(row + mine.runs[r].x0, row + mine.runs[r].x1 + 1, mine.parent[r]);
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
