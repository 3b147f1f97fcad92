"""The neuroglancer state `csc visualize` serves, its public links, and the command itself."""

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from pycsc.io.ngff import pyramid, write_multiscale
from pycsc.viz import VisualizeConfig, build_scene

ng = pytest.importorskip("neuroglancer", reason="the viz extra (neuroglancer) is not installed")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def predictions(sim_root, tmp_path):
    """A probability volume for crop1 on a coarser, shifted grid (as a 16 nm model would write)."""
    template = str(tmp_path / "predictions" / "{dataset}.zarr" / "{crop}")
    group = Path(template.format(dataset="jrc_sim-1", crop="crop1")) / "mito"
    probs = np.random.default_rng(0).integers(0, 256, (10, 12, 12), dtype=np.uint8)
    write_multiscale(group, [probs], pyramid((16, 16, 16), (56, 208, 120), 1), chunks=(8, 8, 8))
    return template, probs


def test_layers_sit_at_their_translation_in_nm(sim_root, predictions):
    from pycsc.viz.viewer import apply_scene

    template, probs = predictions
    scene = build_scene(VisualizeConfig(data_root=sim_root, datasets=("jrc_sim-1",), crops=("1",),
                                        classes=("mito",), predictions=template))
    state = ng.ViewerState()
    apply_scene(state, scene, ng)
    layers = {layer.name: layer for layer in state.layers}
    assert list(layers) == ["em jrc_sim-1", "gt crop1 mito", "predictions crop1 mito", "crops"]
    assert layers["predictions crop1 mito"].type == "image" and "colormapJet" in layers["predictions crop1 mito"].shader
    assert layers["gt crop1 mito"].type == "segmentation"
    for vol in scene.volumes:
        source = layers[vol.name].source[0]
        dims = source.transform.output_dimensions
        scales_nm = np.asarray(dims.scales) * 1e9
        np.testing.assert_allclose(scales_nm, vol.voxel_size)
        offset_nm = np.asarray(source.transform.matrix)[:, 3] * scales_nm
        # the lower edge of voxel 0 is half a voxel before its centre (the translation)
        np.testing.assert_allclose(offset_nm, np.subtract(vol.translation, np.divide(vol.voxel_size, 2)))
    pred = layers["predictions crop1 mito"].source[0].url
    np.testing.assert_array_equal(pred.data[2:5, 0:12, 3:9], probs[2:5, 0:12, 3:9])
    box = layers["crops"].annotations[0]
    np.testing.assert_allclose(box.point_a, scene.boxes[0].lower_nm)
    np.testing.assert_allclose(box.point_b, scene.boxes[0].upper_nm)
    np.testing.assert_allclose(np.asarray(state.position) * 8, scene.boxes[0].centre_nm)


def test_public_links_stream_em_from_the_bucket(sim_root):
    from pycsc.viz import public_links

    cfg = VisualizeConfig(data_root=sim_root, crops=("1", "3"), classes=("mito",), kinds=("em", "gt"))
    links = public_links(build_scene(cfg), cfg)
    assert [b.crop for b, _ in links] == ["crop1", "crop3"]
    for box, url in links:
        assert url.startswith("https://neuroglancer-demo.appspot.com/#!")
        state = ng.parse_url(url)
        ds = box.dataset
        sources = {layer.name: layer.source[0].url for layer in state.layers if layer.type != "annotation"}
        assert sources == {
            f"em {ds}": f"zarr://s3://janelia-cosem-datasets/{ds}/{ds}.zarr/recon-1/em/fibsem-uint8",
            f"gt {box.crop} mito":
                f"zarr://s3://janelia-cosem-datasets/{ds}/{ds}.zarr/recon-1/labels/groundtruth/{box.crop}/mito"}
        ann = state.layers["crops"].annotations[0]
        np.testing.assert_allclose(ann.point_a, box.lower_nm)


def test_cli_serves_on_localhost_until_interrupted(sim_root):
    env = {**os.environ, "PYTHONPATH": str(REPO), "SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22", "USER": "me"}
    proc = subprocess.Popen([sys.executable, "-m", "pycsc", "visualize", "--data-root", str(sim_root), "-c", "2",
                             "-C", "mito", "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=sim_root)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving until Ctrl-C"):
                break
        text = "".join(lines)
        url = re.search(r"viewer: (http://127\.0\.0\.1:(\d+)/\S+)", text)
        assert url, text
        assert f"ssh -N -L {url.group(2)}:127.0.0.1:{url.group(2)} me@" in text
        with urllib.request.urlopen(url.group(1), timeout=60) as page:
            assert page.status == 200 and b"neuroglancer" in page.read().lower()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    assert "viewer stopped" in rest


def test_cli_links_and_errors(sim_root, capsys):
    from pycsc.cli.main import main

    assert main(["visualize", "--data-root", str(sim_root), "-c", "test", "-k", "em", "--links"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^jrc_sim-1 crop901: https://\S+#!", out, re.M)
    assert main(["visualize", "--data-root", str(sim_root), "-c", "404", "--no-browser"]) == 2
    assert "nothing to show" in capsys.readouterr().err
    assert main(["visualize", "-k", "em,labels"]) == 2
    assert "`kinds` must be among" in capsys.readouterr().err


def test_cli_reads_a_pipeline_config(tmp_path):
    import argparse

    from pycsc.cli.visualize import load_config

    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text('[predict]\noutput = "out/pred/{dataset}/{crop}"\ndata_root = "/data"\n'
                        '[process]\noutput = "out/proc/{dataset}/{crop}"\n')
    args = argparse.Namespace(config=str(cfg_file), datasets=None, crops=["1,2", "3"], classes=None, kinds=None,
                              data_root=None, manifest=None, predictions=None, processed=None, submission=None,
                              em_level=None, port=None, link_prefix=None)
    cfg = load_config(args)
    assert (cfg.predictions, cfg.processed, str(cfg.data_root)) == ("out/pred/{dataset}/{crop}",
                                                                    "out/proc/{dataset}/{crop}", "/data")
    assert cfg.crops == ("1", "2", "3")


def test_float16_probabilities_are_served_as_float32(sim_root, tmp_path):
    """neuroglancer has no float16: `csc predict --dtype float16` output is converted per chunk."""
    from pycsc.viz.viewer import apply_scene

    template = str(tmp_path / "pred" / "{dataset}.zarr" / "{crop}")
    probs = np.linspace(0, 1, 8 * 8 * 8, dtype=np.float16).reshape(8, 8, 8)
    write_multiscale(Path(template.format(dataset="jrc_sim-1", crop="crop1")) / "mito", [probs],
                     pyramid((8, 8, 8), (52, 204, 116), 1), chunks=(8, 8, 8))
    scene = build_scene(VisualizeConfig(data_root=sim_root, crops=("1",), classes=("mito",),
                                        kinds=("predictions",), predictions=template))
    state = ng.ViewerState()
    apply_scene(state, scene, ng)
    layer = state.layers["predictions crop1 mito"]
    assert "range=[0, 1]" in layer.shader
    local = layer.source[0].url
    assert local.data_type == "float32"
    np.testing.assert_array_equal(local.data[1:3, :, :], probs[1:3].astype(np.float32))
