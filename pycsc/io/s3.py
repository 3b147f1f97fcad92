"""A small S3 client for crawling and copying: listing, GET/HEAD with retries, clear errors.

boto3 does the HTTP and (when not anonymous) the signing. Retries are ours, so that the
policy is explicit and every failure names its key: 5xx answers, throttling and timeouts
or dropped connections are retried with exponential backoff and jitter; 404 is "absent"
(``None`` or a :class:`~pycsc.errors.FetchError`, as the caller asks); 403 and other 4xx
answers raise a FetchError at once. One client is safe to share between threads.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from ..errors import FetchError

T = TypeVar("T")

DEFAULT_BUCKET = "janelia-cosem-datasets"

_RETRY_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
                "Throttling", "ThrottlingException", "RequestLimitExceeded", "503", "500"}
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class ObjectInfo:
    """A listed or probed object: key, size in bytes and ETag (quotes stripped)."""

    key: str
    size: int
    etag: str


class _Absent(Exception):
    pass


class S3Client:
    """Anonymous-by-default access to one bucket on AWS or any S3-compatible endpoint.

    Parameters
    ----------
    bucket : str
        Bucket name.
    endpoint_url : str, optional
        e.g. ``http://127.0.0.1:9000`` for a local server; default AWS.
    anonymous : bool
        Unsigned requests (public buckets). False uses boto3's usual credential chain.
    max_connections : int
        HTTP connection pool size; match it to the number of threads using the client.
    retries : int
        Attempts after the first for retryable failures.
    backoff_s : float
        First backoff; doubled each attempt, with jitter, capped at 20 s.
    timeout_s : float
        Connect and read timeout of one request.
    """

    def __init__(self, bucket: str = DEFAULT_BUCKET, *, endpoint_url: str | None = None,
                 anonymous: bool = True, region: str = "us-east-1", max_connections: int = 32,
                 retries: int = 5, backoff_s: float = 0.25, timeout_s: float = 60.0):
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        self.bucket, self.endpoint_url = bucket, endpoint_url
        self.retries, self.backoff_s = int(retries), float(backoff_s)
        self.page_size = 1000
        self._sleep: Callable[[float], None] = time.sleep
        config = Config(signature_version=UNSIGNED if anonymous else None,
                        max_pool_connections=max(int(max_connections), 1),
                        retries={"total_max_attempts": 1},
                        connect_timeout=timeout_s, read_timeout=timeout_s)
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # -- the retry loop -------------------------------------------------------------------
    def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        last = ""
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except ClientError as exc:
                err = exc.response.get("Error", {})
                code = str(err.get("Code", ""))
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
                if status == 404 or code in _MISSING_CODES:
                    if code == "NoSuchBucket":
                        raise FetchError(f"bucket {self.bucket!r} does not exist at "
                                         f"{self.endpoint_url or 'AWS S3'}; check --bucket "
                                         "and --endpoint-url") from None
                    raise _Absent() from None
                if status == 403 or code in ("AccessDenied", "403"):
                    raise FetchError(
                        f"access denied (403) to {self.url(key)} during {what}; the object is "
                        "not public: check the bucket and key, or use signed requests with "
                        "credentials") from None
                if status < 500 and code not in _RETRY_CODES:
                    raise FetchError(f"{what} {self.url(key)} failed: HTTP {status} {code}: "
                                     f"{err.get('Message', '')}") from None
                last = f"HTTP {status} {code}"
            except BotoCoreError as exc:  # timeouts, refused or dropped connections, short reads
                last = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                delay = min(self.backoff_s * 2 ** attempt, 20.0) * (0.5 + random.random())
                self._sleep(delay)
        raise FetchError(f"{what} {self.url(key)} failed after {self.retries + 1} attempts; "
                         f"last error: {last}")

    # -- operations -----------------------------------------------------------------------
    def get(self, key: str, *, missing_ok: bool = False) -> bytes | None:
        """Object bytes; a missing key gives None if `missing_ok`, else a FetchError."""
        def fetch() -> bytes:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        try:
            return self._call("GET", key, fetch)
        except _Absent:
            if missing_ok:
                return None
            raise FetchError(f"{self.url(key)} does not exist (404)") from None

    def get_range(self, key: str, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of `key` (one ranged GET, retried like every request)."""
        def fetch() -> bytes:
            r = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{stop - 1}")
            data = r["Body"].read()
            if len(data) != stop - start:     # a connection cut mid-body: retry the range
                from botocore.exceptions import IncompleteReadError

                raise IncompleteReadError(actual_bytes=len(data), expected_bytes=stop - start)
            return data
        try:
            return self._call("GET", key, fetch)
        except _Absent:
            raise FetchError(f"{self.url(key)} does not exist (404)") from None

    def head(self, key: str) -> ObjectInfo | None:
        """Size and ETag of `key`, or None if absent."""
        def probe() -> ObjectInfo:
            r = self._client.head_object(Bucket=self.bucket, Key=key)
            return ObjectInfo(key, int(r["ContentLength"]), str(r.get("ETag", "")).strip('"'))
        try:
            return self._call("HEAD", key, probe)
        except _Absent:
            return None

    def _pages(self, prefix: str, delimiter: str | None):
        token = None
        while True:
            kwargs = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": self.page_size}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            try:
                page = self._call("LIST", prefix, lambda: self._client.list_objects_v2(**kwargs))
            except _Absent:
                raise FetchError(f"bucket {self.bucket!r} not found at "
                                 f"{self.endpoint_url or 'AWS S3'} (404 listing {prefix!r})") from None
            yield page
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def list_prefixes(self, prefix: str) -> list[str]:
        """Names (without `prefix` and trailing ``/``) of the "folders" right below `prefix`."""
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        out = []
        for page in self._pages(prefix, "/"):
            out += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return out

    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        """Every object below `prefix`, recursively, in key order."""
        out = []
        for page in self._pages(prefix, None):
            out += [ObjectInfo(o["Key"], int(o["Size"]), str(o.get("ETag", "")).strip('"'))
                    for o in page.get("Contents", [])]
        return out


__all__ = ["DEFAULT_BUCKET", "ObjectInfo", "S3Client"]
