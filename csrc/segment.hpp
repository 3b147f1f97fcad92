// Threshold + connected components + per-object statistics in one call, and the narrowing id
// table lookup that applies a size filter: the kernels of `csc process` (pycsc.process.segment).
//
// Method: threshold_components makes a 0/1 mask (`data >= cutoff`, one streaming pass,
// parallel), labels it with the run-based connected_components (components.hpp: ids 1..n in
// C-order raster order of each object's first voxel, as cc3d), then one pass over the ids
// counts each object's voxels and records the linear index of its first voxel. Threads take
// z-slabs with private tables (merged by sum and min); runs of equal ids are handled once and
// background is skipped eight ids per test. apply_id_table writes out[i] = table[ids[i]] into a
// zero-filled output of the table's (usually narrower) dtype, touching foreground only.
// Complexity: O(voxels) for the mask and the labelling, O(voxels / 8 + foreground runs) for
// the statistics and the lookup, which find background in the mask and read ids only under
// foreground (background pages of a fresh id array are never touched).
// Peak extra memory: the mask (1 byte per voxel unless thresholded in place, freed before
// returning), the components kernel's run tables, and (threads x (n + 1) x 16 bytes) for the
// statistics.
// Reference: cc3d.connected_components + cc3d.dust + fastremap.renumber/refit give the same
// labels (objects below the size dropped, the rest numbered 1..k in raster order).
// Test oracles: cc3d (ids, exactly), numpy.bincount (sizes), numpy.unique(return_index) (first).
#pragma once
#include <cstdint>
#include <vector>

namespace pycsc {

struct ObjectStats {
  std::vector<int64_t> sizes;  // [n + 1]: voxels per id; sizes[0] counts the background
  std::vector<int64_t> first;  // [n + 1]: linear index of each id's first voxel (INT64_MAX
                               // where none is in the core); first[0] = -1
};

// Labels the voxels with data >= cutoff (C-ordered (sz, sy, sx)) into `ids` (zero-filled by
// the caller, same shape) with 6/18/26 connectivity; returns n and fills `stats`, counting
// only the voxels of the leading core box [0, cz) x [0, cy) x [0, cx) (blockwise labelling
// reads blocks with a one-voxel halo that their neighbours own); `first` holds linear indices
// into the core box. Idx must hold sz * sy * sx.
// With `in_place` the data is overwritten by the 0/1 mask (no temporary mask is allocated);
// else it is only read.
template <class Idx>
Idx threshold_components(uint8_t* data, uint8_t cutoff, bool in_place, Idx* ids, int64_t sz,
                         int64_t sy, int64_t sx, int connectivity, ObjectStats& stats, int64_t cz,
                         int64_t cy, int64_t cx);

// out[i] = table[ids[i]] for i < n; `out` is zero-filled and table[0] must be 0. Every id must
// be < table_size (throws std::invalid_argument naming the first one that is not). `mask`
// (optional, non-zero exactly where ids are) lets background pages of `ids` go unread. With
// `clear_ids` every id read is reset to 0, which leaves `ids` zero-filled for reuse.
template <class Idx, class U>
void apply_id_table(Idx* ids, const uint8_t* mask, int64_t n, const U* table,
                    int64_t table_size, U* out, bool clear_ids);

}  // namespace pycsc
