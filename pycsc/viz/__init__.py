"""Looking at data: ``csc visualize`` in neuroglancer (optional extra ``viz``).

:func:`build_scene` finds what to show (plain data, no neuroglancer needed);
:func:`start_viewer` serves it on 127.0.0.1; :func:`public_links` makes shareable URLs that
stream the EM from the public bucket.
"""

from .config import KINDS, VisualizeConfig
from .sources import CropBox, Scene, Volume, build_scene


def start_viewer(scene, port: int = 0):
    from .viewer import start_viewer as _start

    return _start(scene, port)


def public_links(scene, cfg):
    from .links import public_links as _links

    return _links(scene, cfg)


__all__ = ["KINDS", "VisualizeConfig", "CropBox", "Scene", "Volume", "build_scene", "start_viewer", "public_links"]
