// Overlap counting; the method is described in overlaps.hpp.
#include "overlaps.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "hash_table.hpp"
#include "run_scan.hpp"
#include "slices.hpp"

namespace pycsc {
namespace {

// Voxel count per (g, p) pair. 8-bit pairs index a dense table; pairs of ids up to 32 bits are
// packed into one 64-bit key (whose order is the (g, p) order); 64-bit ids use a two-word key.
template <class G, class P>
class PairCounts {
 public:
  static constexpr bool kDense = sizeof(G) == 1 && sizeof(P) == 1;
  static constexpr bool kPacked = sizeof(G) <= 4 && sizeof(P) <= 4;
  using Key = std::conditional_t<kPacked, uint64_t, IdPair>;

  PairCounts() {
    if constexpr (kDense) dense_.assign(65536, 0);
  }

  void add(G g, P p, int64_t count) {
    if constexpr (kDense) {
      dense_[(std::size_t{g} << 8) | p] += count;
    } else {
      const Key k = key(g, p);
      if (k == last_key_) {
        last_count_ += count;
        return;
      }
      flush();
      last_key_ = k;
      last_count_ = count;
    }
  }

  void merge_into(PairCounts& dst) {
    flush();
    if constexpr (kDense) {
      for (std::size_t i = 0; i < dense_.size(); ++i) dst.dense_[i] += dense_[i];
    } else {
      dst.flush();
      map_.for_each([&](const Key& k, int64_t c) { dst.map_.upsert(k) += c; });
    }
  }

  void extract(OverlapTable& out) {
    flush();
    if constexpr (kDense) {
      for (std::size_t i = 0; i < dense_.size(); ++i) {
        if (!dense_[i]) continue;
        out.truth_ids.push_back(i >> 8);
        out.pred_ids.push_back(i & 0xFF);
        out.counts.push_back(dense_[i]);
      }
    } else {
      std::vector<std::pair<Key, int64_t>> items;
      items.reserve(map_.size());
      map_.for_each([&](const Key& k, int64_t c) { items.emplace_back(k, c); });
      std::sort(items.begin(), items.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.truth_ids.reserve(items.size());
      out.pred_ids.reserve(items.size());
      out.counts.reserve(items.size());
      for (const auto& [k, c] : items) {
        if constexpr (kPacked) {
          out.truth_ids.push_back(k >> 32);
          out.pred_ids.push_back(k & 0xFFFFFFFFull);
        } else {
          out.truth_ids.push_back(k.first);
          out.pred_ids.push_back(k.second);
        }
        out.counts.push_back(c);
      }
    }
  }

 private:
  static Key key(G g, P p) {
    if constexpr (kPacked)
      return (uint64_t{g} << 32) | uint64_t{p};
    else
      return IdPair{uint64_t{g}, uint64_t{p}};
  }

  void flush() {
    if constexpr (!kDense) {
      if (last_count_) map_.upsert(last_key_) += last_count_;
      last_count_ = 0;
    }
  }

  std::vector<int64_t> dense_;
  HashMap<Key, int64_t> map_;
  Key last_key_{};
  int64_t last_count_ = 0;
};

// One per thread, cache-line aligned so that two threads never write to one line.
template <class G, class P>
struct alignas(64) ThreadTables {
  IdCounts<G> truth;
  IdCounts<P> pred;
  PairCounts<G, P> pairs;
  bool truth_negative = false, pred_negative = false;
};

template <class U>
constexpr U top_bit() {
  return static_cast<U>(U{1} << (8 * sizeof(U) - 1));
}

template <class G, class P>
void count_slice(const G* truth, const P* pred, int64_t lo, int64_t hi, bool truth_signed,
                 bool pred_signed, ThreadTables<G, P>& t) {
  const G g_neg = truth_signed ? top_bit<G>() : G{0};
  const P p_neg = pred_signed ? top_bit<P>() : P{0};
  for_each_run2(truth, pred, lo, hi, [&](G g, P p, int64_t len) {
    if (g) {
      t.truth.add(g, len);
      if (g & g_neg) t.truth_negative = true;
    }
    if (p) {
      t.pred.add(p, len);
      if (p & p_neg) t.pred_negative = true;
    }
    if (g && p) t.pairs.add(g, p, len);
  });
}

template <class U>
void extract_sizes(IdCounts<U>& counts, std::vector<uint64_t>& ids, std::vector<int64_t>& sizes) {
  counts.for_each_sorted([&](U id, int64_t c) {
    ids.push_back(id);
    sizes.push_back(c);
  });
}

}  // namespace

template <class G, class P>
OverlapTable count_overlaps(const G* truth, const P* pred, int64_t n, bool truth_signed,
                            bool pred_signed) {
  static_assert(std::is_unsigned_v<G> && std::is_unsigned_v<P>);
  const int nthreads = threads_for_items(n);
  std::vector<ThreadTables<G, P>> tables(nthreads);
  for_each_slice(n, kSliceItems, nthreads, [&](int t, int64_t lo, int64_t hi) {
    count_slice(truth, pred, lo, hi, truth_signed, pred_signed, tables[t]);
  });

  ThreadTables<G, P>& total = tables[0];
  for (int t = 1; t < nthreads; ++t) {
    tables[t].truth.merge_into(total.truth);
    tables[t].pred.merge_into(total.pred);
    tables[t].pairs.merge_into(total.pairs);
    total.truth_negative |= tables[t].truth_negative;
    total.pred_negative |= tables[t].pred_negative;
  }

  OverlapTable out;
  out.truth_negative = total.truth_negative;
  out.pred_negative = total.pred_negative;
  total.pairs.extract(out);
  extract_sizes(total.truth, out.truth_labels, out.truth_sizes);
  extract_sizes(total.pred, out.pred_labels, out.pred_sizes);
  return out;
}

#define PYCSC_OVERLAPS_P(G)                                                                 \
  template OverlapTable count_overlaps<G, uint8_t>(const G*, const uint8_t*, int64_t, bool,   \
                                                   bool);                                     \
  template OverlapTable count_overlaps<G, uint16_t>(const G*, const uint16_t*, int64_t, bool, \
                                                    bool);                                    \
  template OverlapTable count_overlaps<G, uint32_t>(const G*, const uint32_t*, int64_t, bool, \
                                                    bool);                                    \
  template OverlapTable count_overlaps<G, uint64_t>(const G*, const uint64_t*, int64_t, bool, \
                                                    bool);
PYCSC_OVERLAPS_P(uint8_t)
PYCSC_OVERLAPS_P(uint16_t)
PYCSC_OVERLAPS_P(uint32_t)
PYCSC_OVERLAPS_P(uint64_t)
#undef PYCSC_OVERLAPS_P

}  // namespace pycsc
