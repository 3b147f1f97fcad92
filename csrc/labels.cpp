// Label utilities; the method is described in labels.hpp.
#include "labels.hpp"

#include <algorithm>
#include <limits>
#include <type_traits>

#include "hash_table.hpp"
#include "run_scan.hpp"
#include "slices.hpp"

namespace pycsc {
namespace {

template <class T>
using Bits = std::make_unsigned_t<T>;

template <class T>
bool is_negative(T v) {
  if constexpr (std::is_signed_v<T>)
    return v < 0;
  else
    return false;
}

struct Box {
  int64_t lo[3];
  int64_t hi[3];  // inclusive while accumulating

  void include(const Box& o) {
    for (int d = 0; d < 3; ++d) {
      lo[d] = std::min(lo[d], o.lo[d]);
      hi[d] = std::max(hi[d], o.hi[d]);
    }
  }
};

// Boxes of the ids seen by one thread: id -> index into `boxes`, with a cache of the last id
// (an object's runs on one row, and on successive rows, mostly alternate with background).
class alignas(64) BoxAccumulator {
 public:
  void add(uint64_t id, int64_t z, int64_t y, int64_t x0, int64_t x1) {
    if (id != last_id_ || last_ == nullptr) {
      int64_t& slot = index_.upsert(id);
      if (slot == 0) {
        boxes_.push_back(Box{{z, y, x0}, {z, y, x1}});
        slot = static_cast<int64_t>(boxes_.size());
      }
      last_id_ = id;
      last_ = &boxes_[slot - 1];
    }
    Box& b = *last_;
    b.lo[0] = std::min(b.lo[0], z);
    b.hi[0] = std::max(b.hi[0], z);
    b.lo[1] = std::min(b.lo[1], y);
    b.hi[1] = std::max(b.hi[1], y);
    b.lo[2] = std::min(b.lo[2], x0);
    b.hi[2] = std::max(b.hi[2], x1);
  }

  void merge_into(BoxAccumulator& dst) const {
    dst.last_ = nullptr;
    index_.for_each([&](uint64_t id, int64_t slot) {
      int64_t& d = dst.index_.upsert(id);
      if (d == 0) {
        dst.boxes_.push_back(boxes_[slot - 1]);
        d = static_cast<int64_t>(dst.boxes_.size());
      } else {
        dst.boxes_[d - 1].include(boxes_[slot - 1]);
      }
    });
  }

  void extract(BoxTable& out) const {
    std::vector<std::pair<uint64_t, int64_t>> items;
    items.reserve(index_.size());
    index_.for_each([&](uint64_t id, int64_t slot) { items.emplace_back(id, slot); });
    std::sort(items.begin(), items.end());
    out.ids.reserve(items.size());
    out.boxes.reserve(6 * items.size());
    for (const auto& [id, slot] : items) {
      out.ids.push_back(id);
      const Box& b = boxes_[slot - 1];
      for (int d = 0; d < 3; ++d) out.boxes.push_back(b.lo[d]);
      for (int d = 0; d < 3; ++d) out.boxes.push_back(b.hi[d] + 1);
    }
  }

 private:
  HashMap<uint64_t, int64_t> index_;  // id -> 1-based index into boxes_ (0 = new)
  std::vector<Box> boxes_;
  uint64_t last_id_ = 0;
  Box* last_ = nullptr;
};

// Lookup of new values for remap: a dense table for 8/16-bit inputs, a hash map otherwise.
template <class T, class U>
class ValueMap {
 public:
  static constexpr bool kDense = sizeof(T) <= 2;

  ValueMap(const T* keys, const U* values, int64_t m) : map_(kDense ? 1 : m) {
    if constexpr (kDense) {
      const std::size_t size = std::size_t{1} << (8 * sizeof(T));
      lut_.resize(size);
      known_.assign(size, 0);
      for (std::size_t b = 0; b < size; ++b) lut_[b] = static_cast<U>(static_cast<T>(b));
      for (int64_t j = 0; j < m; ++j) {
        lut_[static_cast<Bits<T>>(keys[j])] = values[j];
        known_[static_cast<Bits<T>>(keys[j])] = 1;
      }
    } else {
      for (int64_t j = 0; j < m; ++j) map_.upsert(static_cast<Bits<T>>(keys[j])) = values[j];
    }
  }

