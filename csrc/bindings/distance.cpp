// Bindings for the exact EDT and the per-instance Hausdorff distances. pycsc.ops.distance
// validates and normalises (C order, spacing per axis) before calling these; the checks here
// keep direct callers of _core from reaching undefined behaviour.
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <pybind11/stl.h>

#include <algorithm>

#include "bindings/array_util.hpp"
#include "bindings/registry.hpp"
#include "edt.hpp"
#include "hausdorff.hpp"

namespace pycsc::bind {
namespace {

// (nz, ny, nx) view of a 2D or 3D array and the spacing of its axes (2D: nz = 1).
struct View3 {
  int64_t shape[3];
  double spacing[3];
};

View3 view3(const py::array& a, const std::vector<double>& spacing, const char* what, const char* spacing_name) {
  const int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(spacing.size()) != nd)
    throw std::invalid_argument(std::string("`") + spacing_name + "` must have one value per axis of `" + what +
                                "` (" + std::to_string(nd) + "); got " + std::to_string(spacing.size()));
  for (double s : spacing)
    if (!(std::isfinite(s) && s > 0))
      throw std::invalid_argument(std::string("`") + spacing_name + "` must be finite and > 0 on every axis");
  View3 v{{1, 1, 1}, {1.0, 1.0, 1.0}};
  for (int k = 0; k < nd; ++k) {
    v.shape[3 - nd + k] = a.shape(k);
    v.spacing[3 - nd + k] = spacing[k];
  }
  return v;
}

py::array_t<double> edt(const py::array& mask, const std::vector<double>& sampling) {
  require_ndim(mask, "mask", 2, 3);
  require_c_contiguous(mask, "mask");
  const View3 v = view3(mask, sampling, "mask", "sampling");
  std::vector<py::ssize_t> shape(mask.shape(), mask.shape() + mask.ndim());
  py::array_t<double> out(shape);
  const int nd = static_cast<int>(mask.ndim());
  double* o = out.mutable_data();
  dispatch_numeric(mask, "mask", [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(mask.data());
    py::gil_scoped_release release;
    distance_transform_edt(p, v.shape[0], v.shape[1], v.shape[2], v.spacing, nd, o);
  });
  return out;
}

py::tuple hausdorff(const py::array& truth, const py::array& pred, const std::vector<double>& voxel_size,
                    double max_distance, int method, double percentile) {
  require_ndim(truth, "truth", 2, 3);
  require_c_contiguous(truth, "truth");
  require_c_contiguous(pred, "pred");
  if (pred.ndim() != truth.ndim() || !std::equal(truth.shape(), truth.shape() + truth.ndim(), pred.shape()))
    throw std::invalid_argument("`truth` and `pred` must have the same shape");
  const View3 v = view3(truth, voxel_size, "truth", "voxel_size");
  if (!(max_distance > 0))  // +inf = no cap (the official accepts it)
    throw std::invalid_argument("`max_distance` must be > 0 (inf = no cap)");
  if (method < 0 || method > 2) throw std::invalid_argument("`method` must be 0 (standard), 1 (modified) or 2 (percentile)");
  if (method == 2 && !(percentile > 0 && percentile <= 100))
    throw std::invalid_argument("`percentile` must be in (0, 100]");
  HausdorffParams params{{v.spacing[0], v.spacing[1], v.spacing[2]},
                         max_distance,
                         static_cast<HausdorffMethod>(method),
                         percentile};
  std::vector<uint64_t> ids;
  std::vector<double> dist;
  dispatch_integer(truth, "truth", [&](auto t_tag) {
    using TU = std::make_unsigned_t<decltype(t_tag)>;
    constexpr bool t_signed = std::is_signed_v<decltype(t_tag)>;
    dispatch_integer(pred, "pred", [&](auto p_tag) {
      using PU = std::make_unsigned_t<decltype(p_tag)>;
      constexpr bool p_signed = std::is_signed_v<decltype(p_tag)>;
      const auto* t = static_cast<const TU*>(truth.data());
      const auto* p = static_cast<const PU*>(pred.data());
      py::gil_scoped_release release;
      hausdorff_distances(t, t_signed, p, p_signed, v.shape, params, ids, dist);
    });
  });
  py::array_t<uint64_t> ids_out(static_cast<py::ssize_t>(ids.size()), ids.data());
  py::array_t<double> dist_out(static_cast<py::ssize_t>(dist.size()), dist.data());
  return py::make_tuple(ids_out, dist_out);
}

}  // namespace

void register_distance(py::module_& m) {
  m.def("distance_transform_edt", &edt, py::arg("mask"), py::arg("sampling"),
        "Exact Euclidean distance of every non-zero voxel to the nearest zero voxel (float64, "
        "bitwise equal to scipy.ndimage.distance_transform_edt). mask: C-contiguous 2D/3D; "
        "sampling: one spacing per axis.");
  m.def("hausdorff_distances", &hausdorff, py::arg("truth"), py::arg("pred"), py::arg("voxel_size"),
        py::arg("max_distance"), py::arg("method"), py::arg("percentile"),
        "Per truth id Hausdorff distance to the same id in pred (method 0 standard, 1 modified, "
        "2 percentile); returns (ids uint64, distances float64).");
}

}  // namespace pycsc::bind
