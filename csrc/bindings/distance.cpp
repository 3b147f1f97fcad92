// SCAFFOLD: replaced by the distance kernel's bindings.
#include "bindings/registry.hpp"
namespace pycsc::bind {
void register_distance(pybind11::module_&) {}
}  // namespace pycsc::bind
