// Hands a std::vector's buffer to NumPy without copying: the array owns the vector through a
// capsule, so result tables of any size cost no second allocation.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <utility>
#include <vector>

namespace pycsc::bind {

template <class T>
pybind11::array_t<T> vector_to_array(std::vector<T>&& values) {
  auto* owned = new std::vector<T>(std::move(values));
  pybind11::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return pybind11::array_t<T>({static_cast<pybind11::ssize_t>(owned->size())}, {sizeof(T)},
                              owned->data(), owner);
}

}  // namespace pycsc::bind
