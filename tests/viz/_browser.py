"""Headless Chromium for the browser tests (a test helper, not part of pycsc).

Debian's ``chromium`` package (``.ci/run`` installs it) renders WebGL2 through SwiftShader
(software), which is what neuroglancer needs; no GPU, display or sandbox is used.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--mute-audio", "--hide-scrollbars")


def find_chromium() -> str | None:
    """The Chromium executable ($PYCSC_CHROMIUM, else the first of NAMES on PATH)."""
    env = os.environ.get("PYCSC_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium showing `url` until closed (a context manager)."""

    def __init__(self, executable: str, url: str, size=(1000, 800)):
        self._profile = tempfile.mkdtemp(prefix="pycsc-chromium-")
        self._log = open(Path(self._profile) / "chromium.log", "w")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={size[0]},{size[1]}", url],
            stdout=subprocess.DEVNULL, stderr=self._log)

    def log_tail(self) -> str:
        self._log.flush()
        return (Path(self._profile) / "chromium.log").read_text()[-2000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def screenshot_page(executable: str, url: str, dest: Path, size=(1000, 2400), budget_ms: int = 20000,
                    timeout_s: float = 180) -> np.ndarray:
    """Load `url`, let it settle for `budget_ms` of virtual time, write a PNG to `dest`; return RGB pixels.

    With a virtual-time budget Chromium waits for the page's resources (images included)
    instead of a wall-clock delay, so a slow machine only takes longer, never differs.
    """
    profile = tempfile.mkdtemp(prefix="pycsc-chromium-")
    try:
        subprocess.run([executable, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                        f"--virtual-time-budget={budget_ms}", f"--screenshot={dest}", url],
                       check=True, timeout=timeout_s, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return png_pixels(dest.read_bytes())


def png_pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
