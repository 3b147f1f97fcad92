// Per-truth-instance Hausdorff distances (standard / modified / percentile), exactly as the
// CellMap evaluator defines them, computed on voxel lists instead of padded ROIs.
//
// Method:
//  1. Bucketing (counting sort, two passes over both volumes, threads over slabs): for each
//     distinct non-zero truth id t, the voxels of A = (truth == t) and B = (pred == t) in
//     raster order, each flagged when it lies in the other set, plus the 6-connected boundary
//     voxels of A and of B. A voxel outside the other set also records the nearest of its 26
//     neighbours that belongs to the other set (an upper bound on its distance, often exact).
//  2. Per id (threads over ids, dynamic schedule, largest first): the distance from a source
//     voxel to the other set equals the distance to that set's boundary voxels (the nearest
//     voxel of a set, seen from outside, always has a 6-neighbour outside the set on the way
//     back), found with a k-d tree over the boundary, pruned by the neighbour bound. "standard"
//     keeps a running maximum and stops a query as soon as it finds a target within it
//     (early break, Taha & Hanbury, IEEE TPAMI 37(11) 2015, with random source order) and
//     stops the whole id once the cap is reached; "modified" / "percentile" need every
//     nearest distance and reproduce numpy's pairwise mean and linear percentile.
//  Distances are squared sums formed as scipy forms them, (((dz*sz)^2 + (dy*sy)^2) +
//  (dx*sx)^2) from integer offsets in float64; every comparison is made on that rounded value
//  (monotone in each offset), so nearest-voxel ties cannot change a result.
//
// Complexity: O(N) bucketing for N voxels; per id O((|A| + |B|) log |boundary|) at worst,
// typically much less (most sources are settled by their neighbour bound). Cost is
// proportional to voxel counts, never to bounding-box volumes, so far-apart components that
// share an id (the evaluator's id-collision quirk) cost nothing extra.
// Peak memory: 8 bytes per foreground voxel of each volume plus 8 per boundary voxel, an id
// lookup table of 4 bytes per id value up to the largest id (sorted ids beyond a limit), and
// per-thread scratch of the largest id.
// Oracles in tests: brute force over all voxel pairs (numpy), and the official padded-ROI
// method (scipy.ndimage.distance_transform_edt per id).
#pragma once
#include <cstdint>
#include <vector>

namespace pycsc {

enum class HausdorffMethod : int { kStandard = 0, kModified = 1, kPercentile = 2 };

struct HausdorffParams {
  double spacing[3];    // physical voxel size per axis of the (nz, ny, nx) view
  double max_distance;  // cap D > 0: results are min(d, D); B empty -> D
  HausdorffMethod method;
  double percentile;  // in (0, 100], used by kPercentile
};

// Largest extent per axis (the voxel coordinates are packed into 19 bits each).
constexpr int64_t kHausdorffMaxExtent = int64_t{1} << 19;

// `truth` and `pred` are C-contiguous (nz, ny, nx) volumes (2D: nz = 1) given as the
// unsigned integers of their width; `*_signed` says the original dtype was signed. A negative
// truth id throws std::invalid_argument; negative prediction values never equal a truth id.
// Fills `ids` (sorted distinct non-zero truth ids) and `distances` (one per id).
template <class TU, class PU>
void hausdorff_distances(const TU* truth, bool truth_signed, const PU* pred, bool pred_signed,
                         const int64_t shape[3], const HausdorffParams& params, std::vector<uint64_t>& ids,
                         std::vector<double>& distances);

}  // namespace pycsc
