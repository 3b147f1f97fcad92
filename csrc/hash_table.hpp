// Open-addressing hash map for label ids and (truth id, pred id) pairs.
//
// Method: linear probing in a power-of-two table of {key, value} slots, Fibonacci
// (multiplicative) hashing, growth by doubling at 50 % load. The all-zero key marks an empty
// slot, so the zero key itself lives in a separate side slot; every key is therefore storable.
// Complexity: O(1) expected per lookup; memory 2 x (sizeof(K) + sizeof(V)) x entries at most.
// Label ids in segmentation volumes are clustered small integers, for which multiplicative
// hashing spreads well; no erase is needed by any caller.
// Oracle: exercised through the overlap and label kernels' tests (numpy / fastremap).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace pycsc {

// A (truth id, pred id) key for 64-bit inputs, where the two ids do not pack into one word.
struct IdPair {
  uint64_t first = 0;
  uint64_t second = 0;
  friend bool operator==(const IdPair& a, const IdPair& b) {
    return a.first == b.first && a.second == b.second;
  }
  friend bool operator<(const IdPair& a, const IdPair& b) {
    return a.first != b.first ? a.first < b.first : a.second < b.second;
  }
};

inline uint64_t hash_bits(uint64_t k) { return k * 0x9E3779B97F4A7C15ull; }
inline uint64_t hash_bits(IdPair k) {
  return hash_bits(k.first ^ (k.second * 0xC2B2AE3D27D4EB4Full + 0x165667B19E3779F9ull));
}
inline bool is_zero_key(uint64_t k) { return k == 0; }
inline bool is_zero_key(IdPair k) { return k.first == 0 && k.second == 0; }

template <class K, class V>
class HashMap {
 public:
  explicit HashMap(std::size_t expected = 64) {
    std::size_t cap = 16;
    while (cap < 2 * expected) cap *= 2;
    rehash(cap);
  }

  // The value of `k`, inserted as V{} when absent. The reference stays valid until the next
  // insertion.
  V& upsert(K k) {
    if (is_zero_key(k)) {
      has_zero_ = true;
      return zero_value_;
    }
    std::size_t i = slot_of(k);
    while (true) {
      Slot& s = slots_[i];
      if (s.key == k) return s.value;
      if (is_zero_key(s.key)) {
        if (2 * (count_ + 1) > slots_.size()) {
          rehash(2 * slots_.size());
          return upsert(k);
        }
        s.key = k;
        ++count_;
        return s.value;
      }
      i = (i + 1) & mask_;
    }
  }

  const V* find(K k) const {
    if (is_zero_key(k)) return has_zero_ ? &zero_value_ : nullptr;
    std::size_t i = slot_of(k);
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == k) return &s.value;
      if (is_zero_key(s.key)) return nullptr;
      i = (i + 1) & mask_;
    }
  }

  std::size_t size() const { return count_ + (has_zero_ ? 1 : 0); }

  // Calls f(key, value) for every entry, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    if (has_zero_) f(K{}, zero_value_);
    for (const Slot& s : slots_)
      if (!is_zero_key(s.key)) f(s.key, s.value);
  }

 private:
  struct Slot {
    K key{};
    V value{};
  };

  std::size_t slot_of(K k) const { return static_cast<std::size_t>(hash_bits(k) >> shift_); }

  void rehash(std::size_t cap) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    shift_ = 64;
    for (std::size_t c = cap; c > 1; c >>= 1) --shift_;
    for (const Slot& s : old) {
      if (is_zero_key(s.key)) continue;
      std::size_t i = slot_of(s.key);
      while (!is_zero_key(slots_[i].key)) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  int shift_ = 64;
  std::size_t count_ = 0;
  bool has_zero_ = false;
  V zero_value_{};
};

// Voxel count per id of an unsigned type U: a dense table for 8/16-bit ids, a hash map with a
// one-entry cache otherwise. Id 0 (background) has its own counter: runs of one object mostly
// alternate with background runs, so with 0 out of the way the cache absorbs most updates.
// Aligned: per-thread instances sit side by side in a vector and must not share cache lines.
template <class U>
class alignas(64) IdCounts {
 public:
  static constexpr bool kDense = sizeof(U) <= 2;

  IdCounts() {
    if constexpr (kDense) dense_.assign(std::size_t{1} << (8 * sizeof(U)), 0);
  }

  void add(U id, int64_t count) {
    if constexpr (kDense) {
      dense_[id] += count;
    } else {
      if (id == 0) {
        zero_count_ += count;
      } else if (id == last_id_) {
        last_count_ += count;
      } else {
        flush();
        last_id_ = id;
        last_count_ = count;
      }
    }
  }

  void merge_into(IdCounts& dst) {
    flush();
    if constexpr (kDense) {
      for (std::size_t i = 0; i < dense_.size(); ++i) dst.dense_[i] += dense_[i];
    } else {
      dst.flush();
      dst.zero_count_ += zero_count_;
      map_.for_each([&](uint64_t k, int64_t c) { dst.map_.upsert(k) += c; });
    }
  }

  // (id, count) of every id seen with a non-zero count, in increasing unsigned order.
  template <class F>
  void for_each_sorted(F&& f) {
    flush();
    if constexpr (kDense) {
      for (std::size_t i = 0; i < dense_.size(); ++i)
        if (dense_[i]) f(static_cast<U>(i), dense_[i]);
    } else {
      if (zero_count_) f(U{0}, zero_count_);
      std::vector<std::pair<uint64_t, int64_t>> items;
      items.reserve(map_.size());
      map_.for_each([&](uint64_t k, int64_t c) { items.emplace_back(k, c); });
      std::sort(items.begin(), items.end());
      for (const auto& [k, c] : items) f(static_cast<U>(k), c);
    }
  }

 private:
  void flush() {
    if constexpr (!kDense) {
      if (last_count_) map_.upsert(last_id_) += last_count_;
      last_count_ = 0;
    }
  }

  std::vector<int64_t> dense_;
  HashMap<uint64_t, int64_t> map_;  // non-zero ids only
  U last_id_ = 0;                   // 0 = no cached id
  int64_t last_count_ = 0;
  int64_t zero_count_ = 0;
};

}  // namespace pycsc
