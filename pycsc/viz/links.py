"""Shareable neuroglancer links whose layers stream from the public bucket (``--links``).

No local server is involved: EM and ground-truth layers point at the OME-NGFF groups of
``s3://janelia-cosem-datasets`` (the same paths the official manifest's ``em_url`` and
``crop_url`` columns hold), which neuroglancer places by their own scale and translation.
Local predictions cannot travel in a link; the crop boxes do (inline annotations).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .config import BUCKET, VisualizeConfig
from .sources import RAW_GROUP, CropBox, Scene
from .viewer import FIT_PIXELS, boxes_layer, coordinate_space, neuroglancer_module


def em_url(dataset: str, bucket: str = BUCKET) -> str:
    """``s3://janelia-cosem-datasets/<ds>/<ds>.zarr/recon-1/em/fibsem-uint8``."""
    return f"s3://{bucket}/{dataset}/{dataset}.zarr/{RAW_GROUP}"


def crop_url(dataset: str, crop: str, label: str, bucket: str = BUCKET) -> str:
    return f"s3://{bucket}/{dataset}/{dataset}.zarr/recon-1/labels/groundtruth/{crop}/{label}"


def _state(ng, box: CropBox, labels: Sequence[str], boxes: Sequence[CropBox], voxel_nm: np.ndarray):
    state = ng.ViewerState()
    state.dimensions = coordinate_space(ng, voxel_nm)
    state.display_dimensions = ["x", "y", "z"]
    state.layers[f"em {box.dataset}"] = ng.ImageLayer(source=f"zarr://{em_url(box.dataset)}")
    for label in labels:
        state.layers[f"gt {box.crop} {label}"] = ng.SegmentationLayer(
            source=f"zarr://{crop_url(box.dataset, box.crop, label)}")
    state.layers["crops"] = boxes_layer(ng, [b for b in boxes if b.dataset == box.dataset])
    state.position = (box.centre_nm / voxel_nm).tolist()
    extent = float(np.max(np.asarray(box.upper_nm) - np.asarray(box.lower_nm)))
    state.cross_section_scale = extent / FIT_PIXELS / float(np.min(voxel_nm))
    state.layout = "4panel"
    return state


def public_links(scene: Scene, cfg: VisualizeConfig) -> list[tuple[CropBox, str]]:
    """One URL per crop box of `scene`: EM (and, with kind ``gt``, the crop's classes) from the bucket."""
    ng = neuroglancer_module()
    voxel_nm = np.asarray(scene.finest_voxel_nm, float)
    out = []
    for box in scene.boxes:
        if not box.dataset:
            continue
        labels = sorted({v.name.split(" ", 2)[2] for v in scene.volumes
                         if v.kind == "gt" and v.crop == box.crop and v.dataset == box.dataset})
        if "gt" not in cfg.kinds:
            labels = []
        out.append((box, ng.to_url(_state(ng, box, labels, scene.boxes, voxel_nm), prefix=cfg.link_prefix)))
    return out


__all__ = ["public_links", "em_url", "crop_url"]
