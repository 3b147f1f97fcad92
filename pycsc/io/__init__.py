"""Zarr / OME-NGFF / tensorstore / S3 input and output.

``geometry``  physical boxes, voxel grids, crop <-> raw index mapping, level choice
``ngff``      OME-NGFF 0.4 multiscale metadata (0.5 read), multiscale groups
``arrays``    tensorstore reads/writes of zarr v2/v3 arrays, local or on S3
``s3``        listing and GET/HEAD with retries for crawling and fetching
``s3_arrays`` streaming arrays from S3 for training/prediction (shared cache, retries)
``s3_crawl``  what a bucket holds for the datasplit, cached on disk between runs
``manifest``  crop manifests (official CSV format, Parquet)
``classes``   the challenge's class ids, groups and instance classes

Importing this package is cheap: tensorstore, zarr, boto3 and pyarrow load on first use.
"""

from .arrays import S3Options, create_array, open_array, read_array, read_attrs, write_array
from .geometry import Box, VoxelGrid, choose_level, crop_slices_in, level_translation, map_index
from .manifest import CropRow, read_manifest, write_manifest_csv, write_manifest_parquet
from .ngff import Multiscale, ScaleLevel, pyramid, read_multiscale, write_multiscale

__all__ = [
    "S3Options", "create_array", "open_array", "read_array", "read_attrs", "write_array",
    "Box", "VoxelGrid", "choose_level", "crop_slices_in", "level_translation", "map_index",
    "CropRow", "read_manifest", "write_manifest_csv", "write_manifest_parquet",
    "Multiscale", "ScaleLevel", "pyramid", "read_multiscale", "write_multiscale",
]
