// Label-volume utilities: distinct values with counts, bounding boxes, value remapping.
//
// Method: one pass over the volume with run-length scanning (run_scan.hpp), so table work is
// paid once per run of equal values, not once per voxel; background runs are skipped 64 voxels
// at a time. Per-value tables are dense for 8/16-bit dtypes and open-addressing hash maps with
// a one-entry cache otherwise (hash_table.hpp). Threads take slices of the flat index range
// (of rows for bounding boxes) one at a time (slices.hpp), with private tables merged at the
// end; remap threads write disjoint slices of the output.
// Complexity: O(n) reads + O(runs) table updates + O(k log k) to sort k distinct values;
// remap also writes n output values. Peak memory: the tables (per thread) and the output.
// Reference: performance.md section 8 (fastremap / cc3d.statistics timings, 2 Gvox/s goal).
// Oracles in tests: numpy.unique, fastremap.unique / remap, scipy.ndimage.find_objects.
#pragma once
#include <cstdint>
#include <vector>

namespace pycsc {

template <class T>
struct ValueCounts {
  std::vector<T> values;  // sorted increasing (signed order for signed T), 0 included
  std::vector<int64_t> counts;
};

// Every distinct value of a[0..n) with its number of occurrences.
template <class T>
ValueCounts<T> value_counts(const T* a, int64_t n);

struct BoxTable {
  std::vector<uint64_t> ids;    // non-zero ids, sorted
  std::vector<int64_t> boxes;   // per id: start_z, start_y, start_x, stop_z, stop_y, stop_x
  bool negative = false;        // a signed input held a negative id (the table is then void)
};

// Bounding box of every non-zero id of a C-ordered (nz, ny, nx) volume; stops are exclusive.
template <class T>
BoxTable bounding_boxes(const T* a, int64_t nz, int64_t ny, int64_t nx);

// out[i] = values[j] where a[i] == keys[j]; a value absent from keys is copied (converted to U)
// when preserve_missing, and otherwise reported. T and U have the same signedness and U is at
// least as wide as T, so copying never changes a value. Keys must be distinct. With
// out_is_zero (out freshly zero-filled, e.g. by calloc) runs whose new value is 0 are not
// written, so pages of pure background are never touched.
// Returns -1, or (preserve_missing false) the index of the first voxel in memory order whose
// value is absent from keys; the output is then incomplete.
template <class T, class U>
int64_t remap_values(const T* a, U* out, int64_t n, const T* keys, const U* values, int64_t m,
                     bool preserve_missing, bool out_is_zero);

}  // namespace pycsc