  // The new value of v; false when v has none.
  bool lookup(T v, U& out) const {
    if constexpr (kDense) {
      out = lut_[static_cast<Bits<T>>(v)];
      return known_[static_cast<Bits<T>>(v)];
    } else {
      const U* hit = map_.find(static_cast<Bits<T>>(v));
      if (hit) out = *hit;
      return hit != nullptr;
    }
  }

  const U* lut() const { return lut_.data(); }
  const uint8_t* known() const { return known_.data(); }

 private:
  std::vector<U> lut_;
  std::vector<uint8_t> known_;
  HashMap<uint64_t, U> map_;
};

template <class T, class U>
int64_t remap_slice(const ValueMap<T, U>& map, const T* a, U* out, int64_t lo, int64_t hi,
                    bool preserve_missing, bool out_is_zero) {
  if constexpr (ValueMap<T, U>::kDense) {
    // A gather from a table in L1/L2 beats run detection for 8/16-bit ids.
    const U* lut = map.lut();
    for (int64_t i = lo; i < hi; ++i) out[i] = lut[static_cast<Bits<T>>(a[i])];
    if (!preserve_missing) {
      const uint8_t* known = map.known();
      for (int64_t i = lo; i < hi; ++i)
        if (!known[static_cast<Bits<T>>(a[i])]) return i;
    }
    return -1;
  } else {
    int64_t missing = -1;
    U zero_value = 0;
    const bool zero_known = map.lookup(T{0}, zero_value);
    T last_key = 0;  // 0 = none: zero has its own entry above
    U last_value = 0;
    bool last_known = false;
    for_each_run(a, lo, hi, [&](T v, int64_t start, int64_t len) {
      U nv{};
      bool known;
      if (v == 0) {
        known = zero_known;
        nv = zero_value;
      } else if (v == last_key) {
        known = last_known;
        nv = last_value;
      } else {
        known = map.lookup(v, nv);
        last_key = v;
        last_known = known;
        last_value = nv;
      }
      if (!known) {
        if (!preserve_missing) {
          if (missing < 0) missing = start;
          return;
        }
        nv = static_cast<U>(v);
      }
      // Untouched pages of a fresh zeroed buffer cost nothing: background is not written.
      if (nv != 0 || !out_is_zero) std::fill_n(out + start, len, nv);
    });
    return missing;
  }
}

}  // namespace

template <class T>
ValueCounts<T> value_counts(const T* a, int64_t n) {
  using B = Bits<T>;
  const B* bits = reinterpret_cast<const B*>(a);
  const int nthreads = threads_for_items(n);
  std::vector<IdCounts<B>> tables(nthreads);
  for_each_slice(n, kSliceItems, nthreads, [&](int t, int64_t lo, int64_t hi) {
    IdCounts<B>& table = tables[t];
    for_each_run(bits, lo, hi, [&](B v, int64_t, int64_t len) { table.add(v, len); });
  });
  for (int t = 1; t < nthreads; ++t) tables[t].merge_into(tables[0]);

  ValueCounts<T> out;
  tables[0].for_each_sorted([&](B v, int64_t c) {
    out.values.push_back(static_cast<T>(v));
    out.counts.push_back(c);
  });
  if constexpr (std::is_signed_v<T>) {
    // Unsigned order puts negative values (top bit set) last; they are already in order.
    const auto first_negative = std::find_if(out.values.begin(), out.values.end(),
                                             [](T v) { return v < 0; });
    const auto k = first_negative - out.values.begin();
    std::rotate(out.values.begin(), first_negative, out.values.end());
    std::rotate(out.counts.begin(), out.counts.begin() + k, out.counts.end());
  }
  return out;
}

template <class T>
BoxTable bounding_boxes(const T* a, int64_t nz, int64_t ny, int64_t nx) {
  const int64_t rows = nz * ny;
  const int nthreads = threads_for_items(rows * nx);
  std::vector<BoxAccumulator> tables(nthreads);
  std::vector<char> negative(nthreads, 0);
  const int64_t rows_per_slice = std::max<int64_t>(1, kSliceItems / std::max<int64_t>(nx, 1));
  for_each_slice(nx > 0 ? rows : 0, rows_per_slice, nthreads, [&](int t, int64_t r0, int64_t r1) {
    BoxAccumulator& acc = tables[t];
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t z = r / ny, y = r % ny;
      for_each_run(a + r * nx, 0, nx, [&](T v, int64_t start, int64_t len) {
        if (v == 0) return;
        if (is_negative(v)) negative[t] = 1;
        acc.add(static_cast<Bits<T>>(v), z, y, start, start + len - 1);
      });
    }
  });
  for (int t = 1; t < nthreads; ++t) tables[t].merge_into(tables[0]);
  BoxTable out;
  out.negative = std::find(negative.begin(), negative.end(), 1) != negative.end();
  tables[0].extract(out);
  return out;
}

