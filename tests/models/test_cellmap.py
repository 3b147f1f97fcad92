"""``cellmap_cosem``: a COSEM network loaded through cellmap-models (a stand-in module here:
the real package downloads its weights, and tests never download)."""

import sys
import types

import pytest

torch = pytest.importorskip("torch")

from pycsc.errors import ConfigError  # noqa: E402
from pycsc.models import create_model  # noqa: E402


class FakeCosem(torch.nn.Module):
    """The shape of cellmap-models' Architecture: backbone (x2 up-sampling) + 1x1 prediction head."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Sequential(torch.nn.Upsample(scale_factor=2), torch.nn.Conv3d(1, 6, 3))
        self.prediction_head = torch.nn.Conv3d(6, 14, 1)

    def forward(self, x):
        return self.prediction_head(self.backbone(x))


@pytest.fixture
def fake_cellmap(monkeypatch):
    loaded = []

    def load_model(name):
        if name != "setup04/1820500":
            raise ValueError(f"Model {name} not found")
        torch.manual_seed(0)
        loaded.append(FakeCosem())
        return loaded[-1]

    cosem = types.ModuleType("cellmap_models.pytorch.cosem")
    cosem.load_model = load_model
    for name, module in {"cellmap_models": types.ModuleType("cellmap_models"),
                         "cellmap_models.pytorch": types.ModuleType("cellmap_models.pytorch"),
                         "cellmap_models.pytorch.cosem": cosem}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return loaded


def test_pretrained_backbone_with_a_new_head(fake_cellmap):
    net = create_model("cellmap_cosem", ndim=3, in_channels=1, out_channels=3)
    original = fake_cellmap[-1]
    assert net.prediction_head.out_channels == 3 and net.backbone is original.backbone
    assert net(torch.rand(1, 1, 6, 6, 6)).shape == (1, 3, 10, 10, 10)   # valid convolutions: smaller
    same = create_model("cellmap_cosem", ndim=3, in_channels=1, out_channels=14)
    assert torch.equal(same.prediction_head.weight, fake_cellmap[-1].prediction_head.weight)


def test_errors(fake_cellmap, monkeypatch):
    with pytest.raises(ConfigError, match=r"`checkpoint` = 'setup99/1': Model setup99/1 not found"):
        create_model("cellmap_cosem", ndim=3, in_channels=1, out_channels=3, checkpoint="setup99/1")
    with pytest.raises(ConfigError, match=r"supports ndim \[3\]"):
        create_model("cellmap_cosem", ndim=2, in_channels=1, out_channels=3)
    for name in ("cellmap_models", "cellmap_models.pytorch", "cellmap_models.pytorch.cosem"):
        monkeypatch.setitem(sys.modules, name, None)        # as if not installed
    with pytest.raises(ConfigError, match="needs the cellmap-models package: pip install cellmap-models"):
        create_model("cellmap_cosem", ndim=3, in_channels=1, out_channels=3)
