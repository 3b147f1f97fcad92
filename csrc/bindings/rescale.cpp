// SCAFFOLD: replaced by the rescale kernel's bindings.
#include "bindings/registry.hpp"
namespace pycsc::bind {
void register_rescale(pybind11::module_&) {}
}  // namespace pycsc::bind
