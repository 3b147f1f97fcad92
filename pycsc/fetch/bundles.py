"""``csc fetch --zip``: the official pre-zipped bundles, downloaded resumably and extracted atomically.

The four bundles (``zip_manifest.csv``, shipped with pycsc, as the official toolbox lists
them) hold every crop with its EM, at the annotation's resolutions or all of them, with 0 or
128 voxels of padding. The official command downloads the zip and prints an ``unzip`` hint;
here:

* the download goes to ``<dest>/.<file>.part`` in ranged GETs of ``chunk_mb``; a rerun (or a
  retry after a dropped connection) continues at the first missing byte, as long as the
  remote object is unchanged (same size and ETag, kept in ``.<file>.part.json``);
* the finished file is checked against the object's ETag (the MD5 of a single-part upload,
  or the MD5 of the part MD5s of a multipart one) before it is renamed to ``<dest>/<file>``;
* it is extracted into ``<dest>/.extract-<file>/``, member paths checked, then moved into
  `dest` entry by entry; the bundle's single top folder (``data_<mode>_<pad>``) is dropped
  so that the data lands where ``csc fetch`` puts it. ``<dest>/.<file>.extracted`` marks
  the end; a rerun after that does nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .._atomic import atomic_write_bytes
from ..errors import FetchError
from ..io.arrays import split_s3
from ..io.manifest import shipped_table

MANIFEST = shipped_table("zip_manifest.csv")
MIB = 1 << 20


@dataclass(frozen=True)
class Bundle:
    """One row of the zip manifest."""

    all_resolutions: bool
    raw_padding: int
    file: str
    url: str


def read_bundles(path: str | Path = MANIFEST) -> list[Bundle]:
    """Rows of a zip manifest CSV (columns ``all_res,raw_padding,file,url``)."""
    with Path(path).open(newline="") as fh:
        return [Bundle(r["all_res"].strip().lower() == "true", int(r["raw_padding"]), r["file"].strip(),
                       r["url"].strip()) for r in csv.DictReader(fh)]


def choose_bundle(bundles: list[Bundle], all_resolutions: bool, raw_padding: int, crops: str) -> Bundle:
    """The bundle matching the flags, or a FetchError listing the choices."""
    if crops.strip().lower() != "all":
        raise FetchError(f"--zip holds every crop; --crops {crops!r} cannot be combined with it: "
                         "rerun without --zip to fetch selected crops")
    for b in bundles:
        if b.all_resolutions == all_resolutions and b.raw_padding == raw_padding:
            return b
    choices = ", ".join(f"--raw-padding {b.raw_padding}{' --all-resolutions' if b.all_resolutions else ''}"
                        for b in bundles)
    raise FetchError(f"no pre-zipped bundle for --raw-padding {raw_padding}"
                     f"{' --all-resolutions' if all_resolutions else ''}; bundles exist for: {choices}. "
                     "Rerun without --zip to fetch exactly these settings")


def etag_matches(path: Path, etag: str, size: int) -> bool:
    """Whether the file's MD5 (single part) or multipart MD5 equals the S3 ETag.

    A multipart ETag ``<md5 of part md5s>-<n>`` does not say the part size; every size in
    whole MiB that gives `n` parts is tried (uploaders use whole MiB parts).
    """
    etag = etag.strip('"')
    if "-" not in etag:
        return _md5_parts(path, max(size, 1))[0].hexdigest() == etag
    digest, _, count = etag.partition("-")
    n = int(count)
    lo = max(5 * MIB, math.ceil(size / n / MIB) * MIB) if n > 1 else size
    for part in range(lo, max(lo, math.ceil(size / max(n - 1, 1))) + MIB, MIB):
        if math.ceil(size / part) != n:
            continue
        parts = _md5_parts(path, part)
        if hashlib.md5(b"".join(p.digest() for p in parts)).hexdigest() == digest:
            return True
    return False


def _md5_parts(path: Path, part: int) -> list:
    out = []
    with path.open("rb") as fh:
        while True:
            block = fh.read(part)
            if not block and out:
                return out
            h = hashlib.md5()
            h.update(block)
            out.append(h)
            if len(block) < part:
                return out


def download_bundle(bundle: Bundle, dest: Path, *, endpoint_url=None, anonymous=True, retries=5,
                    chunk_mb: int = 16, progress: bool = True) -> Path:
    """Download `bundle` into `dest` (resuming a partial download); returns the zip's path."""
    from tqdm.auto import tqdm

    from ..io.s3 import S3Client

    bucket, key = split_s3(bundle.url)
    client = S3Client(bucket, endpoint_url=endpoint_url, anonymous=anonymous, retries=retries,
                      max_connections=2)
    final = dest / bundle.file
    info = client.head(key)
    if info is None:
        raise FetchError(f"{bundle.url} does not exist at {endpoint_url or 'AWS S3'}; the bundle list "
                         "may be outdated: rerun without --zip")
    if final.is_file() and final.stat().st_size == info.size:
        return final
    part, meta = dest / f".{bundle.file}.part", dest / f".{bundle.file}.part.json"
    dest.mkdir(parents=True, exist_ok=True)
    same = meta.is_file() and json.loads(meta.read_text()) == {"size": info.size, "etag": info.etag}
    if not same:        # a new or changed object: start over
        part.unlink(missing_ok=True)
        atomic_write_bytes(meta, json.dumps({"size": info.size, "etag": info.etag}).encode())
    offset = part.stat().st_size if part.is_file() else 0
    step = max(1, chunk_mb) * MIB
    with part.open("ab") as fh, tqdm(total=info.size, initial=offset, unit="B", unit_scale=True,
                                     desc=bundle.file, disable=not progress) as bar:
        while offset < info.size:
            data = client.get_range(key, offset, min(offset + step, info.size))
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())       # what is on disk is what a resume trusts
            offset += len(data)
            bar.update(len(data))
    if not etag_matches(part, info.etag, info.size):
        part.unlink()
        meta.unlink(missing_ok=True)
        raise FetchError(f"{bundle.file}: checksum mismatch with the ETag of {bundle.url}; the partial "
                         "file was removed, rerun to download it again")
    os.replace(part, final)
    meta.unlink(missing_ok=True)
    return final


