// Bindings of the label utilities (csrc/labels.hpp). The Python layer (pycsc.ops.labels)
// validates, normalises memory order and chooses the remap output dtype.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "bindings/array_util.hpp"
#include "bindings/registry.hpp"
#include "bindings/vector_array.hpp"
#include "labels.hpp"

namespace pycsc::bind {
namespace {

py::tuple value_counts_binding(const py::array& labels) {
  require_c_contiguous(labels, "labels");
  return dispatch_integer(labels, "labels", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto* data = static_cast<const T*>(labels.data());
    const int64_t n = labels.size();
    ValueCounts<T> vc;
    {
      py::gil_scoped_release release;
      vc = value_counts<T>(data, n);
    }
    return py::make_tuple(vector_to_array(std::move(vc.values)),
                          vector_to_array(std::move(vc.counts)));
  });
}

py::tuple bounding_boxes_binding(const py::array& labels) {
  require_c_contiguous(labels, "labels");
  require_ndim(labels, "labels", 1, 3);
  int64_t shape[3] = {1, 1, 1};
  for (int d = 0; d < labels.ndim(); ++d) shape[3 - labels.ndim() + d] = labels.shape(d);
  BoxTable table = dispatch_integer(labels, "labels", [&](auto tag) {
    using T = decltype(tag);
    const auto* data = static_cast<const T*>(labels.data());
    py::gil_scoped_release release;
    return bounding_boxes<T>(data, shape[0], shape[1], shape[2]);
  });
  const auto n = static_cast<py::ssize_t>(table.ids.size());
  py::array_t<int64_t> boxes({n, py::ssize_t{6}});
  std::copy(table.boxes.begin(), table.boxes.end(), boxes.mutable_data());
  return py::make_tuple(vector_to_array(std::move(table.ids)), boxes, table.negative);
}

// T: input type, U: output type of the same signedness and at least as wide.
template <class T, class U>
py::object remap_typed(const py::array& labels, const py::array& keys, const py::array& values,
                       bool preserve_missing) {
  // np.zeros gets fresh, lazily zeroed pages from the OS for large arrays; the kernel then
  // skips writing background, so only pages holding objects are ever touched.
  py::tuple shape(labels.ndim());
  for (py::ssize_t d = 0; d < labels.ndim(); ++d) shape[d] = labels.shape(d);
  auto out = py::array_t<U>::ensure(py::module_::import("numpy").attr("zeros")(shape, values.dtype()));
  const auto* a = static_cast<const T*>(labels.data());
  const auto* k = static_cast<const T*>(keys.data());
  const auto* v = static_cast<const U*>(values.data());
  U* o = out.mutable_data();
  const int64_t n = labels.size(), m = keys.size();
  int64_t missing_at;
  {
    py::gil_scoped_release release;
    missing_at = remap_values<T, U>(a, o, n, k, v, m, preserve_missing, true);
  }
  if (missing_at >= 0) return py::make_tuple(py::none(), py::int_(a[missing_at]));
  return py::make_tuple(out, py::none());
}

py::tuple remap_binding(const py::array& labels, const py::array& keys, const py::array& values,
                        bool preserve_missing) {
  require_c_contiguous(labels, "labels");
  require_c_contiguous(keys, "keys");
  require_c_contiguous(values, "values");
  if (!keys.dtype().is(labels.dtype()))
    throw std::invalid_argument("`keys` must have the dtype of `labels`");
  if (keys.ndim() != 1 || values.ndim() != 1 || keys.size() != values.size())
    throw std::invalid_argument("`keys` and `values` must be 1D arrays of equal length");
  return dispatch_integer(labels, "labels", [&](auto in_tag) {
    using T = decltype(in_tag);
    return dispatch_integer(values, "values", [&](auto out_tag) -> py::tuple {
      using U = decltype(out_tag);
      if constexpr (std::is_signed_v<T> == std::is_signed_v<U> && sizeof(U) >= sizeof(T)) {
        return remap_typed<T, U>(labels, keys, values, preserve_missing);
      } else {
        throw std::invalid_argument(
            "`values` must have the signedness of `labels` and be at least as wide");
      }
    });
  });
}

}  // namespace

void register_labels(py::module_& m) {
  m.def("value_counts", &value_counts_binding, py::arg("labels"),
        "Sorted distinct values of a C-contiguous integer array and their int64 counts.");
  m.def("bounding_boxes", &bounding_boxes_binding, py::arg("labels"),
        "(ids uint64, boxes int64 (n, 6) as start z,y,x + stop z,y,x of the array padded to 3D "
        "with leading axes, negative flag) of a C-contiguous 1-3D integer array.");
  m.def("remap", &remap_binding, py::arg("labels"), py::arg("keys"), py::arg("values"),
        py::arg("preserve_missing"),
        "(remapped array, None), or (None, a value absent from keys) when preserve_missing is "
        "false. keys: distinct, dtype of labels; values: same signedness, at least as wide.");
}

}  // namespace pycsc::bind
