// One register_<kernel> function per binding file; module.cpp calls them all.
#pragma once
#include <pybind11/pybind11.h>

namespace pycsc::bind {
void register_components(pybind11::module_& m);
void register_rescale(pybind11::module_& m);
void register_overlaps(pybind11::module_& m);
void register_matching(pybind11::module_& m);
void register_labels(pybind11::module_& m);
void register_distance(pybind11::module_& m);
void register_segment(pybind11::module_& m);
}  // namespace pycsc::bind
