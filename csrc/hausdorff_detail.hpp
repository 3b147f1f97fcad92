// Internals shared by hausdorff.cpp (bucketing) and hausdorff_search.cpp (per-id distances).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "hausdorff.hpp"

namespace pycsc::hd {

// A voxel entry: z, y, x in 19 bits each, then the rank (0..25) of its nearest 26-neighbour
// in the other set (kNoNeighbour when none), then a flag for "lies in the other set".
// Entries of one id are sorted in raster order, which is also their numeric order.
constexpr int kAxisBits = 19;
constexpr uint64_t kAxisMask = (uint64_t{1} << kAxisBits) - 1;
constexpr int kCodeShift = 3 * kAxisBits;
constexpr uint64_t kCodeMask = 31;
constexpr uint64_t kNoNeighbour = 31;
constexpr uint64_t kInOther = uint64_t{1} << 62;

inline uint64_t pack(int64_t z, int64_t y, int64_t x) {
  return (static_cast<uint64_t>(z) << (2 * kAxisBits)) | (static_cast<uint64_t>(y) << kAxisBits) |
         static_cast<uint64_t>(x);
}
inline int32_t unpack_z(uint64_t e) { return static_cast<int32_t>((e >> (2 * kAxisBits)) & kAxisMask); }
inline int32_t unpack_y(uint64_t e) { return static_cast<int32_t>((e >> kAxisBits) & kAxisMask); }
inline int32_t unpack_x(uint64_t e) { return static_cast<int32_t>(e & kAxisMask); }

// Squared physical distance between voxels formed as scipy forms it: per-axis
// fl(fl(offset * spacing)^2) from tables, summed z, then y, then x. Monotone in each |offset|.
struct Metric {
  struct Neighbour {
    int dz, dy, dx;
    double q;
  };
  int64_t n[3];
  std::vector<double> sq[3];
  Neighbour nbr[26];  // the 26 neighbour offsets, nearest first
  // Any voxel outside the 26-neighbourhood is at least this far (squared), so a neighbour
  // bound <= cert_q is the exact nearest distance.
  double cert_q;

  Metric(const int64_t shape[3], const double spacing[3]);
  double q(int64_t dz, int64_t dy, int64_t dx) const {
    return (sq[0][std::llabs(dz)] + sq[1][std::llabs(dy)]) + sq[2][std::llabs(dx)];
  }
};

// Leaves elements default-initialised (uninitialised for integers) on resize: the bucket
// arrays are written in full right after, so zero-filling them first would be a wasted pass.
template <class T>
struct NoInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  NoInitAllocator() = default;
  template <class U>
  NoInitAllocator(const NoInitAllocator<U>&) noexcept {}
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0)
      ::new (static_cast<void*>(p)) U;
    else
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// Voxel lists per truth id (dense index i, ids sorted ascending). Kinds: 0 = truth voxels
// (A), 1 = prediction voxels carrying a truth id (B), 2 = boundary of A, 3 = boundary of B.
// Entries of kind k for id i are entries[k][offsets[k][i] .. offsets[k][i + 1]).
struct Buckets {
  std::vector<uint64_t> ids;
  std::vector<int64_t> offsets[4];
  std::vector<uint64_t, NoInitAllocator<uint64_t>> entries[4];
};

// distances[i] for every id of `b`, threads over ids.
void per_id_distances(const Buckets& b, const Metric& metric, const HausdorffParams& params,
                      double* distances);

}  // namespace pycsc::hd
