// SCAFFOLD: replaced by the matching kernel's bindings.
#include "bindings/registry.hpp"
namespace pycsc::bind {
void register_matching(pybind11::module_&) {}
}  // namespace pycsc::bind
