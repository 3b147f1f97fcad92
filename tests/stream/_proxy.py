"""A TCP proxy on 127.0.0.1 that cuts connections mid-response, for retry tests.

Bounded and self-stopping: it drops at most the number of responses asked for
(:meth:`DroppingProxy.drop_next`), forwards everything else unchanged, and shuts itself down
after `lifetime_s` seconds even if a test forgets to :meth:`close` it. It only ever connects
to the upstream address it was given (a local S3 server).
"""

from __future__ import annotations

import socket
import struct
import threading
import time


class DroppingProxy:
    def __init__(self, upstream_port: int, lifetime_s: float = 300.0):
        self.upstream = ("127.0.0.1", int(upstream_port))
        self._lock = threading.Lock()
        self._budget = 0
        self.dropped = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._deadline = time.monotonic() + lifetime_s
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop_next(self, count: int) -> None:
        """Reset the connection in the middle of each of the next `count` responses."""
        with self._lock:
            self._budget += int(count)

    def pending(self) -> int:
        with self._lock:
            return self._budget

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _take(self) -> bool:
        with self._lock:
            if self._budget > 0:
                self._budget -= 1
                self.dropped += 1
                return True
            return False

    def _accept(self) -> None:
        while not self._closed.is_set() and time.monotonic() < self._deadline:
            try:
                client, _ = self._sock.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=30)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, response: bool) -> None:
        try:
            while not self._closed.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if response and len(data) > 1 and self._take():
                    dst.sendall(data[: len(data) // 2])   # half a response, then a reset
                    for s in (src, dst):
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            # shutdown() wakes the other direction's blocked recv(); close() alone would not,
            # and the peer would never see the connection end.
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
