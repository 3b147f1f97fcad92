"""`EvaluateConfig`: every setting of ``pycsc evaluate`` (defaults < configs/evaluate.toml < flags).

The scoring parameters default to the official ``EvaluationConfig`` values; unlike the
official evaluator they are never read from environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import ConfigError
from .align import DEFAULT_INSTANCE_CLASSES


@dataclass(frozen=True)
class EvaluateConfig:
    #: Ground-truth Zarr store (``crop<N>/<class>`` arrays).
    truth: Path | None = None
    #: Test-crop manifest CSV (crop grids). Without it the truth arrays' own attributes are the
    #: grids and ``total_evals`` is the number of truth arrays.
    manifest: Path | None = None
    #: Public results JSON; ``<stem>_extended.json``, ``<stem>.parquet`` and
    #: ``<stem>.config.toml`` are written next to it.
    output: Path = Path("results.json")
    #: Worker processes; 0 = automatic (CPUs and the cgroup memory limit decide).
    workers: int = 0
    device: Literal["auto", "cpu", "gpu"] = "auto"
    #: Where zips are extracted (a private temporary folder inside it, removed afterwards).
    work_dir: Path | None = None
    #: Classes scored as instances (all others are semantic). Resampling always uses the
    #: official default list, as the official evaluator does.
    instance_classes: tuple[str, ...] = DEFAULT_INSTANCE_CLASSES
    final_instance_ratio_cutoff: float = 10.0
    initial_instance_ratio_cutoff: float = 50.0
    instance_ratio_factor: float = 5.0
    max_overlap_edges: int = 5_000_000
    mcmf_cost_scale: int = 1_000_000
    #: Source/target voxel-count ratio above which a label is an error (official 4096).
    max_volume_size_ratio: float = 4096.0
    #: Zip limits: declared uncompressed total (official 50 GiB), per-member expansion.
    max_uncompressed_gib: float = 50.0
    max_compression_ratio: float = 1100.0
    #: Memory the evaluation may use; None = detect (cgroup limit, physical, available).
    memory_limit_gib: float | None = None
    memory_fraction: float = 0.8
    #: Below this many voxels in all, automatic mode scores in this process (no pool start-up).
    small_job_voxels: int = 1 << 25
    #: Count the NaN voxels of float predictions and warn with the count (the official
    #: ``MatchedCrop.check_nans``, off by default: one more pass over float arrays). NaN is
    #: scored as the official evaluator scores it either way.
    check_nans: bool = False
    progress: bool = True
    #: Keep tracebacks in error reasons.
    debug: bool = False

    def validate(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"`workers` must be >= 0 (0 = automatic); got {self.workers}")
        for name in ("final_instance_ratio_cutoff", "initial_instance_ratio_cutoff", "instance_ratio_factor",
                     "max_volume_size_ratio", "max_uncompressed_gib", "max_compression_ratio"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"`{name}` must be > 0; got {getattr(self, name)}")
        if self.max_overlap_edges < 1 or self.mcmf_cost_scale < 1:
            raise ConfigError("`max_overlap_edges` and `mcmf_cost_scale` must be >= 1")
        if not 0 < self.memory_fraction <= 1:
            raise ConfigError(f"`memory_fraction` must be in (0, 1]; got {self.memory_fraction}")
        if self.memory_limit_gib is not None and not self.memory_limit_gib > 0:
            raise ConfigError(f"`memory_limit_gib` must be > 0; got {self.memory_limit_gib}")
        if not self.instance_classes:
            raise ConfigError("`instance_classes` must name at least one class")

    def fingerprint(self) -> dict:
        """The settings that change scores (must agree between shards)."""
        keys = ("instance_classes", "final_instance_ratio_cutoff", "initial_instance_ratio_cutoff",
                "instance_ratio_factor", "max_overlap_edges", "mcmf_cost_scale", "max_volume_size_ratio")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(self, k)) for k in keys)}


__all__ = ["EvaluateConfig"]
