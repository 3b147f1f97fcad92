// SCAFFOLD: replaced by the overlaps kernel's bindings.
#include "bindings/registry.hpp"
namespace pycsc::bind {
void register_overlaps(pybind11::module_&) {}
}  // namespace pycsc::bind
