// pycsc._core.threshold_components / apply_id_table: the native face of pycsc.process.segment.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "bindings/array_util.hpp"
#include "bindings/registry.hpp"
#include "segment.hpp"

namespace pycsc::bind {
namespace {

py::array to_numpy(std::vector<int64_t>&& v) {
  auto* heap = new std::vector<int64_t>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<int64_t>*>(p); });
  return py::array_t<int64_t>({static_cast<py::ssize_t>(heap->size())}, heap->data(), owner);
}

py::tuple threshold_components_py(py::array data, int cutoff, int connectivity, py::object core,
                                  bool force_wide, bool in_place, py::object ids_out) {
  require_ndim(data, "data", 3, 3);
  require_c_contiguous(data, "data");
  if (data.dtype().kind() != 'u' || data.dtype().itemsize() != 1)
    throw py::type_error("`data` must be uint8; got " + std::string(py::str(data.dtype())));
  if (cutoff < 1 || cutoff > 255)
    throw std::invalid_argument("`cutoff` must be in 1..255 (foreground = data >= cutoff); got " +
                                std::to_string(cutoff));
  const int64_t sz = data.shape(0), sy = data.shape(1), sx = data.shape(2);
  int64_t cz = sz, cy = sy, cx = sx;
  if (!core.is_none()) {
    const auto c = core.cast<py::sequence>();
    if (c.size() != 3) throw std::invalid_argument("`core` must be 3 integers (z, y, x)");
    cz = c[0].cast<int64_t>();
    cy = c[1].cast<int64_t>();
    cx = c[2].cast<int64_t>();
  }
  const uint64_t voxels = static_cast<uint64_t>(sz) * sy * sx;
  const bool wide = force_wide || voxels > std::numeric_limits<uint32_t>::max();
  // numpy.zeros hands back untouched calloc pages: the kernel writes foreground only. A caller
  // labelling many volumes hands in a zero-filled buffer instead (fresh pages are costly).
  py::array ids;
  if (ids_out.is_none()) {
    ids = py::module_::import("numpy").attr("zeros")(
        data.attr("shape"), wide ? py::dtype::of<uint64_t>() : py::dtype::of<uint32_t>());
  } else {
    ids = ids_out.cast<py::array>();
    const bool ok = ids.ndim() == 3 && ids.shape(0) == sz && ids.shape(1) == sy &&
                    ids.shape(2) == sx && (ids.flags() & py::array::c_style) && ids.writeable() &&
                    ids.dtype().kind() == 'u' && ids.dtype().itemsize() == (wide ? 8 : 4);
    if (!ok)
      throw std::invalid_argument(std::string("`ids_out` must be a writable C-contiguous ") +
                                  (wide ? "uint64" : "uint32") + " array of the data's shape");
  }
  ObjectStats stats;
  uint64_t n;
  {
    if (in_place && !data.writeable())
      throw std::invalid_argument("`data` must be writable with in_place=True");
    // Not in place, the kernel only reads the data.
    auto* in = static_cast<uint8_t*>(const_cast<void*>(data.data()));
    py::gil_scoped_release release;
    n = wide ? threshold_components<uint64_t>(in, static_cast<uint8_t>(cutoff), in_place,
                                              static_cast<uint64_t*>(ids.mutable_data()), sz, sy,
                                              sx, connectivity, stats, cz, cy, cx)
             : threshold_components<uint32_t>(in, static_cast<uint8_t>(cutoff), in_place,
                                              static_cast<uint32_t*>(ids.mutable_data()), sz, sy,
                                              sx, connectivity, stats, cz, cy, cx);
  }
  return py::make_tuple(ids, n, to_numpy(std::move(stats.sizes)), to_numpy(std::move(stats.first)));
}

py::array apply_id_table_py(py::array ids, const py::array& table, py::object mask_obj,
                            bool clear_ids) {
  if (clear_ids && !ids.writeable())
    throw std::invalid_argument("`ids` must be writable with clear_ids=True");
  require_c_contiguous(ids, "ids");
  const uint8_t* mask = nullptr;
  py::array mask_arr;
  if (!mask_obj.is_none()) {
    mask_arr = mask_obj.cast<py::array>();
    require_c_contiguous(mask_arr, "mask");
    if (mask_arr.dtype().itemsize() != 1 || mask_arr.size() != ids.size())
      throw std::invalid_argument("`mask` must be a uint8 array of the ids' shape");
    mask = static_cast<const uint8_t*>(mask_arr.data());
  }
  require_ndim(table, "table", 1, 1);
  require_c_contiguous(table, "table");
  const auto id_size = ids.dtype().itemsize();
  if (ids.dtype().kind() != 'u' || (id_size != 4 && id_size != 8))
    throw py::type_error("`ids` must be uint32 or uint64; got " + std::string(py::str(ids.dtype())));
  if (table.dtype().kind() != 'u')
    throw py::type_error("`table` must have an unsigned dtype; got " +
                         std::string(py::str(table.dtype())));
  py::array out = py::module_::import("numpy").attr("zeros")(ids.attr("shape"), table.dtype());
  const int64_t n = static_cast<int64_t>(ids.size()), m = static_cast<int64_t>(table.size());
  auto run = [&](auto id_tag) {
    using Idx = decltype(id_tag);
    Idx* in = static_cast<Idx*>(const_cast<void*>(ids.data()));  // written only with clear_ids
    dispatch_integer(table, "table", [&](auto tag) {
      using U = decltype(tag);
      if constexpr (std::is_unsigned_v<U>) {
        const U* t = static_cast<const U*>(table.data());
        U* o = static_cast<U*>(out.mutable_data());
        py::gil_scoped_release release;
        apply_id_table<Idx, U>(in, mask, n, t, m, o, clear_ids);
      }
      return 0;
    });
  };
  if (ids.dtype().itemsize() == 4)
    run(uint32_t{});
  else
    run(uint64_t{});
  return out;
}

}  // namespace

void register_segment(py::module_& m) {
  m.def("threshold_components", &threshold_components_py, py::arg("data"), py::arg("cutoff"),
        py::arg("connectivity"), py::arg("core") = py::none(), py::arg("force_wide") = false,
        py::arg("in_place") = false, py::arg("ids_out") = py::none(),
        "Connected components of `data >= cutoff` (uint8, C-contiguous 3D; connectivity 6/18/26).\n"
        "Returns (ids, n, sizes, first): uint32 ids (uint64 above 2^32 - 1 voxels or with\n"
        "`force_wide`) numbered 1..n in raster order as cc3d, voxels per id and the linear index\n"
        "of each id's first voxel (both int64[n + 1]; entry 0 is the background), counted over\n"
        "the leading box `core` (z, y, x) only (default: all), first as an index into that box.\n"
        "`in_place` overwrites `data` with the 0/1 mask instead of allocating one; `ids_out`\n"
        "(zero-filled, uint32 or uint64 as the ids would be) is used instead of a new array.\n"
        "Internal: use pycsc.process.segment.");
  m.def("apply_id_table", &apply_id_table_py, py::arg("ids"), py::arg("table"),
        py::arg("mask") = py::none(), py::arg("clear_ids") = false,
        "table[ids] into a new array of the table's unsigned dtype (table[0] must be 0).\n"
        "`mask` (uint8, non-zero exactly where ids are) skips reading background ids;\n"
        "`clear_ids` resets `ids` to zeros on the way (for reuse as `ids_out`).\n"
        "Internal: use pycsc.process.segment.");
}

}  // namespace pycsc::bind
