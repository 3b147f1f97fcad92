"""Pretrained weights from local files: formats, strict, channel maps (nothing downloads)."""

import pytest

torch = pytest.importorskip("torch")

from pycsc.errors import ConfigError, DataError  # noqa: E402
from pycsc.models import create_model, load_weights  # noqa: E402
from pycsc.train import checkpoint as ckpt  # noqa: E402


def _unet(out=2, base=4, seed=0):
    torch.manual_seed(seed)
    return create_model("unet", ndim=2, in_channels=1, out_channels=out, base_channels=base, depth=1)


@pytest.mark.parametrize("wrap", [lambda sd: sd, lambda sd: {"state_dict": sd}, lambda sd: {"model_state_dict": sd}])
def test_state_dict_formats_load_exactly(tmp_path, wrap):
    source = _unet(seed=1)
    torch.save(wrap(source.state_dict()), tmp_path / "w.pt")
    model = _unet(seed=2)
    report = load_weights(model, tmp_path / "w.pt")
    assert report["loaded"] == len(source.state_dict()) and not report["skipped"]
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), model.state_dict().values()))


def test_strict_mismatch_names_the_switch_and_non_strict_loads_what_fits(tmp_path):
    torch.save(_unet(base=8).state_dict(), tmp_path / "w.pt")
    with pytest.raises(ConfigError, match=r"does not fit the model: .*set weights_strict = false"):
        load_weights(_unet(), tmp_path / "w.pt")
    source = _unet(out=3, seed=1)
    torch.save(source.state_dict(), tmp_path / "other_head.pt")
    model = _unet(out=2, seed=2)
    report = load_weights(model, tmp_path / "other_head.pt", strict=False)
    assert set(report["skipped"]) == {"outc.weight", "outc.bias"}
    assert torch.equal(model.state_dict()["inc.0.weight"], source.state_dict()["inc.0.weight"])


def test_channel_map_from_a_pycsc_checkpoint(tmp_path):
    source = _unet(out=2, seed=1)
    spec = {"architecture": "unet", "ndim": 2, "classes": ["mito", "nuc"], "base_channels": 4, "depth": 1,
            "patch_shape": [1, 16, 16], "voxel_size_nm": [8, 8, 8]}
    ckpt.save({"spec": spec, "model": source.state_dict()}, tmp_path / "c.pt")
    model = _unet(out=3, seed=2)
    fresh = model.state_dict()["outc.weight"].clone()
    report = load_weights(model, tmp_path / "c.pt", channel_map={"er": "mito", "nucleus": 1},
                          channel_names=["er", "cell", "nucleus"])
    w, src = model.state_dict()["outc.weight"], source.state_dict()["outc.weight"]
    assert report["mapped"] == {"er": 0, "nucleus": 1}
    assert torch.equal(w[0], src[0]) and torch.equal(w[2], src[1]) and torch.equal(w[1], fresh[1])
    # same names in another order: copied by name without a map
    model = _unet(out=2, seed=3)
    load_weights(model, tmp_path / "c.pt", channel_names=["nuc", "mito"])
    assert torch.equal(model.state_dict()["outc.weight"][0], src[1])
    with pytest.raises(ConfigError, match=r"'golgi' is not a channel of the weights file"):
        load_weights(_unet(out=1), tmp_path / "c.pt", channel_map={"er": "golgi"}, channel_names=["er"])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_weights(_unet(), tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot be read by torch.load"):
        load_weights(_unet(), tmp_path / "junk.pt")
    torch.save({"epoch": 3}, tmp_path / "nothing.pt")
    with pytest.raises(DataError, match="holds no state_dict"):
        load_weights(_unet(), tmp_path / "nothing.pt")
