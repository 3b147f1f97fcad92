// Python binding of rescale_volume (csrc/rescale.hpp). The Python layer
// (pycsc/ops/resample.py) validates, computes the output shape and the Gaussian
// weights exactly as scikit-image / scipy do, and always passes a 3D C-contiguous array.
#include <stdexcept>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings/array_util.hpp"
#include "bindings/registry.hpp"
#include "rescale.hpp"

namespace pycsc::bind {
namespace {

// `weights` is scipy's full kernel (2r + 1 values, symmetric); its left half is what
// scipy's symmetric correlation reads.
SymmetricKernel to_kernel(const py::array_t<double, py::array::c_style | py::array::forcecast>& w,
                          int axis) {
  SymmetricKernel k;
  const auto n = w.size();
  if (n == 0) return k;
  if (w.ndim() != 1 || n % 2 != 1)
    throw std::invalid_argument("`kernels[" + std::to_string(axis) +
                                "]` must be a 1D array of odd length (a symmetric Gaussian)");
  const double* p = w.data();
  const auto r = n / 2;
  for (py::ssize_t j = 0; j <= r; ++j) k.half.push_back(p[r - j]);
  return k;
}

py::array rescale_binding(const py::array& image, const std::vector<int64_t>& out_shape, int order,
                          const std::vector<py::array_t<double, py::array::c_style | py::array::forcecast>>& kernels) {
  require_ndim(image, "image", 3, 3);
  require_c_contiguous(image, "image");
  if (order != 0 && order != 1)
    throw std::invalid_argument("`order` must be 0 or 1; got " + std::to_string(order));
  if (out_shape.size() != 3 || kernels.size() != 3)
    throw std::invalid_argument("`out_shape` and `kernels` must have 3 entries");
  int64_t is[3], os[3];
  for (int a = 0; a < 3; ++a) {
    is[a] = image.shape(a);
    os[a] = out_shape[a];
    if (is[a] < 1 || os[a] < 1)
      throw std::invalid_argument("`image` and `out_shape` must have at least one voxel per axis");
  }
  SymmetricKernel k[3];
  for (int a = 0; a < 3; ++a) k[a] = to_kernel(kernels[a], a);
  const bool is_f32 = image.dtype().kind() == 'f' && image.dtype().itemsize() == 4;
  const py::dtype out_dtype = order == 0 ? image.dtype()
                              : is_f32   ? py::dtype::of<float>()
                                         : py::dtype::of<double>();
  py::array out(out_dtype, std::vector<py::ssize_t>{os[0], os[1], os[2]});
  dispatch_numeric(image, "image", [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(image.data());
    if (order == 0) {
      T* dst = static_cast<T*>(out.mutable_data());
      py::gil_scoped_release release;
      rescale_volume<T, T>(src, is, dst, os, 0, k);
    } else if constexpr (std::is_same_v<T, float>) {
      float* dst = static_cast<float*>(out.mutable_data());
      py::gil_scoped_release release;
      rescale_volume<T, float>(src, is, dst, os, 1, k);
    } else {
      double* dst = static_cast<double*>(out.mutable_data());
      py::gil_scoped_release release;
      rescale_volume<T, double>(src, is, dst, os, 1, k);
    }
    return 0;
  });
  return out;
}

}  // namespace

void register_rescale(py::module_& m) {
  m.def("rescale", &rescale_binding, py::arg("image"), py::arg("out_shape"), py::arg("order"),
        py::arg("kernels"),
        "Resample a 3D C-contiguous array onto out_shape like skimage.transform.rescale "
        "(mode='constant', preserve_range=True); kernels are per-axis symmetric Gaussian "
        "weights (empty = none). Internal: use pycsc.ops.rescale.");
}

}  // namespace pycsc::bind
