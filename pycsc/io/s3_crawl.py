"""What a bucket holds for the datasplit (datasets, crops, classes, s0 voxel sizes), cached.

Listing the public bucket costs thousands of requests (one listing per crop, one metadata
read per class), so the result is kept on disk, one JSON file per dataset below
``<cache_dir>/<digest of endpoint and root>/``; a restart reads those files instead of the
bucket. ``refresh=True`` lists again (and rewrites the files). Files are written atomically,
so an interrupted crawl leaves whole datasets cached and the rest to crawl on the next run.

Layout crawled (spec: data.md)::

    <root>/<dataset>/<dataset>.zarr/recon-1/labels/groundtruth/crop<N>/<class>/.zattrs
    <root>/<dataset>/<dataset>.zarr/recon-1/<raw_name>/.zattrs          (EM present?)
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .._atomic import atomic_write_bytes
from ..errors import DataError, FetchError
from .arrays import split_s3
from .s3_arrays import StreamSettings

FORMAT = 1
ALIGNMENT = "recon-1"


@dataclass(frozen=True)
class CrawledCrop:
    """One ground-truth crop on S3: its classes and each class's s0 voxel size (zyx nm)."""

    dataset: str
    crop: str                                   # "crop234"
    classes: dict                               # class -> (z, y, x) voxel size of level 0


@dataclass(frozen=True)
class CrawledDataset:
    name: str
    has_em: bool
    crops: tuple[CrawledCrop, ...]


def _client(url: str, settings: StreamSettings):
    from .s3 import S3Client

    bucket, _ = split_s3(url)
    return S3Client(bucket, endpoint_url=settings.endpoint_url, anonymous=settings.anonymous,
                    region=settings.region, max_connections=settings.concurrency,
                    retries=settings.retries, backoff_s=settings.retry_delay_s)


def cache_folder(url: str, settings: StreamSettings, cache_dir: str | Path) -> Path:
    """The cache folder of one (endpoint, root URL) pair."""
    ident = f"{settings.endpoint_url or 'aws'}|{url.rstrip('/')}"
    return Path(cache_dir) / hashlib.sha1(ident.encode()).hexdigest()[:16]


def _s0_voxel_size(attrs_bytes: bytes | None, where: str) -> tuple[float, ...] | None:
    from .ngff import parse_multiscales

    if attrs_bytes is None:
        return None
    try:
        ms = parse_multiscales(json.loads(attrs_bytes), where)
    except (DataError, ValueError, KeyError):
        return None
    return tuple(float(v) for v in ms.levels[0].voxel_size[-3:])


def _crawl_dataset(client, prefix: str, dataset: str, raw_name: str, pool) -> CrawledDataset:
    root = f"{prefix}{dataset}/{dataset}.zarr/{ALIGNMENT}/"
    has_em = client.get(f"{root}{raw_name.strip('/')}/.zattrs", missing_ok=True) is not None
    gt = f"{root}labels/groundtruth/"
    crops = [c for c in client.list_prefixes(gt) if c.startswith("crop")]
    classes_per_crop = list(pool.map(lambda c: client.list_prefixes(f"{gt}{c}/"), crops))
    jobs = [(c, k) for c, ks in zip(crops, classes_per_crop) for k in ks if k != "all"]
    sizes = list(pool.map(lambda j: _s0_voxel_size(
        client.get(f"{gt}{j[0]}/{j[1]}/.zattrs", missing_ok=True), client.url(f"{gt}{j[0]}/{j[1]}")), jobs))
    found: dict[str, dict] = {c: {} for c in crops}
    for (crop, cls), vs in zip(jobs, sizes):
        if vs is not None:       # a folder without multiscale metadata is not a class group
            found[crop][cls] = vs
    return CrawledDataset(dataset, has_em, tuple(CrawledCrop(dataset, c, found[c]) for c in crops))


def _to_json(d: CrawledDataset) -> bytes:
    return json.dumps({"format": FORMAT, "name": d.name, "has_em": d.has_em,
                       "crops": {c.crop: {k: list(v) for k, v in c.classes.items()} for c in d.crops}},
                      indent=1).encode()


def _from_json(data: bytes) -> CrawledDataset | None:
    doc = json.loads(data)
    if doc.get("format") != FORMAT:
        return None
    crops = tuple(CrawledCrop(doc["name"], c, {k: tuple(v) for k, v in classes.items()})
                  for c, classes in doc["crops"].items())
    return CrawledDataset(doc["name"], bool(doc["has_em"]), crops)


def crawl(url: str, settings: StreamSettings, *, datasets=("*",), raw_name: str = "em/fibsem-uint8",
          cache_dir: str | Path = ".pycsc_cache/crawl", refresh: bool = False) -> list[CrawledDataset]:
    """Datasets below the S3 root `url` matching the glob patterns `datasets`, sorted by name.

    Raises
    ------
    DataError
        The bucket does not exist, access is denied, or requests failed after all retries.
    """
    bucket, key = split_s3(url)
    prefix = f"{key}/" if key else ""
    folder = cache_folder(url, settings, cache_dir)
    client = _client(url, settings)
    try:
        names_file = folder / f"_datasets.{raw_name.replace('/', '_')}.json"
        if names_file.is_file() and not refresh:
            names = json.loads(names_file.read_bytes())
        else:
            names = sorted(client.list_prefixes(prefix))
            atomic_write_bytes(names_file, json.dumps(names).encode())
        wanted = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in datasets)]
        out = []
        with ThreadPoolExecutor(max(1, min(settings.concurrency, 16))) as pool:
            for name in wanted:
                path = folder / f"{name}.{raw_name.replace('/', '_')}.json"
                cached = _from_json(path.read_bytes()) if path.is_file() and not refresh else None
                if cached is None:
                    cached = _crawl_dataset(client, prefix, name, raw_name, pool)
                    atomic_write_bytes(path, _to_json(cached))
                out.append(cached)
    except FetchError as exc:
        raise DataError(f"crawling {url}: {exc}") from None
    return out


__all__ = ["CrawledCrop", "CrawledDataset", "cache_folder", "crawl"]
