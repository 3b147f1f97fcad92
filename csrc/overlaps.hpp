// Sparse contingency table of two label volumes, plus the voxel count of every label.
//
// Method: one pass over the flattened pair of volumes (any common memory order: counts do not
// depend on it). Runs of identical (truth, pred) pairs are found with run_end2 (block-wise
// XOR/OR tests), so the per-run work -- size updates and the pair-count update -- is paid once
// per run instead of once per voxel. Ids of 8 bits use dense tables (65 536 pair cells); wider
// ids use open-addressing hash maps with a one-entry cache. Threads take slices of the flat range
// one at a time (slices.hpp) into private tables, merged at the end; a run cut by a slice
// boundary is simply counted in two parts.
// Complexity: O(n) reads plus O(runs) table updates; O(K log K) to sort K distinct pairs.
// Peak memory: the tables only (about 2 x 16-24 B per distinct pair and per label, per thread).
// Reference: performance.md section 6.1 and appendix A (run-length + hash prototype);
// evaluation.md section 7.3 step 4 (the official masks + bincount + np.unique computation).
// Oracle in tests: numpy -- np.unique over 64-bit pair keys and np.unique counts of each volume.
#pragma once
#include <cstdint>
#include <vector>

namespace pycsc {

struct OverlapTable {
  // One row per distinct (truth, pred) pair with both ids non-zero, sorted by (truth, pred).
  std::vector<uint64_t> truth_ids, pred_ids;
  std::vector<int64_t> counts;
  // Every non-zero id of each volume, sorted, with its voxel count.
  std::vector<uint64_t> truth_labels, pred_labels;
  std::vector<int64_t> truth_sizes, pred_sizes;
  // Set when a signed input held a negative value; the tables are then meaningless.
  bool truth_negative = false, pred_negative = false;
};

// G, P: unsigned integer types holding the bits of the two volumes (n voxels each, same memory
// order). `*_signed` says whether the original dtype was signed, so that a set top bit means a
// negative id.
template <class G, class P>
OverlapTable count_overlaps(const G* truth, const P* pred, int64_t n, bool truth_signed,
                            bool pred_signed);

}  // namespace pycsc
