// Hausdorff distances, part 1: the metric, the id lookup and the voxel bucketing (a counting
// sort over both volumes). The per-id search lives in hausdorff_search.cpp; the method is
// described in hausdorff.hpp.
#include "hausdorff.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "hausdorff_detail.hpp"
#include "parallel.hpp"

namespace pycsc {
namespace hd {

Metric::Metric(const int64_t shape[3], const double spacing[3]) {
  int k = 0;
  for (int a = 0; a < 3; ++a) {
    n[a] = shape[a];
    sq[a].resize(static_cast<size_t>(std::max<int64_t>(shape[a], 3)));
    for (size_t d = 0; d < sq[a].size(); ++d) {
      const double t = static_cast<double>(d) * spacing[a];
      sq[a][d] = t * t;
    }
  }
  for (int dz = -1; dz <= 1; ++dz)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx)
        if (dz || dy || dx) nbr[k++] = {dz, dy, dx, q(dz, dy, dx)};
  std::stable_sort(nbr, nbr + 26, [](const Neighbour& a, const Neighbour& b) { return a.q < b.q; });
  cert_q = std::numeric_limits<double>::infinity();
  for (int a = 0; a < 3; ++a)
    if (n[a] >= 3) cert_q = std::min(cert_q, sq[a][2]);
}

}  // namespace hd

namespace {

using hd::Buckets;
using hd::Metric;

template <class U>
inline bool is_negative(U v, bool is_signed) {
  return is_signed && (v >> (sizeof(U) * 8 - 1)) != 0;
}

// Largest raw value of `truth`; a signed dtype holds a negative value exactly when that
// value has its top bit set.
template <class TU>
uint64_t truth_max_id(const TU* truth, int64_t n_vox, bool truth_signed) {
  const int nt = threads_for(n_vox, 1 << 20);
  TU mx = 0;
#pragma omp parallel for schedule(static) num_threads(nt) reduction(max : mx) if (nt > 1)
  for (int64_t i = 0; i < n_vox; ++i) mx = std::max(mx, truth[i]);
  if (is_negative(mx, truth_signed))
    throw std::invalid_argument("`truth` must not hold negative ids; found at least one below 0");
  return mx;
}

// Key -> slot index lookups used by the bucket scan; -1 means "not a truth id".
struct TableLookup {  // a table over all values up to the largest id
  uint64_t max_id;
  std::vector<int32_t> table;
  int64_t find(uint64_t key) const { return key <= max_id ? table[key] : -1; }
};
struct SortedLookup {  // binary search in the sorted ids (very large id values)
  std::vector<uint64_t> ids;
  int64_t find(uint64_t key) const {
    auto it = std::lower_bound(ids.begin(), ids.end(), key);
    return (it != ids.end() && *it == key) ? static_cast<int64_t>(it - ids.begin()) : -1;
  }
};

// Distinct non-zero truth ids by marking a table of all values up to max_id.
template <class TU>
std::vector<uint64_t> ids_by_table(const TU* truth, int64_t n_vox, uint64_t max_id) {
  auto seen = std::make_unique<std::atomic<uint8_t>[]>(max_id + 1);
  for (uint64_t v = 0; v <= max_id; ++v) seen[v].store(0, std::memory_order_relaxed);
  const int nt = threads_for(n_vox, 1 << 20);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t i = 0; i < n_vox; ++i) {
    const TU v = truth[i];
    if (v && !seen[v].load(std::memory_order_relaxed)) seen[v].store(1, std::memory_order_relaxed);
  }
  std::vector<uint64_t> ids;
  for (uint64_t v = 1; v <= max_id; ++v)
    if (seen[v].load(std::memory_order_relaxed)) ids.push_back(v);
  return ids;
}

