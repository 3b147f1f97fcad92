"""`csc visualize` as a user sees it: the real command's viewer, rendered by headless Chromium.

The viewer is started through the CLI entry point (in-process, so the test can read the
viewer state through the neuroglancer Python API); Chromium opens the printed URL. The
screenshot is neuroglancer's own: the browser sends it only once the viewer is ready (every
visible chunk of every layer loaded), together with the viewer state it rendered. Loading
statistics come only while chunks are still loading, so they are checked when they come.
The labels must change the picture inside the crop box and nowhere else: that checks both
that they load and that they are placed in nm where the crop is.
"""

import re
import threading

import numpy as np
import pytest

import pycsc_tests_browser as browser

neuroglancer = pytest.importorskip("neuroglancer", reason="the viz extra (neuroglancer) is not installed")

SIZE = (480, 480)
TIMEOUT_S = 240


def _screenshot(viewer, timeout_s: float = TIMEOUT_S):
    """(pixels, the viewer state the browser rendered, loading statistics or None); fails instead of
    hanging when no browser answers."""
    done = threading.Event()
    reply, stats = {}, {}

    def on_reply(s):
        reply["s"] = s
        done.set()

    # Register the callbacks before asking (Viewer.async_screenshot asks first, so statistics
    # sent at once by a fast client would find no callback).
    _screenshot.count = getattr(_screenshot, "count", 0) + 1
    screenshot_id = f"pycsc-test-{_screenshot.count}"
    viewer._screenshot_callbacks[screenshot_id] = (on_reply, lambda s: stats.__setitem__("s", s))
    viewer.config_state.retry_txn(lambda s: setattr(s, "screenshot", screenshot_id), lock=True)
    assert done.wait(timeout_s), "no screenshot from the browser within the timeout"
    return browser.png_pixels(reply["s"].screenshot.image), reply["s"].viewer_state, stats.get("s")


def _start_cli(monkeypatch, argv):
    """Run `csc visualize ARGV` in a thread until the test ends; return (viewer, printed text)."""
    from pycsc.cli import main as cli
    from pycsc.cli import visualize

    state, ready, release = {}, threading.Event(), threading.Event()

    def hold(viewer):
        state["viewer"] = viewer
        ready.set()
        release.wait(TIMEOUT_S * 2)

    monkeypatch.setattr(visualize, "wait_for_interrupt", hold)
    thread = threading.Thread(target=lambda: state.setdefault("rc", cli.main(argv)), daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT_S), "csc visualize did not start its viewer"
    return state, release, thread


def test_viewer_shows_labels_inside_the_crop_box(sim_root, chromium, monkeypatch, capsys, tmp_path):
    state, release, thread = _start_cli(monkeypatch, [
        "visualize", "--data-root", str(sim_root), "-d", "jrc_sim-1", "-c", "1", "-C", "mito,cell",
        "-k", "em,gt", "--no-browser"])
    try:
        viewer = state["viewer"]
        printed = capsys.readouterr().out
        url = re.search(r"viewer: (\S+)", printed).group(1)
        assert url == viewer.get_viewer_url() and url.startswith("http://127.0.0.1:")
        names = [layer.name for layer in viewer.state.layers]
        assert names == ["em jrc_sim-1", "gt crop1 cell", "gt crop1 mito", "crops"]
        with viewer.txn() as s:
            s.layout = "xy"
        with viewer.config_state.txn() as s:
            s.show_ui_controls = False
            s.show_panel_borders = False
            s.viewer_size = list(SIZE)
        with browser.Browser(chromium, url, size=(SIZE[0] + 200, SIZE[1] + 200)) as chrome:
            try:
                shown, rendered, stats = _screenshot(viewer)
                with viewer.txn() as s:
                    for name in names:
                        if name.startswith("gt "):
                            s.layers[name].visible = False
                em_only, rendered_em, _ = _screenshot(viewer)
            except AssertionError:
                raise AssertionError("Chromium log:\n" + chrome.log_tail()) from None
        # the browser rendered every layer (and, hiding the labels, only the EM and the boxes)
        assert [layer.name for layer in rendered.layers] == names
        assert [layer.name for layer in rendered_em.layers if layer.visible is not False] == [names[0], names[-1]]
        if stats is not None:  # sent while chunks were loading: none may have failed
            assert stats.to_json()["total"].get("visibleChunksFailed", 0) == 0

        # where the crop box falls on screen: centred, crossSectionScale global units per pixel
        s = viewer.state
        nm_per_px = s.cross_section_scale * float(min(s.dimensions.scales)) * 1e9
        box = s.layers["crops"].annotations[0]
        extent_x = (box.point_b[2] - box.point_a[2]) / nm_per_px
        extent_y = (box.point_b[1] - box.point_a[1]) / nm_per_px
        h, w = shown.shape[:2]
        x0, x1 = w / 2 - extent_x / 2, w / 2 + extent_x / 2
        y0, y1 = h / 2 - extent_y / 2, h / 2 + extent_y / 2
        yy, xx = np.mgrid[0:h, 0:w]
        inside = (xx > x0 + 3) & (xx < x1 - 3) & (yy > y0 + 3) & (yy < y1 - 3)
        outside = (xx < x0 - 3) | (xx > x1 + 3) | (yy < y0 - 3) | (yy > y1 + 3)
        assert inside.sum() > 1000 and outside.sum() > 1000

        assert shown[inside].std() > 5, "the crop region of the screenshot is blank"
        assert em_only[inside].std() > 2, "no EM texture inside the crop"
        from PIL import Image

        Image.fromarray(shown).save(tmp_path / "viewer.png")
        changed = np.abs(shown.astype(int) - em_only.astype(int)).sum(axis=2) > 12
        assert changed[inside].mean() > 0.2, "the labels do not show inside the crop box"
        assert changed[outside].mean() < 0.01, "labels drawn outside the crop box: misplaced"
    finally:
        release.set()
        thread.join(30)
    assert state.get("rc") == 0
