// Connected-component labelling of 2D/3D label volumes (multi-label: voxels join only when
// they hold the same non-zero value), numbered like cc3d: ids 1..n in the order in which each
// component's first voxel appears in a C-order raster scan.
//
// Method: run-based two-pass union-find, parallel over blocks of rows.
//   1. Each thread scans its block of rows (z, y), cuts each row into runs (maximal x-intervals
//      of one non-zero value, found with SSE2 zero / equality tests) and at once unites every
//      run with the touching runs of the earlier rows of its own block. Which earlier rows and
//      how far runs reach sideways depends on the connectivity (NeighbourRow table).
//   2. The blocks' runs are concatenated in raster order; the rows at the start of each block
//      are then united with the rows of earlier blocks (the seam), serially.
//   3. Roots always are the smallest run index of their set, so a parent never points forward:
//      one ordered pass over the runs gives each root the next id and every other run the id of
//      its parent, which is exactly raster first-appearance numbering.
//   4. Each thread writes the ids of its block's runs into the output, which the caller
//      provides zero-filled (fresh calloc pages: background is never written).
// Complexity: O(voxels) for the scan (one streaming read of the input), O(runs * alpha) for
// the union-find and O(foreground voxels) for the output writes.
// Peak extra memory: about 2 x runs x (8 + sizeof(T) + sizeof(Idx)) bytes (block-local runs are
// copied into one array) plus 8 x (rows + 1) bytes of row offsets; for sparse EM volumes a few
// percent of the input.
// Reference: the numbering and connectivity semantics of connected-components-3d 4.1.1
// (cc3d.connected_components, multi-label mode); run-based CCL in the spirit of He, Chao &
// Suzuki, "A run-based two-scan labeling algorithm", IEEE TIP 17(5), 2008.
// Test oracles: cc3d (ids and count, exactly) and scipy.ndimage.label (same partition).
#pragma once
#include <cstdint>

namespace pycsc {

// Fills `out` (zero-initialised by the caller, same shape as `labels`) with component ids and
// returns their count. `labels` is C-contiguous with shape (sz, sy, sx); a 2D image is passed
// with sz = 1. `connectivity` is 6, 18 or 26 (3D) or 4, 8 (2D; then sz must be 1).
// Idx must hold sz * sy * sx (uint32_t below 2^32 voxels, else uint64_t). `force_blocks` > 0 forces
// that many row blocks (tests use it to put seams into small inputs); 0 picks one per thread.
// Throws std::invalid_argument for a bad connectivity or an x extent above 2^31 - 1.
template <class T, class Idx>
Idx connected_components(const T* labels, Idx* out, int64_t sz, int64_t sy, int64_t sx,
                         int connectivity, int force_blocks = 0);

}  // namespace pycsc