template <class TU>
std::vector<uint64_t> ids_by_sorting(const TU* truth, int64_t n_vox) {
  std::vector<uint64_t> ids;
  for (int64_t i = 0; i < n_vox; ++i)
    if (truth[i] && (ids.empty() || ids.back() != truth[i])) ids.push_back(truth[i]);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

TableLookup table_for(const std::vector<uint64_t>& ids, uint64_t max_id) {
  TableLookup t{max_id, std::vector<int32_t>(max_id + 1, -1)};
  for (size_t i = 0; i < ids.size(); ++i) t.table[ids[i]] = static_cast<int32_t>(i);
  return t;
}

// One pass over a slab of rows: counts entries per (kind, slot) or scatters them.
template <class TU, class PU>
struct BucketScan {
  const TU* truth;
  const PU* pred;
  bool pred_signed;
  int64_t nz, ny, nx;
  const Metric* metric;
  int64_t nbr_offset[26];

  template <class V>
  bool on_boundary(const V* vol, int64_t i, int64_t z, int64_t y, int64_t x) const {
    const V v = vol[i];
    const int64_t plane = ny * nx;
    return (x > 0 && vol[i - 1] != v) || (x + 1 < nx && vol[i + 1] != v) || (y > 0 && vol[i - nx] != v) ||
           (y + 1 < ny && vol[i + nx] != v) || (z > 0 && vol[i - plane] != v) ||
           (z + 1 < nz && vol[i + plane] != v);
  }

  // Rank of the nearest 26-neighbour for which `member(j)` holds, or kNoNeighbour.
  template <class Member>
  uint64_t nearest_neighbour(int64_t i, int64_t z, int64_t y, int64_t x, Member member) const {
    const bool inner = z > 0 && z + 1 < nz && y > 0 && y + 1 < ny && x > 0 && x + 1 < nx;
    for (int k = 0; k < 26; ++k) {
      const auto& o = metric->nbr[k];
      if (!inner) {
        const int64_t zz = z + o.dz, yy = y + o.dy, xx = x + o.dx;
        if (zz < 0 || zz >= nz || yy < 0 || yy >= ny || xx < 0 || xx >= nx) continue;
      }
      if (member(i + nbr_offset[k])) return static_cast<uint64_t>(k);
    }
    return hd::kNoNeighbour;
  }

  template <bool kScatter, class Lookup>
  void run(const Lookup& lookup, int64_t n_slots, int64_t row_begin, int64_t row_end, int64_t* slot,
           uint64_t* const* out) const {
    auto put = [&](int kind, int64_t id, uint64_t entry) {
      int64_t& s = slot[kind * n_slots + id];
      if constexpr (kScatter) out[kind][s] = entry;
      ++s;
    };
    constexpr int64_t kRun = 16;
    for (int64_t r = row_begin; r < row_end; ++r) {
      const int64_t z = r / ny, y = r % ny, base = r * nx;
      const TU* trow = truth + base;
      const PU* prow = pred + base;
      for (int64_t x0 = 0; x0 < nx; x0 += kRun) {
        const int64_t x1 = std::min(nx, x0 + kRun);
        if (x1 - x0 == kRun) {  // background runs dominate: skip them with one vector test
          uint64_t any = 0;
          for (int64_t k = 0; k < kRun; ++k) any |= static_cast<uint64_t>(trow[x0 + k]) | prow[x0 + k];
          if (!any) continue;
        }
        for (int64_t x = x0; x < x1; ++x) {
          const TU tv = trow[x];
          const PU pv = prow[x];
          if (tv == 0 && pv == 0) continue;
          const int64_t i = base + x;
          const uint64_t tkey = tv, pkey = static_cast<uint64_t>(pv);
          const int64_t ti = tv ? lookup.find(tkey) : -1;
          const int64_t pi =
              (pv == 0 || is_negative(pv, pred_signed)) ? -1 : (pkey == tkey ? ti : lookup.find(pkey));
          if (ti < 0 && pi < 0) continue;
          const bool same = pkey == tkey;
          const uint64_t at = hd::pack(z, y, x);
          if (ti >= 0) {
            uint64_t e = at;
            if constexpr (kScatter) {
              auto in_pred = [&](int64_t j) {
                const PU v = pred[j];
                return static_cast<uint64_t>(v) == tkey && !is_negative(v, pred_signed);
              };
              e |= same ? hd::kInOther : nearest_neighbour(i, z, y, x, in_pred) << hd::kCodeShift;
            }
            put(0, ti, e);
            if constexpr (kScatter)
              if (on_boundary(truth, i, z, y, x)) put(2, ti, at);
          }
          if (pi >= 0) {
            uint64_t e = at;
            if constexpr (kScatter) {
              auto in_truth = [&](int64_t j) { return static_cast<uint64_t>(truth[j]) == pkey; };
              e |= same ? hd::kInOther : nearest_neighbour(i, z, y, x, in_truth) << hd::kCodeShift;
            }
            put(1, pi, e);
            if constexpr (kScatter)
              if (on_boundary(pred, i, z, y, x)) put(3, pi, at);
          }
        }
      }
    }
  }
};

// Per-slab histograms of truth values and of prediction values, by value, while all truth
// values stay below `limit` (arrays grow as larger values appear). Returns false when a
// larger (or negative) truth value exists; then the caller takes the general path.
template <class TU, class PU>
bool histogram_by_value(const TU* truth, bool truth_signed, const PU* pred, bool pred_signed, int64_t rows, int64_t nx,
                        int64_t slabs, uint64_t limit, std::vector<std::vector<int64_t>>& a,
                        std::vector<std::vector<int64_t>>& p) {
  a.assign(slabs, {});
  p.assign(slabs, {});
  int fits = 1;
#pragma omp parallel for schedule(static, 1) num_threads(static_cast<int>(slabs)) reduction(& : fits) if (slabs > 1)
  for (int64_t c = 0; c < slabs; ++c) {
    auto& ha = a[c];
    auto& hp = p[c];
    auto bump = [](std::vector<int64_t>& h, uint64_t v) {
      if (v >= h.size()) h.resize(std::max<size_t>(static_cast<size_t>(v) + 1, 2 * h.size()), 0);
      ++h[v];
    };
    const int64_t i0 = rows * c / slabs * nx, i1 = rows * (c + 1) / slabs * nx;
    constexpr int64_t kRun = 16;
    for (int64_t r0 = i0; r0 < i1 && fits; r0 += kRun) {
      const int64_t r1 = std::min(i1, r0 + kRun);
      uint64_t any = 0;
      for (int64_t i = r0; i < r1; ++i) any |= static_cast<uint64_t>(truth[i]) | pred[i];
      if (!any) continue;
      for (int64_t i = r0; i < r1; ++i) {
        const uint64_t tv = truth[i];
        const PU pv = pred[i];
        if (tv) {
          if (tv > limit || is_negative(truth[i], truth_signed)) {
            fits = 0;
            break;
          }
          bump(ha, tv);
        }
        if (pv && static_cast<uint64_t>(pv) <= limit && !is_negative(pv, pred_signed)) bump(hp, pv);
      }
    }
  }
  return fits != 0;
}

// Cursors of slab c, kind k, id i live at slots[(c * 4 + k) * n_ids + i]. Kinds 0 and 1 hold
// the counts of A and B on entry; boundaries get the same room. Slab c's entries of an id
// follow slab c-1's, so every bucket is in raster order.
void layout_buckets(std::vector<int64_t>& slots, int64_t slabs, int64_t n_ids, Buckets& b) {
  for (int k = 0; k < 2; ++k)
    for (int64_t c = 0; c < slabs; ++c)
      std::copy_n(&slots[(c * 4 + k) * n_ids], n_ids, &slots[(c * 4 + k + 2) * n_ids]);
  for (int k = 0; k < 4; ++k) {
    b.offsets[k].assign(n_ids + 1, 0);
    int64_t total = 0;
    for (int64_t id = 0; id < n_ids; ++id) {
      b.offsets[k][id] = total;
      for (int64_t c = 0; c < slabs; ++c) {
        int64_t& s = slots[(c * 4 + k) * n_ids + id];
        const int64_t count = s;
        s = total;
        total += count;
      }
    }
    b.offsets[k][n_ids] = total;
    b.entries[k].resize(static_cast<size_t>(total));
  }
}

// After the scatter, close the gaps the boundary lists left in their regions (slab c of an
// id wrote from starts[.] to ends[.]).
void compact_boundaries(const std::vector<int64_t>& starts, const std::vector<int64_t>& ends, int64_t slabs,
                        int64_t n_ids, Buckets& b) {
  for (int k = 2; k < 4; ++k) {
    auto& e = b.entries[k];
    int64_t write = 0;
    for (int64_t id = 0; id < n_ids; ++id) {
      b.offsets[k][id] = write;
      for (int64_t c = 0; c < slabs; ++c) {
        const int64_t at = (c * 4 + k) * n_ids + id, from = starts[at], to = ends[at];
        if (write != from) std::copy(e.begin() + from, e.begin() + to, e.begin() + write);
        write += to - from;
      }
    }
    b.offsets[k][n_ids] = write;
    e.resize(static_cast<size_t>(write));
  }
}

template <class TU, class PU>
Buckets bucket_voxels(const TU* truth, bool truth_signed, const PU* pred, bool pred_signed, const int64_t shape[3],
                      const Metric& metric) {
  const int64_t nz = shape[0], ny = shape[1], nx = shape[2], rows = nz * ny, n_vox = rows * nx;
  Buckets b;
  for (auto& o : b.offsets) o.assign(1, 0);
  BucketScan<TU, PU> scan{truth, pred, pred_signed, nz, ny, nx, &metric, {}};
  for (int k = 0; k < 26; ++k) {
    const auto& o = metric.nbr[k];
    scan.nbr_offset[k] = (o.dz * ny + o.dy) * nx + o.dx;
  }
  const int nt = threads_for(n_vox, 1 << 20);
  const int64_t slabs = nt;
  auto pass = [&](auto scatter_tag, const auto& lookup, int64_t n_slots, std::vector<int64_t>& slots) {
    uint64_t* out[4] = {b.entries[0].data(), b.entries[1].data(), b.entries[2].data(), b.entries[3].data()};
#pragma omp parallel for schedule(static, 1) num_threads(nt) if (nt > 1)
    for (int64_t c = 0; c < slabs; ++c)
      scan.template run<decltype(scatter_tag)::value>(lookup, n_slots, rows * c / slabs, rows * (c + 1) / slabs,
                                                      &slots[c * 4 * n_slots], out);
  };
  std::vector<int64_t> slots;
  auto scatter = [&](const auto& lookup) {
    const int64_t n_ids = static_cast<int64_t>(b.ids.size());
    layout_buckets(slots, slabs, n_ids, b);
    const std::vector<int64_t> starts = slots;
    pass(std::true_type{}, lookup, n_ids, slots);
    compact_boundaries(starts, slots, slabs, n_ids, b);
  };

  // Usual case, ids below a million: one histogram pass finds the ids and counts A and B.
  std::vector<std::vector<int64_t>> hist_a, hist_p;
  if (histogram_by_value(truth, truth_signed, pred, pred_signed, rows, nx, slabs, uint64_t{1} << 20, hist_a,
                         hist_p)) {
    size_t n_values = 1;
    for (const auto& h : hist_a) n_values = std::max(n_values, h.size());
    std::vector<int64_t> total(n_values, 0);
    for (const auto& h : hist_a)
      for (size_t v = 1; v < h.size(); ++v) total[v] += h[v];
    for (size_t v = 1; v < n_values; ++v)
      if (total[v]) b.ids.push_back(v);
    if (b.ids.empty()) return b;
    const int64_t n_ids = static_cast<int64_t>(b.ids.size());
    slots.assign(static_cast<size_t>(slabs * 4 * n_ids), 0);
    for (int64_t c = 0; c < slabs; ++c)
      for (int64_t id = 0; id < n_ids; ++id) {
        const uint64_t v = b.ids[id];
        slots[(c * 4 + 0) * n_ids + id] = v < hist_a[c].size() ? hist_a[c][v] : 0;
        slots[(c * 4 + 1) * n_ids + id] = v < hist_p[c].size() ? hist_p[c][v] : 0;
      }
    hist_a.clear();
    hist_p.clear();
    scatter(table_for(b.ids, b.ids.back()));
    return b;
  }
  // General case: find the ids (table up to the largest id, or sorting), count, scatter.
  const uint64_t max_id = truth_max_id(truth, n_vox, truth_signed);
  const uint64_t table_limit = std::max<uint64_t>(uint64_t{1} << 22, static_cast<uint64_t>(n_vox) / 4);
  auto count_and_scatter = [&](const auto& lookup) {
    slots.assign(static_cast<size_t>(slabs * 4 * b.ids.size()), 0);
    pass(std::false_type{}, lookup, static_cast<int64_t>(b.ids.size()), slots);
    scatter(lookup);
  };
  if (max_id <= table_limit) {
    b.ids = ids_by_table(truth, n_vox, max_id);
    count_and_scatter(table_for(b.ids, max_id));
  } else {
    b.ids = ids_by_sorting(truth, n_vox);
    count_and_scatter(SortedLookup{b.ids});
  }
  return b;
}

}  // namespace

