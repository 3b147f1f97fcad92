// Helpers for the binding layer: dtype dispatch and argument checks that raise ValueError /
// TypeError (std::invalid_argument -> ValueError via pybind11; pybind11::type_error -> TypeError).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pycsc::bind {

namespace py = pybind11;

// Calls fn(T{}) with T the C++ type of `arr`'s integer or bool dtype; TypeError otherwise.
// `what` names the parameter in the message.
template <class Fn>
decltype(auto) dispatch_integer(const py::array& arr, const char* what, Fn&& fn) {
  const char kind = arr.dtype().kind();
  const auto size = arr.dtype().itemsize();
  if (kind == 'b') return fn(uint8_t{});
  if (kind == 'u') {
    switch (size) {
      case 1: return fn(uint8_t{});
      case 2: return fn(uint16_t{});
      case 4: return fn(uint32_t{});
      case 8: return fn(uint64_t{});
    }
  } else if (kind == 'i') {
    switch (size) {
      case 1: return fn(int8_t{});
      case 2: return fn(int16_t{});
      case 4: return fn(int32_t{});
      case 8: return fn(int64_t{});
    }
  }
  throw py::type_error(std::string("`") + what + "` must have an integer or bool dtype; got " +
                       std::string(py::str(arr.dtype())));
}

// Like dispatch_integer, plus float32 / float64.
template <class Fn>
decltype(auto) dispatch_numeric(const py::array& arr, const char* what, Fn&& fn) {
  const char kind = arr.dtype().kind();
  if (kind == 'f') {
    if (arr.dtype().itemsize() == 4) return fn(float{});
    if (arr.dtype().itemsize() == 8) return fn(double{});
    throw py::type_error(std::string("`") + what + "` must be float32 or float64; got " +
                         std::string(py::str(arr.dtype())));
  }
  return dispatch_integer(arr, what, std::forward<Fn>(fn));
}

inline void require_c_contiguous(const py::array& arr, const char* what) {
  if (!(arr.flags() & py::array::c_style))
    throw std::invalid_argument(std::string("`") + what +
                                "` must be C-contiguous (the Python layer normalises this)");
}

inline void require_ndim(const py::array& arr, const char* what, int lo, int hi) {
  if (arr.ndim() < lo || arr.ndim() > hi)
    throw std::invalid_argument(std::string("`") + what + "` must have " + std::to_string(lo) +
                                (lo == hi ? "" : " to " + std::to_string(hi)) +
                                " dimensions; got " + std::to_string(arr.ndim()));
}

}  // namespace pycsc::bind
