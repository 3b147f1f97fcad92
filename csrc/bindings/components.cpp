// SCAFFOLD: replaced by the components kernel's bindings.
#include "bindings/registry.hpp"
namespace pycsc::bind {
void register_components(pybind11::module_&) {}
}  // namespace pycsc::bind
