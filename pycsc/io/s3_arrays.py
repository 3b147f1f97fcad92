"""Streaming arrays from S3 for training and prediction: tensorstore's ``s3`` kvstore driver.

The pipeline opens every array through :mod:`pycsc.data._store`; paths starting with
``s3://`` are routed here. All streamed arrays of a process share one tensorstore context:

* ``cache_pool`` bounded by ``cache_mb``: decoded chunks stay in memory, least recently used
  evicted first; arrays are opened with ``recheck_cached_data = "open"`` (the public data
  never changes under a run), so a warm chunk costs no request at all;
* ``s3_request_concurrency``: at most ``concurrency`` requests in flight;
* ``s3_request_retries``: 5xx answers, throttling and dropped or reset connections are
  retried inside tensorstore with exponential backoff (``retry_delay_s``, doubling, at most
  30 s), so a storm or a dropped connection mid-epoch delays a read but never loses it.

Settings come from :func:`configure` (train and predict call it with their ``[*.s3]``
table). They are also put in the environment variable ``PYCSC_S3_STREAM`` so that data-loader
workers started with ``spawn`` read the same settings.

Errors are :class:`~pycsc.errors.DataError` messages naming the URL and the fix: a missing
bucket, a missing array, access denied (anonymous access to a private bucket), or a request
that still failed after every retry.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from typing import Any

from ..errors import DataError
from .arrays import is_s3, split_s3

ENV_VAR = "PYCSC_S3_STREAM"

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"settings": None, "context": None}
_ATTRS: dict[str, dict] = {}
_BUCKETS_CHECKED: set[tuple[str, str | None]] = set()


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """The connection part of :class:`pycsc.config.S3StreamConfig` (plain, picklable)."""

    endpoint_url: str | None = None
    anonymous: bool = True
    region: str = "us-east-1"
    cache_mb: int = 1024
    concurrency: int = 32
    retries: int = 10
    retry_delay_s: float = 0.1


def settings_from(cfg: Any) -> StreamSettings:
    """The StreamSettings of an S3StreamConfig (or of anything with the same field names)."""
    names = [f.name for f in dataclasses.fields(StreamSettings)]
    return StreamSettings(**{n: getattr(cfg, n) for n in names if hasattr(cfg, n)})


def configure(cfg: Any) -> StreamSettings:
    """Use these settings for every array opened from now on, in this process and its children.

    Handles opened before keep their old context; the caches are reset when settings change.
    """
    settings = cfg if isinstance(cfg, StreamSettings) else settings_from(cfg)
    with _LOCK:
        if _STATE["settings"] != settings:
            _STATE["settings"], _STATE["context"] = settings, None
            _ATTRS.clear()
            from ..data import _store   # drop handles opened with the old context

            for path in [p for p in _store._ARRAYS if is_s3(p)]:
                _store._ARRAYS.pop(path, None)
        os.environ[ENV_VAR] = json.dumps(dataclasses.asdict(settings))
    return settings


def reset() -> None:
    """Forget settings, open handles and cached attributes (tests; a long-lived process
    switching endpoints). The environment variable is removed too."""
    from ..data import _store

    with _LOCK:
        _STATE.update(settings=None, context=None)
        _ATTRS.clear()
        _BUCKETS_CHECKED.clear()
        for path in [p for p in _store._ARRAYS if is_s3(p)]:
            _store._ARRAYS.pop(path, None)
        os.environ.pop(ENV_VAR, None)


def current_settings() -> StreamSettings:
    """Settings given to :func:`configure` here or in the parent process, else defaults."""
    settings = _STATE["settings"]
    if settings is None:
        text = os.environ.get(ENV_VAR)
        settings = StreamSettings(**json.loads(text)) if text else StreamSettings()
        _STATE["settings"] = settings
    return settings


def _context():
    import tensorstore as ts

    with _LOCK:
        if _STATE["context"] is None:
            s = current_settings()
            _STATE["context"] = ts.Context({
                "cache_pool": {"total_bytes_limit": int(s.cache_mb) * 1_000_000},
                "s3_request_concurrency": {"limit": int(s.concurrency)},
                "s3_request_retries": {"max_retries": int(s.retries),
                                       "initial_delay": f"{int(s.retry_delay_s * 1000)}ms",
                                       "max_delay": "30s"},
                "data_copy_concurrency": {"limit": max(2, int(s.concurrency) // 4)},
            })
        return _STATE["context"]


def kvstore(url: str) -> dict[str, Any]:
    """The tensorstore kvstore spec of an ``s3://bucket/prefix`` URL (prefix ends with ``/``)."""
    s = current_settings()
    bucket, key = split_s3(url)
    spec: dict[str, Any] = {"driver": "s3", "bucket": bucket, "path": f"{key}/" if key else "",
                            "aws_region": s.region}
    if s.endpoint_url:
        spec["endpoint"] = s.endpoint_url
    spec["aws_credentials"] = {"type": "anonymous"} if s.anonymous else {"type": "default"}
    return spec


