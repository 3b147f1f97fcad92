"""`csc evaluate --report [--compare]`: report.html and its figures, and the page in a real browser."""

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the report extra (matplotlib) is not installed")

from pycsc.cli.main import main  # noqa: E402
from pycsc.report.figures import COLOURS  # noqa: E402

import pycsc_tests_browser as browser  # noqa: E402  (loaded by tests/conftest.py)



FIGURES = ("report_overall.png", "report_semantic.png", "report_instance.png", "report_crops.png")


def _png_ok(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as im:
        im.verify()
    return path.stat().st_size > 1000


@pytest.fixture(scope="module")
def compared(scored, tmp_path_factory):
    """`csc evaluate --report --compare` on existing results (no re-scoring)."""
    folder = tmp_path_factory.mktemp("compared")
    for name in ("results.json", "results_extended.json"):
        shutil.copy(scored["results"]["eroded"].with_name(name), folder / name)
    rc = main(["evaluate", "--output", str(folder / "results.json"), "--report", "--compare",
               str(scored["results"]["background"])])
    assert rc == 0
    return folder


def test_evaluate_writes_the_report_beside_the_results(scored, tmp_path, capsys):
    out = tmp_path / "out" / "results.json"
    rc = main(["evaluate", str(scored["submission"]), "--truth", str(scored["truth"]), "--manifest",
               str(scored["manifest"]), "--output", str(out), "--workers", "1", "--no-progress", "--report"])
    assert rc == 0
    assert f"report: {out.parent / 'report.html'}" in capsys.readouterr().out
    page = (out.parent / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(images) == sorted(FIGURES)
    assert all(_png_ok(out.parent / name) for name in images)
    assert scored["oracle"]["label"] in page and "crop901" in page


def test_compare_puts_both_submissions_side_by_side(compared, scored):
    page = (compared / "report.html").read_text()
    assert f"{compared.name}/results.json" in page and "background/results.json" in page
    # per-class table: one IoU column per submission; the eroded class row shows the oracle IoU
    label = scored["oracle"]["label"]
    row = re.search(rf"<tr><td>{label}</td>(.*?)</tr>", page).group(1)
    assert f"{scored['oracle']['iou']:.4f}" in row
    assert all(_png_ok(compared / name) for name in FIGURES)


def test_report_without_matplotlib_names_the_extra(scored, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    shutil.copy(scored["results"]["eroded"], tmp_path / "results.json")
    assert main(["evaluate", "--output", str(tmp_path / "results.json"), "--report"]) == 2
    assert "pip install 'pycsc[report]'" in capsys.readouterr().err


def test_report_compare_with_a_missing_file(scored, capsys):
    assert main(["evaluate", "--output", str(scored["results"]["eroded"]), "--compare", "nope.json"]) == 2
    assert "nope.json does not exist" in capsys.readouterr().err


def _colour_pixels(pixels: np.ndarray, hex_colour: str) -> int:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels.astype(int) - rgb).max(axis=2) <= 12).sum())


def test_report_page_in_chromium(compared, chromium, tmp_path):
    """Open report.html in headless Chromium: every figure must load (broken images draw no bars)."""
    shot = tmp_path / "report.png"
    pixels = browser.screenshot_page(chromium, (compared / "report.html").as_uri(), shot, size=(1100, 2600))
    assert pixels.std() > 10, "the report renders blank"
    # the bar colours exist only inside the PNG figures, one per submission
    first, second = (_colour_pixels(pixels, c) for c in COLOURS[:2])
    assert first > 2000 and second > 500, (first, second)