template <class T, class U>
int64_t remap_values(const T* a, U* out, int64_t n, const T* keys, const U* values, int64_t m,
                     bool preserve_missing, bool out_is_zero) {
  static_assert(std::is_signed_v<T> == std::is_signed_v<U> && sizeof(U) >= sizeof(T));
  const ValueMap<T, U> map(keys, values, m);
  const int nthreads = threads_for_items(n);
  std::vector<int64_t> missing(nthreads, -1);  // per thread: first unmapped voxel it found
  for_each_slice(n, kSliceItems, nthreads, [&](int t, int64_t lo, int64_t hi) {
    const int64_t at = remap_slice(map, a, out, lo, hi, preserve_missing, out_is_zero);
    if (at >= 0 && (missing[t] < 0 || at < missing[t])) missing[t] = at;
  });
  int64_t first = -1;
  for (int64_t at : missing)
    if (at >= 0 && (first < 0 || at < first)) first = at;
  return first;
}

#define PYCSC_LABELS_T(T)                                                      \
  template ValueCounts<T> value_counts<T>(const T*, int64_t);                  \
  template BoxTable bounding_boxes<T>(const T*, int64_t, int64_t, int64_t);
PYCSC_LABELS_T(uint8_t)
PYCSC_LABELS_T(uint16_t)
PYCSC_LABELS_T(uint32_t)
PYCSC_LABELS_T(uint64_t)
PYCSC_LABELS_T(int8_t)
PYCSC_LABELS_T(int16_t)
PYCSC_LABELS_T(int32_t)
PYCSC_LABELS_T(int64_t)
#undef PYCSC_LABELS_T

#define PYCSC_REMAP(T, U)                                                                 \
  template int64_t remap_values<T, U>(const T*, U*, int64_t, const T*, const U*, int64_t, \
                                      bool, bool);
PYCSC_REMAP(uint8_t, uint8_t)
PYCSC_REMAP(uint8_t, uint16_t)
PYCSC_REMAP(uint8_t, uint32_t)
PYCSC_REMAP(uint8_t, uint64_t)
PYCSC_REMAP(uint16_t, uint16_t)
PYCSC_REMAP(uint16_t, uint32_t)
PYCSC_REMAP(uint16_t, uint64_t)
PYCSC_REMAP(uint32_t, uint32_t)
PYCSC_REMAP(uint32_t, uint64_t)
PYCSC_REMAP(uint64_t, uint64_t)
PYCSC_REMAP(int8_t, int8_t)
PYCSC_REMAP(int8_t, int16_t)
PYCSC_REMAP(int8_t, int32_t)
PYCSC_REMAP(int8_t, int64_t)
PYCSC_REMAP(int16_t, int16_t)
PYCSC_REMAP(int16_t, int32_t)
PYCSC_REMAP(int16_t, int64_t)
PYCSC_REMAP(int32_t, int32_t)
PYCSC_REMAP(int32_t, int64_t)
PYCSC_REMAP(int64_t, int64_t)
#undef PYCSC_REMAP

}  // namespace pycsc
