// Bindings for the optimal instance matching (csrc/matching.hpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings/array_util.hpp"
#include "bindings/registry.hpp"
#include "matching.hpp"

namespace pycsc::bind {

namespace {

using IdArray = py::array_t<uint64_t, py::array::c_style>;
using IouArray = py::array_t<float, py::array::c_style>;

template <class T>
py::array_t<T> to_numpy(std::vector<T>&& values) {
  py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

py::tuple optimal_matching(const IdArray& truth_ids, const IdArray& pred_ids, const IouArray& iou,
                           int64_t cost_scale) {
  require_ndim(truth_ids, "truth_ids", 1, 1);
  require_ndim(pred_ids, "pred_ids", 1, 1);
  require_ndim(iou, "iou", 1, 1);
  const auto n = truth_ids.shape(0);
  if (pred_ids.shape(0) != n || iou.shape(0) != n)
    throw std::invalid_argument("`truth_ids`, `pred_ids` and `iou` must have the same length");
  MatchingResult result;
  {
    py::gil_scoped_release release;
    result = pycsc::optimal_matching(truth_ids.data(), pred_ids.data(), iou.data(), n, cost_scale);
  }
  return py::make_tuple(to_numpy(std::move(result.truth_ids)), to_numpy(std::move(result.pred_ids)),
                        result.cost);
}

}  // namespace

void register_matching(py::module_& m) {
  m.def("optimal_matching", &optimal_matching, py::arg("truth_ids"), py::arg("pred_ids"),
        py::arg("iou"), py::arg("cost_scale"),
        "Min-cost one-to-one matching of (truth, pred, IoU float32) edges, exactly as the official "
        "OR-Tools network. Returns (matched truth ids, matched pred ids, objective), sorted by pred "
        "id. uint64 / float32 C-contiguous 1-D inputs (the Python layer normalises them).");
}

}  // namespace pycsc::bind
