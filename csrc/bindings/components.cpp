// pycsc._core.connected_components: the native face of pycsc.ops.connected_components.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>

#include "bindings/array_util.hpp"
#include "bindings/registry.hpp"
#include "components.hpp"

namespace pycsc::bind {
namespace {

py::tuple connected_components_py(const py::array& labels, int connectivity, int blocks,
                                  bool force_wide) {
  require_ndim(labels, "labels", 2, 3);
  require_c_contiguous(labels, "labels");
  const char kind = labels.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u')  // before allocating the output
    throw py::type_error("`labels` must have an integer or bool dtype; got " +
                         std::string(py::str(labels.dtype())));
  const bool is_2d = labels.ndim() == 2;
  const int64_t sz = is_2d ? 1 : labels.shape(0);
  const int64_t sy = labels.shape(is_2d ? 0 : 1);
  const int64_t sx = labels.shape(is_2d ? 1 : 2);
  const bool ok = is_2d ? (connectivity == 4 || connectivity == 8)
                        : (connectivity == 6 || connectivity == 18 || connectivity == 26);
  if (!ok)
    throw std::invalid_argument(std::string("`connectivity` must be ") +
                                (is_2d ? "4 or 8 for 2D input" : "6, 18 or 26 for 3D input") +
                                "; got " + std::to_string(connectivity));

  // Every voxel may be its own component, so the voxel count bounds the ids.
  const uint64_t voxels = static_cast<uint64_t>(sz) * sy * sx;
  const bool wide = force_wide || voxels > std::numeric_limits<uint32_t>::max();
  // numpy.zeros hands back untouched calloc pages: the kernel writes foreground only.
  py::array out = py::module_::import("numpy").attr("zeros")(
      labels.attr("shape"), wide ? py::dtype::of<uint64_t>() : py::dtype::of<uint32_t>());

  const uint64_t n = dispatch_integer(labels, "labels", [&](auto tag) -> uint64_t {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(labels.data());
    py::gil_scoped_release release;
    if (wide)
      return connected_components<T, uint64_t>(in, static_cast<uint64_t*>(out.mutable_data()),
                                               sz, sy, sx, connectivity, blocks);
    return connected_components<T, uint32_t>(in, static_cast<uint32_t*>(out.mutable_data()), sz,
                                             sy, sx, connectivity, blocks);
  });
  return py::make_tuple(out, n);
}

}  // namespace

void register_components(py::module_& m) {
  m.def("connected_components", &connected_components_py, py::arg("labels"),
        py::arg("connectivity"), py::arg("blocks") = 0, py::arg("force_wide") = false,
        "Multi-label connected components of a C-contiguous 2D/3D integer or bool array.\n"
        "Returns (ids, n): uint32 ids (uint64 above 2^32 - 1 voxels) numbered 1..n by first\n"
        "appearance in C-order raster scan, 0 for background. `blocks` > 0 forces that many\n"
        "row blocks (seam tests); 0 chooses. `force_wide` gives uint64 ids (tests).\n"
        "Internal: use pycsc.ops.");
}

}  // namespace pycsc::bind
