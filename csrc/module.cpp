// The only PYBIND11_MODULE: pycsc._core. Kernels live in csrc/<kernel>.cpp, their bindings in
// csrc/bindings/<kernel>.cpp; this file wires them up and reports how the module was built.
#include <pybind11/pybind11.h>

#include "bindings/registry.hpp"
#include "parallel.hpp"

namespace py = pybind11;

#ifndef PYCSC_VERSION
#define PYCSC_VERSION "unknown"
#endif

static py::dict build_info() {
  py::dict info;
  info["version"] = PYCSC_VERSION;
#if defined(__clang__)
  info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  info["compiler"] = std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  info["compiler"] = std::string("msvc ") + std::to_string(_MSC_VER);
#else
  info["compiler"] = "unknown";
#endif
#ifdef PYCSC_HAVE_OPENMP
  info["openmp"] = true;
  info["openmp_version"] = _OPENMP;
#else
  info["openmp"] = false;
  info["openmp_version"] = 0;
#endif
  info["max_threads"] = pycsc::max_threads();
  return info;
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "pycsc native kernels (internal; use pycsc.ops)";
  m.def("build_info", &build_info, "Compiler, OpenMP state and thread count of this build.");
  pycsc::bind::register_components(m);
  pycsc::bind::register_rescale(m);
  pycsc::bind::register_overlaps(m);
  pycsc::bind::register_matching(m);
  pycsc::bind::register_labels(m);
  pycsc::bind::register_distance(m);
  pycsc::bind::register_segment(m);
}
