"""Target kinds against independent references: scipy's EDT, scikit-image's boundaries,
numpy neighbour comparisons; masks against brute-force definitions."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from pycsc.errors import ConfigError
from pycsc.targets import channel_layout, get_target, list_targets, target_attrs

VS = (8.0, 6.0, 4.0)       # anisotropic on purpose


def _balls(shape, centres, radius, touching_ids=True):
    zz, yy, xx = np.indices(shape)
    lab = np.zeros(shape, np.uint32)
    for k, c in enumerate(centres, 1):
        lab[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= radius ** 2] = k if touching_ids else 1
    return lab


def test_registry_and_layout():
    assert list_targets() == ["affinity", "binary", "boundary", "sdt"]
    layout = channel_layout(["mito", "er", "nuc"], {"mito": {"kind": "sdt", "scale_nm": 20},
                                                     "nuc": "affinity"}, 3)
    assert [c.label for c in layout] == ["mito", "er", "nuc/fg", "nuc/aff_z", "nuc/aff_y", "nuc/aff_x"]
    assert [c.activation for c in layout][:2] == ["tanh", "sigmoid"]
    assert layout[0].params == {"scale_nm": 20.0, "saturation": 3.0}
    assert len(channel_layout(["nuc"], {"nuc": "affinity"}, 2)) == 3
    assert target_attrs(layout, "mito") == {"kind": "sdt", "channels": [""], "scale_nm": 20.0, "saturation": 3.0}


@pytest.mark.parametrize("spec,needle", [
    ("sdf", "unknown target kind 'sdf'"),
    ({"kind": "sdt", "scale": 3}, "no parameter 'scale'"),
    ({"kind": "sdt", "scale_nm": -1}, "must be a number > 0"),
    ({"scale_nm": 3}, "needs `kind`"),
    (3, "must be a kind name or a table"),
])
def test_bad_target_specs_name_the_key(spec, needle):
    with pytest.raises(ConfigError, match="mito") as err:
        channel_layout(["mito"], {"mito": spec}, 3)
    assert needle in str(err.value)
    with pytest.raises(ConfigError, match="not in `classes`"):
        channel_layout(["mito"], {"er": "sdt"}, 3)


def test_binary_is_foreground_where_known():
    lab = _balls((10, 12, 14), [(5, 6, 7)], 4)
    known = np.ones(lab.shape, bool)
    known[:3] = False
    t, m = get_target("binary").make(lab, known, VS)
    np.testing.assert_array_equal(t[0], (lab > 0) & known)
    np.testing.assert_array_equal(m[0], known)


def test_sdt_matches_scipy_on_a_fully_known_volume():
    lab = _balls((24, 26, 28), [(12, 13, 14)], 6, touching_ids=False)
    scale = 30.0
    t, m = get_target("sdt").make(lab, np.ones(lab.shape, bool), VS, scale_nm=scale, saturation=3.0)
    fg = lab > 0
    inside = ndi.distance_transform_edt(fg, sampling=VS)
    outside = ndi.distance_transform_edt(~fg, sampling=VS)
    expected = np.tanh(np.where(fg, inside, -outside) / scale)
    # the box edge is unknown: values are kept where no voxel beyond it could be nearer
    edge = ndi.distance_transform_edt(np.pad(np.ones(lab.shape, bool), 1, constant_values=False),
                                      sampling=VS)[1:-1, 1:-1, 1:-1]
    own = np.where(fg, inside, outside)
    trusted = (own <= edge) | (edge >= 3 * scale)
    np.testing.assert_array_equal(m[0] > 0, trusted)
    assert trusted[12, 13, 14] and trusted.mean() > 0.2
    np.testing.assert_allclose(t[0][trusted], expected[trusted], atol=1e-6)
    assert (t[0][~trusted] == 0).all()


def test_sdt_separates_touching_objects_and_respects_unknown():
    lab = _balls((20, 20, 30), [(10, 10, 9), (10, 10, 20)], 5.6)
    assert (ndi.label(lab > 0)[1]) == 1                       # one blob for a binary target
    t, m = get_target("sdt").make(lab, np.ones(lab.shape, bool), (1.0, 1.0, 1.0), scale_nm=5.0)
    assert ndi.label(t[0] > 0)[1] == 2                        # two objects above 0
    known = np.ones(lab.shape, bool)
    known[:, :, 25:] = False
    _, m2 = get_target("sdt").make(lab, known, (1.0, 1.0, 1.0), scale_nm=5.0)
    assert not m2[0][:, :, 25:].any()
    assert m2[0][10, 10, 9] == 1                              # far from the unknown part


def test_sdt_in_2d_ignores_the_missing_z_neighbours():
    lab = np.zeros((1, 15, 15), np.uint8)
    lab[0, 4:11, 4:11] = 1
    t, m = get_target("sdt").make(lab, np.ones(lab.shape, bool), (8, 8, 8), scale_nm=1e6)
    expected = ndi.distance_transform_edt(lab[0] > 0, sampling=(8, 8))
    np.testing.assert_allclose(np.arctanh(t[0, 0, 7, 7]) * 1e6, expected[7, 7], rtol=1e-6)
    assert m[0, 0, 7, 7] == 1


def test_boundary_matches_skimage_inside_known_region():
    find_boundaries = pytest.importorskip("skimage.segmentation").find_boundaries
    lab = _balls((18, 20, 22), [(9, 10, 6), (9, 10, 14)], 5)
    known = np.ones(lab.shape, bool)
    known[:, :4] = False
    t, m = get_target("boundary").make(lab, known, VS)
    expected = find_boundaries(lab, connectivity=1, mode="inner")
    np.testing.assert_array_equal(t[0], (lab > 0) & known)
    trusted = m[1] > 0
    np.testing.assert_array_equal(t[1][trusted] > 0, expected[trusted])
    # object voxels next to unknown (or outside) voxels are unknown; background is known
    assert not trusted[:, 4][lab[:, 4] > 0].any()
    assert trusted[known & (lab == 0)].all()
    assert (t[1][(lab == 1) & trusted] > 0).sum() > 0 and (t[1][(lab == 2) & trusted] > 0).sum() > 0


def test_affinities_match_direct_neighbour_comparisons():
    rng = np.random.default_rng(3)
    lab = rng.integers(0, 3, (6, 7, 8)).astype(np.uint16)
    known = rng.random(lab.shape) > 0.2
    t, m = get_target("affinity").make(lab, known, VS)
    assert t.shape == (4, 6, 7, 8)
    for c, ax in enumerate((0, 1, 2), start=1):
        for idx in np.ndindex(*lab.shape):
            prev = list(idx)
            prev[ax] -= 1
            if lab[idx] == 0 and known[idx]:
                assert (t[c][idx], m[c][idx]) == (0, 1)
            elif not known[idx] or prev[ax] < 0 or not known[tuple(prev)]:
                assert (t[c][idx], m[c][idx]) == (0, 0)
            else:
                assert (t[c][idx], m[c][idx]) == (float(lab[idx] == lab[tuple(prev)]), 1)
    t2, _ = get_target("affinity").make(lab[:1], known[:1], VS)       # a 2D patch: y and x only
    assert t2.shape == (3, 1, 7, 8)


@pytest.mark.parametrize("kind", ["binary", "sdt", "boundary", "affinity"])
def test_make_into_equals_make_also_with_the_loaders_all_known_view(kind):
    lab = np.random.default_rng(0).integers(0, 3, (10, 12, 14))
    t, m = get_target(kind).make(lab, np.ones(lab.shape, bool), VS)
    everywhere = np.broadcast_to(np.True_, lab.shape)        # what the loader passes inside a crop
    t2, m2 = get_target(kind).make(lab, everywhere, VS)
    np.testing.assert_array_equal(t, t2)
    np.testing.assert_array_equal(m, m2)
    core = (slice(1, 9), slice(2, 10), slice(3, 11))
    out_t = np.full((t.shape[0], 8, 8, 8), np.nan, np.float32)
    out_m = out_t.copy()
    get_target(kind).make_into(lab, everywhere, VS, out_t, out_m, core)
    np.testing.assert_array_equal(out_t, t[(slice(None), *core)])
    np.testing.assert_array_equal(out_m, m[(slice(None), *core)])


def test_targets_and_grids_from_toml(tmp_path):
    from pycsc.config import TrainConfig, resolve

    path = tmp_path / "t.toml"
    path.write_text('[train]\nclasses = ["mito", "er"]\n'
                    '[train.targets]\nmito = {kind = "sdt", scale_nm = 40}\n'
                    '[train.augment]\nrotate_axes = ["z", "y", "x"]\nmirror_prob = [0.5, 0.5, 0.2]\n')
    cfg = resolve(TrainConfig, path, section="train")
    assert [c.label for c in channel_layout(cfg.classes, cfg.targets, 3)] == ["mito", "er"]
    assert cfg.augment.mirror_prob == (0.5, 0.5, 0.2)
    # grids (unvalidated here: which grids a network accepts is the model registry's check)
    grids = TrainConfig(input_voxel_size_nm=(8.0, 8.0, 8.0), input_shape=(96, 96, 96),
                        target_voxel_size_nm=(4.0, 4.0, 4.0), target_shape=(64, 64, 64))
    assert grids.input_grid() == ((96, 96, 96), (8.0, 8.0, 8.0))
    assert grids.target_grid() == ((64, 64, 64), (4.0, 4.0, 4.0))
    plain = TrainConfig()
    assert plain.input_grid() == plain.target_grid() == (plain.patch_shape, plain.voxel_size_nm)
    path.write_text('[train]\nclasses = ["mito"]\n[train.targets]\nmito = "sdf"\n')
    with pytest.raises(ConfigError, match=r"\[train.targets\] mito: unknown target kind 'sdf'"):
        resolve(TrainConfig, path, section="train")
