// Binding of the overlap-counting kernel (csrc/overlaps.hpp). The Python layer (pycsc.ops.overlaps)
// validates and hands over two C-contiguous integer arrays of one shape.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <type_traits>

#include "bindings/array_util.hpp"
#include "bindings/registry.hpp"
#include "bindings/vector_array.hpp"
#include "overlaps.hpp"

namespace pycsc::bind {
namespace {

py::dict overlaps_binding(const py::array& truth, const py::array& pred) {
  require_c_contiguous(truth, "truth");
  require_c_contiguous(pred, "pred");
  if (truth.size() != pred.size())
    throw std::invalid_argument("`truth` and `pred` must have the same number of voxels");
  const int64_t n = truth.size();
  OverlapTable table = dispatch_integer(truth, "truth", [&](auto g) {
    using G = decltype(g);
    using GU = std::make_unsigned_t<G>;
    return dispatch_integer(pred, "pred", [&](auto p) {
      using P = decltype(p);
      using PU = std::make_unsigned_t<P>;
      const auto* g_ptr = static_cast<const GU*>(truth.data());
      const auto* p_ptr = static_cast<const PU*>(pred.data());
      py::gil_scoped_release release;
      return count_overlaps<GU, PU>(g_ptr, p_ptr, n, std::is_signed_v<G>, std::is_signed_v<P>);
    });
  });
  py::dict out;
  out["truth_ids"] = vector_to_array(std::move(table.truth_ids));
  out["pred_ids"] = vector_to_array(std::move(table.pred_ids));
  out["counts"] = vector_to_array(std::move(table.counts));
  out["truth_labels"] = vector_to_array(std::move(table.truth_labels));
  out["truth_sizes"] = vector_to_array(std::move(table.truth_sizes));
  out["pred_labels"] = vector_to_array(std::move(table.pred_labels));
  out["pred_sizes"] = vector_to_array(std::move(table.pred_sizes));
  out["truth_negative"] = table.truth_negative;
  out["pred_negative"] = table.pred_negative;
  return out;
}

}  // namespace

void register_overlaps(py::module_& m) {
  m.def("overlaps", &overlaps_binding, py::arg("truth"), py::arg("pred"),
        "Sparse (truth, pred) contingency table and per-label sizes of two C-contiguous integer "
        "volumes of equal size. Returns a dict of NumPy arrays plus `truth_negative` / "
        "`pred_negative` flags (signed inputs holding negative values).");
}

}  // namespace pycsc::bind