template <class TU, class PU>
void hausdorff_distances(const TU* truth, bool truth_signed, const PU* pred, bool pred_signed,
                         const int64_t shape[3], const HausdorffParams& params, std::vector<uint64_t>& ids,
                         std::vector<double>& distances) {
  for (int a = 0; a < 3; ++a)
    if (shape[a] > kHausdorffMaxExtent)
      throw std::invalid_argument("`truth` extent " + std::to_string(shape[a]) + " exceeds the supported " +
                                  std::to_string(kHausdorffMaxExtent) + " voxels per axis");
  ids.clear();
  distances.clear();
  if (shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0) return;
  const Metric metric(shape, params.spacing);
  Buckets b = bucket_voxels(truth, truth_signed, pred, pred_signed, shape, metric);
  if (b.ids.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    throw std::invalid_argument("`truth` holds more than 2^31 - 1 distinct ids");
  distances.assign(b.ids.size(), 0.0);
  hd::per_id_distances(b, metric, params, distances.data());
  ids = std::move(b.ids);
}

#define PYCSC_HD_INSTANTIATE(TU, PU)                                                               \
  template void hausdorff_distances<TU, PU>(const TU*, bool, const PU*, bool, const int64_t[3], \
                                            const HausdorffParams&, std::vector<uint64_t>&,     \
                                            std::vector<double>&);
#define PYCSC_HD_INSTANTIATE_ROW(TU) \
  PYCSC_HD_INSTANTIATE(TU, uint8_t)  \
  PYCSC_HD_INSTANTIATE(TU, uint16_t) \
  PYCSC_HD_INSTANTIATE(TU, uint32_t) \
  PYCSC_HD_INSTANTIATE(TU, uint64_t)
PYCSC_HD_INSTANTIATE_ROW(uint8_t)
PYCSC_HD_INSTANTIATE_ROW(uint16_t)
PYCSC_HD_INSTANTIATE_ROW(uint32_t)
PYCSC_HD_INSTANTIATE_ROW(uint64_t)
#undef PYCSC_HD_INSTANTIATE_ROW
#undef PYCSC_HD_INSTANTIATE

}  // namespace pycsc
