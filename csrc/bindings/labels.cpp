// SCAFFOLD: replaced by the labels kernel's bindings.
#include "bindings/registry.hpp"
namespace pycsc::bind {
void register_labels(pybind11::module_&) {}
}  // namespace pycsc::bind