def _where() -> str:
    return current_settings().endpoint_url or "AWS S3"


def _explain(exc: Exception, url: str, what: str) -> DataError:
    """A DataError with the cause in words, from tensorstore's status text."""
    text = str(exc).split(" [tensorstore_spec=")[0]
    if "PERMISSION_DENIED" in text or "403" in text:
        hint = ("the bucket is not public: set `s3.anonymous = false` (flag --no-s3-anonymous) and "
                "provide AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws)"
                if current_settings().anonymous else
                "the credentials in use may not read it: check AWS_PROFILE / AWS_ACCESS_KEY_ID, or "
                "use `s3.anonymous = true` for a public bucket")
        return DataError(f"access denied reading {url} ({what}) at {_where()}: {hint}")
    if "UNAUTHENTICATED" in text or "credentials" in text.lower():
        return DataError(f"no usable AWS credentials for {url} ({what}): {text}; set AWS_ACCESS_KEY_ID "
                         "and AWS_SECRET_ACCESS_KEY, or use `s3.anonymous = true` for a public bucket")
    if "retry attempts failed" in text or "UNAVAILABLE" in text or "ABORTED" in text:
        return DataError(f"reading {url} ({what}) at {_where()} still failed after "
                         f"{current_settings().retries} retries: {text}; the server is unreachable or "
                         "overloaded: rerun later or raise `s3.retries`")
    return DataError(f"cannot {what} {url} at {_where()}: {text}")


def check_bucket(url: str) -> None:
    """Raise a DataError naming the bucket when it does not exist or cannot be reached."""
    bucket, _ = split_s3(url)
    s = current_settings()
    key = (bucket, s.endpoint_url)
    if key in _BUCKETS_CHECKED:
        return
    from .s3 import S3Client
    from ..errors import FetchError

    client = S3Client(bucket, endpoint_url=s.endpoint_url, anonymous=s.anonymous, region=s.region,
                      retries=min(s.retries, 3), backoff_s=s.retry_delay_s, max_connections=2)
    try:
        client.list_prefixes("")
    except FetchError as exc:
        raise DataError(f"cannot use {url}: {exc}") from None
    _BUCKETS_CHECKED.add(key)


def read_key(url: str, key: str) -> bytes | None:
    """Bytes under `key` below the S3 prefix `url`, or None when absent."""
    import tensorstore as ts

    try:
        store = ts.KvStore.open(kvstore(url), context=_context()).result()
        result = store.read(key).result()
    except Exception as exc:      # tensorstore raises ValueError with the status inside
        raise _explain(exc, f"{url}/{key}", "read") from None
    return bytes(result.value) if result.state == "value" else None


def read_attrs(url: str) -> dict:
    """User attributes of the zarr node at `url` (v2 ``.zattrs`` or v3 ``zarr.json``), cached.

    A node without attributes reads as ``{}``, as a local node does.
    """
    cached = _ATTRS.get(url)
    if cached is not None:
        return cached
    raw = read_key(url, ".zattrs")
    if raw is not None:
        attrs = json.loads(raw)
    else:
        v3 = read_key(url, "zarr.json")
        attrs = json.loads(v3).get("attributes", {}) if v3 is not None else {}
    _ATTRS[url] = attrs
    return attrs


def read_multiscale(url: str):
    """The :class:`~pycsc.io.ngff.Multiscale` of the OME-NGFF group at `url`."""
    from .ngff import parse_multiscales

    attrs = read_attrs(url)
    if not attrs:
        check_bucket(url)
        raise DataError(f"{url} (at {_where()}) has no OME-NGFF attributes: the group does not exist "
                        "or is not a multiscale image; check the path (dataset, crop, raw_name)")
    return parse_multiscales(attrs, url)


def open_array(url: str):
    """Open the zarr v2 (or v3) array at `url` read-only through the shared cached context."""
    import tensorstore as ts

    ctx = _context()
    first_error: Exception | None = None
    for driver in ("zarr", "zarr3"):
        spec = {"driver": driver, "kvstore": kvstore(url), "recheck_cached_data": "open",
                "recheck_cached_metadata": "open"}
        try:
            return ts.open(spec, read=True, context=ctx).result()
        except Exception as exc:   # NOT_FOUND: try the other format; anything else: explain
            if "NOT_FOUND" not in str(exc):
                raise _explain(exc, url, "open array") from None
            first_error = first_error or exc
    check_bucket(url)
    raise DataError(f"no zarr array at {url} (at {_where()}): {str(first_error).split(' [')[0]}; "
                    "check the path, or fetch the data")


def exists(url: str) -> bool:
    """Whether a zarr node (group or array) exists at `url`."""
    return any(read_key(url, k) is not None for k in (".zattrs", ".zgroup", ".zarray", "zarr.json"))


__all__ = ["ENV_VAR", "StreamSettings", "settings_from", "configure", "reset", "current_settings", "kvstore",
           "check_bucket", "read_key", "read_attrs", "read_multiscale", "open_array", "exists", "is_s3"]
