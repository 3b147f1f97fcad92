"""Zarr / OME-NGFF / tensorstore / S3 input and output."""
