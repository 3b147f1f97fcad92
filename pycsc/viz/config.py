"""`VisualizeConfig`: every setting of ``csc visualize`` (defaults < ``--config`` TOML < flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import ConfigError

KINDS = ("em", "gt", "predictions", "processed", "submission")
DEFAULT_LINK_PREFIX = "https://neuroglancer-demo.appspot.com/"
BUCKET = "janelia-cosem-datasets"


@dataclass(frozen=True)
class VisualizeConfig:
    #: Folder holding ``<dataset>/<dataset>.zarr`` (what ``csc fetch`` / ``csc simulate`` write).
    data_root: Path = Path("data")
    #: Dataset names or glob patterns.
    datasets: tuple[str, ...] = ("*",)
    #: Crop ids (``234`` or ``crop234``), ``test`` (the manifest's test crops) or ``*`` (every local crop).
    crops: tuple[str, ...] = ("*",)
    #: Classes to show; empty = every class found.
    classes: tuple[str, ...] = ()
    #: Layer kinds: em, gt, predictions, processed, submission.
    kinds: tuple[str, ...] = ("em", "gt", "predictions", "processed")
    #: Test-crop manifest CSV (for ``crops = test`` and to place submission crops); default:
    #: ``<data_root>/test_crop_manifest.csv`` when it exists.
    manifest: Optional[Path] = None
    #: Prediction group template (as ``csc predict`` writes).
    predictions: str = "predictions/{dataset}.zarr/{crop}"
    #: Post-processed group template (as ``csc process`` writes).
    processed: str = "processed/{dataset}.zarr/{crop}"
    #: Submission .zip or .zarr (kind ``submission``).
    submission: Optional[Path] = None
    #: EM scale level to serve (``s0``, ``s1``, ...); default: the level matching the crops' voxel size.
    em_level: Optional[str] = None
    #: Port of the local viewer (0 = any free port); it is always bound to 127.0.0.1.
    port: int = 0
    #: Neuroglancer client that ``--links`` URLs open in.
    link_prefix: str = DEFAULT_LINK_PREFIX

    def __post_init__(self):
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise ConfigError(f"`kinds` must be among {', '.join(KINDS)}; got {', '.join(bad)}")
        if not self.kinds:
            raise ConfigError("`kinds` is empty; name at least one of " + ", ".join(KINDS))
        if "submission" in self.kinds and self.submission is None:
            raise ConfigError("kind `submission` needs `submission` (--submission PATH.zip or .zarr)")
        if not 0 <= self.port < 65536:
            raise ConfigError(f"`port` must be 0..65535; got {self.port}")
        for key in ("predictions", "processed"):
            if "{crop}" not in getattr(self, key):
                raise ConfigError(f"`{key}` must contain '{{crop}}'; got {getattr(self, key)!r}")


__all__ = ["VisualizeConfig", "KINDS", "BUCKET", "DEFAULT_LINK_PREFIX"]
