"""A local S3-compatible server for tests and benchmarks (needs the ``test`` extra: moto).

:class:`LocalS3Server` serves moto's S3 on ``127.0.0.1`` at an OS-assigned port, in a
thread of this process or (``subprocess=True``, so that server and client do not share one
interpreter lock) in a child process. A WSGI layer in front of moto can add a fixed latency
per request and inject failures (5xx answers, 403 for chosen keys), to exercise retries and
error messages. :func:`upload_tree` publishes a local folder as public-read objects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


class FaultInjector:
    """WSGI middleware: optional latency, the next N requests failing, forbidden keys."""

    def __init__(self, app, latency_s: float = 0.0):
        self.app, self.latency_s = app, latency_s
        self._lock = threading.Lock()
        self._fail: list[tuple[int, str, int]] = []     # (remaining, substring, status)
        self.forbidden: set[str] = set()
        self.requests = 0

    def reset(self) -> None:
        """No latency, no pending failures, nothing forbidden."""
        with self._lock:
            self._fail.clear()
            self.forbidden.clear()
            self.latency_s = 0.0

    def fail_next(self, count: int, status: int = 503, path_contains: str = "") -> None:
        with self._lock:
            self._fail.append((count, path_contains, status))

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        with self._lock:
            self.requests += 1
            status = None
            for i, (left, sub, code) in enumerate(self._fail):
                if left > 0 and sub in path:
                    self._fail[i] = (left - 1, sub, code)
                    status = code
                    break
        if self.latency_s:
            time.sleep(self.latency_s)
        if status is None and any(f in path for f in self.forbidden):
            status = 403
        if status is not None:
            body = (f"<Error><Code>{'AccessDenied' if status == 403 else 'ServiceUnavailable'}"
                    f"</Code><Message>injected</Message></Error>").encode()
            start_response(f"{status} Injected", [("Content-Type", "application/xml"),
                                                  ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


class LocalS3Server:
    """moto S3 on 127.0.0.1:<free port>; use as a context manager or start()/stop()."""

    def __init__(self, latency_s: float = 0.0, subprocess: bool = False):
        self.latency_s, self.subprocess = latency_s, subprocess
        self.faults: FaultInjector | None = None
        self.port: int | None = None
        self._server = self._thread = self._proc = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LocalS3Server":
        if self.subprocess:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "pycsc.fetch.testing", str(self.latency_s)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
            self.port = int(self._proc.stdout.readline())
            return self
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        self.faults = FaultInjector(DomainDispatcherApplication(create_backend_app), self.latency_s)
        self._server = make_server("127.0.0.1", 0, self.faults, threaded=True, request_handler=Quiet)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
            self._proc = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=30)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def admin_client(self):
        """A signed boto3 client (any credentials work with moto) for setting up buckets."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(max_pool_connections=16))


def upload_tree(client, bucket: str, root: Path, prefix: str = "", public: bool = True,
                workers: int = 8) -> list[str]:
    """Upload every file below `root` as ``<prefix><relative posix path>``; returns the keys."""
    root = Path(root)
    try:
        client.create_bucket(Bucket=bucket, **({"ACL": "public-read"} if public else {}))
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    files = sorted(p for p in root.rglob("*") if p.is_file())
    keys = [prefix + p.relative_to(root).as_posix() for p in files]
    extra = {"ACL": "public-read"} if public else {}

    def put(args):
        path, key = args
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **extra)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, zip(files, keys)))
    return keys


def _serve_forever(latency_s: float) -> None:
    server = LocalS3Server(latency_s).start()
    print(server.port, flush=True)
    sys.stdin.read()          # until the parent closes our stdin
    server.stop()


if __name__ == "__main__":
    _serve_forever(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)


__all__ = ["FaultInjector", "LocalS3Server", "upload_tree"]
