"""A local neuroglancer viewer of a :class:`~pycsc.viz.sources.Scene` (the ``viz`` extra).

The server binds 127.0.0.1 only: the data never leaves the machine, and on a cluster node it
is reached through an SSH tunnel (:func:`ssh_hint`). Every layer is placed in one global
coordinate space in nm: a source of voxel size ``vs`` is shifted by ``edge / vs`` voxels
(``edge = translation - vs/2``, neuroglancer puts voxel ``i`` on ``[i, i+1)``), so EM,
labels and predictions at different resolutions line up.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Sequence

import numpy as np

from ..errors import BackendUnavailableError
from .arrays import LazyVolume, image_dtype, open_volume_array, segmentation_dtype
from .sources import CropBox, Scene, Volume

AXES = ("z", "y", "x")
#: Probabilities: transparent where low, jet colours where high.
PROBABILITY_SHADER = """#uicontrol invlerp normalized(range=[0, {top}])
void main() {{
  float v = normalized();
  emitRGBA(vec4(colormapJet(v), v));
}}
"""
#: Screen pixels the first crop spans on opening (its surroundings stay in view).
FIT_PIXELS = 250


def neuroglancer_module():
    try:
        import neuroglancer
    except ImportError:
        raise BackendUnavailableError(
            "csc visualize needs neuroglancer: pip install 'pycsc[viz]' (or pip install neuroglancer)") from None
    return neuroglancer


def coordinate_space(ng, voxel_size: Sequence[float]):
    return ng.CoordinateSpace(names=list(AXES), units="nm", scales=[float(v) for v in voxel_size])


def _source(ng, vol: Volume):
    dims = coordinate_space(ng, vol.voxel_size)
    if vol.render == "segmentation":
        data = LazyVolume(vol.location, segmentation_dtype(open_volume_array(vol.location).dtype))
        kind = "segmentation"
    else:
        data = LazyVolume(vol.location, image_dtype(open_volume_array(vol.location).dtype))
        kind = "image"
    local = ng.LocalVolume(data, dimensions=dims, volume_type=kind)
    offset = vol.edge_nm / np.asarray(vol.voxel_size, float)
    matrix = [[1.0 if r == c else 0.0 for c in range(3)] + [float(offset[r])] for r in range(3)]
    transform = ng.CoordinateSpaceTransform(output_dimensions=dims, matrix=matrix)
    return ng.LayerDataSource(url=local, transform=transform)


def _layer(ng, vol: Volume):
    source = _source(ng, vol)
    if vol.render == "segmentation":
        return ng.SegmentationLayer(source=source)
    if vol.render == "probability":
        top = 1 if np.dtype(open_volume_array(vol.location).dtype).kind == "f" else 255
        return ng.ImageLayer(source=source, shader=PROBABILITY_SHADER.format(top=top))
    return ng.ImageLayer(source=source)


def boxes_layer(ng, boxes: Sequence[CropBox]):
    layer = ng.LocalAnnotationLayer(dimensions=coordinate_space(ng, (1, 1, 1)),
                                    annotation_color="#ffff00")
    for i, box in enumerate(boxes):
        layer.annotations.append(ng.AxisAlignedBoundingBoxAnnotation(
            id=f"box{i}", point_a=list(box.lower_nm), point_b=list(box.upper_nm),
            description=f"{box.dataset} {box.crop}".strip()))
    return layer


def apply_scene(state: Any, scene: Scene, ng=None) -> None:
    """Fill a neuroglancer ``ViewerState`` with the scene's layers, boxes and a view of the first crop."""
    ng = ng or neuroglancer_module()
    global_vs = np.asarray(scene.finest_voxel_nm, float)
    state.dimensions = coordinate_space(ng, global_vs)
    state.display_dimensions = ["x", "y", "z"]
    for vol in scene.volumes:
        state.layers[vol.name] = _layer(ng, vol)
    if scene.boxes:
        state.layers["crops"] = boxes_layer(ng, scene.boxes)
        first = scene.boxes[0]
        state.position = (first.centre_nm / global_vs).tolist()
        extent_nm = float(np.max(np.asarray(first.upper_nm) - np.asarray(first.lower_nm)))
        # crossSectionScale is global-space units per screen pixel
        state.cross_section_scale = extent_nm / FIT_PIXELS / float(np.min(global_vs))
    state.layout = "4panel"


def start_viewer(scene: Scene, port: int = 0) -> Any:
    """A running neuroglancer viewer showing `scene`, served on 127.0.0.1:`port` (0 = any free port)."""
    ng = neuroglancer_module()
    ng.set_server_bind_address("127.0.0.1", int(port))
    viewer = ng.Viewer()
    with viewer.txn() as state:
        apply_scene(state, scene, ng)
    return viewer


def ssh_hint(url: str) -> str | None:
    """The ``ssh -L`` line that reaches the viewer from a laptop, when running on a remote host."""
    if not (os.environ.get("SSH_CONNECTION") or os.environ.get("SLURM_JOB_ID") or os.environ.get("LSB_JOBID")):
        return None
    from urllib.parse import urlparse

    port = urlparse(url).port
    host = socket.getfqdn()
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "you"
    return f"ssh -N -L {port}:127.0.0.1:{port} {user}@{host}   (then open {url} on your machine)"


__all__ = ["start_viewer", "apply_scene", "boxes_layer", "coordinate_space", "ssh_hint", "neuroglancer_module",
           "PROBABILITY_SHADER", "FIT_PIXELS"]