def _safe_members(zf: zipfile.ZipFile, zip_path: Path) -> list[str]:
    names = zf.namelist()
    for name in names:
        p = Path(name)
        if p.is_absolute() or ".." in p.parts:
            raise FetchError(f"{zip_path}: member {name!r} would be written outside the destination")
    return names


def _merge(src: Path, dst: Path) -> None:
    """Move `src` to `dst`; directories are merged, files replace (one rename each)."""
    if src.is_dir() and dst.is_dir():
        for child in src.iterdir():
            _merge(child, dst / child.name)
        src.rmdir()
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


def extract_bundle(zip_path: Path, dest: Path) -> Path:
    """Extract `zip_path` into `dest` (see the module notes); returns the completion marker."""
    marker = dest / f".{zip_path.name}.extracted"
    if marker.is_file():
        return marker
    staging = dest / f".extract-{zip_path.name}"
    shutil.rmtree(staging, ignore_errors=True)       # an interrupted earlier extraction
    try:
        with zipfile.ZipFile(zip_path) as zf:
            _safe_members(zf, zip_path)
            zf.extractall(staging)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise FetchError(f"{zip_path} is not a readable zip ({exc}); delete it and rerun") from None
    top = [p for p in staging.iterdir() if p.name != "__MACOSX"]
    root = top[0] if len(top) == 1 and top[0].is_dir() and not top[0].name.endswith(".zarr") \
        and not (top[0] / f"{top[0].name}.zarr").is_dir() else staging
    for entry in sorted(root.iterdir()):
        _merge(entry, dest / entry.name)
    shutil.rmtree(staging, ignore_errors=True)
    atomic_write_bytes(marker, json.dumps({"zip": zip_path.name}).encode())
    return marker


def fetch_bundle(cfg, manifest: str | Path = MANIFEST) -> tuple[Path, Path]:
    """``csc fetch --zip`` for a :class:`~pycsc.config.FetchConfig`: (zip path, marker)."""
    bundle = choose_bundle(read_bundles(manifest), cfg.all_resolutions, cfg.raw_padding, cfg.crops)
    dest = Path(cfg.dest)
    zip_path = download_bundle(bundle, dest, endpoint_url=cfg.endpoint_url, anonymous=cfg.anonymous,
                               retries=cfg.retries, progress=cfg.progress)
    return zip_path, extract_bundle(zip_path, dest)


__all__ = ["Bundle", "MANIFEST", "read_bundles", "choose_bundle", "etag_matches", "download_bundle",
           "extract_bundle", "fetch_bundle"]
