"""Hostile and unusual submissions: every one a clear error, nothing written outside the work
folder, the user's submission never modified."""

from __future__ import annotations

import os
import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from pycsc.errors import SubmissionError
from pycsc.eval import EvaluateConfig, evaluate
from pycsc.eval.submission import ZipLimits, extract_zip, match_crops, resolve_submission

from .conftest import GOLDEN, needs_golden, tree_digest

CFG = EvaluateConfig(progress=False)


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def zip_dir(src: Path, dest: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + str(p.relative_to(src)))
    return dest


def _no_escape(tmp_path: Path, before: set) -> None:
    assert {p.name for p in tmp_path.parent.iterdir()} == before


@pytest.mark.parametrize("name, why", [
    ("../evil.txt", "'..'"), ("sub/../../evil.txt", "'..'"), ("/abs/evil.txt", "absolute"),
    ("C:/evil.txt", "absolute"), ("./", "extraction folder itself"),
])
def test_zip_path_traversal_rejected(tmp_path, name, why):
    before = {p.name for p in tmp_path.parent.iterdir()}
    z = make_zip(tmp_path / "s.zip", {"crop1/.zgroup": b"{}", name: b"x"})
    with pytest.raises(SubmissionError, match=why):
        extract_zip(z, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil.txt").exists()
    _no_escape(tmp_path, before)


def test_zip_symlink_rejected(tmp_path):
    info = zipfile.ZipInfo("crop1/link")
    info.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(SubmissionError, match="symbolic link"):
        extract_zip(tmp_path / "s.zip", tmp_path / "out")


def test_zip_declaring_more_than_50_gib_rejected(tmp_path):
    """13 members each declaring ~4 GiB in the central directory: 52 GiB > 50 GiB."""
    z = make_zip(tmp_path / "s.zip", {f"crop1/m{i}": b"x" for i in range(13)}, zipfile.ZIP_STORED)
    data = bytearray(z.read_bytes())
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:  # central directory headers
        struct.pack_into("<I", data, pos + 24, 0xFFFFFFF0)  # uncompressed size
        pos += 4
    z.write_bytes(bytes(data))
    with pytest.raises(SubmissionError, match=r"declares 52\.0 GiB uncompressed, more than the 50\.0 GiB"):
        extract_zip(z, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_bomb_by_compression_ratio(tmp_path):
    z = make_zip(tmp_path / "s.zip", {"crop1/mito/0.0.0": bytes(32 << 20)}, zipfile.ZIP_LZMA)
    with pytest.raises(SubmissionError, match="zip bomb"):
        extract_zip(z, tmp_path / "out")


def test_zip_total_limit_enforced_while_extracting(tmp_path):
    z = make_zip(tmp_path / "s.zip", {"a": bytes(3000), "b": bytes(3000)})
    with pytest.raises(SubmissionError, match="declares"):
        extract_zip(z, tmp_path / "out", ZipLimits(max_uncompressed_bytes=5000))


def test_zip_member_larger_than_declared(tmp_path):
    """A lying local/central size: extraction stops at the declared size instead of filling the disk."""
    z = make_zip(tmp_path / "s.zip", {"crop1/a": b"y" * 5000}, zipfile.ZIP_STORED)
    data = bytearray(z.read_bytes())
    pos = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, pos + 24, 100)
    z.write_bytes(bytes(data))
    with pytest.raises(SubmissionError):
        extract_zip(z, tmp_path / "out")


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04" + bytes(40)])
def test_corrupt_zip(tmp_path, content):
    (tmp_path / "s.zip").write_bytes(content)
    with pytest.raises(SubmissionError):
        resolve_submission(tmp_path / "s.zip", tmp_path / "work")


def test_corrupt_member_data(tmp_path):
    z = make_zip(tmp_path / "s.zip", {"crop1/a": os.urandom(4000)})
    data = bytearray(z.read_bytes())
    data[60:200] = bytes(140)
    z.write_bytes(bytes(data))
    with pytest.raises(SubmissionError, match="cannot be extracted"):
        extract_zip(z, tmp_path / "out")


def test_directory_with_two_zips(tmp_path):
    (tmp_path / "d").mkdir()
    for n in ("a.zip", "b.zip"):
        make_zip(tmp_path / "d" / n, {"x": b"1"})
    with pytest.raises(SubmissionError, match="holds 2 zip files"):
        resolve_submission(tmp_path / "d", tmp_path / "w")


def test_two_nested_zarr_folders(tmp_path):
    (tmp_path / "s" / "a.zarr").mkdir(parents=True)
    (tmp_path / "s" / "b.zarr").mkdir()
    with pytest.raises(SubmissionError, match="2 Zarr folders"):
        resolve_submission(tmp_path / "s", tmp_path / "w")


def test_missing_submission(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        resolve_submission(tmp_path / "nope.zip", tmp_path / "w")


def test_crop_prefix_rule():
    e = {n: Path(n) for n in ("110", "111", "results")}
    assert sorted(match_crops(e, ["crop110", "crop111", "crop112"])[0]) == ["crop110", "crop111"]
    # one prefixed name matches: no rescue, the bare name counts as missing (g08)
    found, missing, extra = match_crops({"crop112": Path("a"), "113": Path("b")}, ["crop112", "crop113"])
    assert list(found) == ["crop112"] and missing == ["crop113"] and extra == ["113"]
    with pytest.raises(SubmissionError, match="No volumes found to score"):
        match_crops({"volume_126": Path("v")}, ["crop126"])


def test_zip_submission_scores_like_directory(small_case, tmp_path):
    truth, sub, manifest = small_case
    z = zip_dir(sub, tmp_path / "nested.zip", prefix="out/submission.zarr/")
    a = evaluate(sub, truth, manifest, config=CFG).extended
    b = evaluate(z, truth, manifest, config=CFG).extended
    assert a == b


def test_work_dir_is_removed_and_nothing_written_next_to_zip(small_case, tmp_path):
    truth, sub, manifest = small_case
    (tmp_path / "z").mkdir()
    z = zip_dir(sub, tmp_path / "z" / "s.zip")
    work = tmp_path / "work"
    evaluate(z, truth, manifest, config=EvaluateConfig(progress=False, work_dir=work))
    assert sorted(p.name for p in (tmp_path / "z").iterdir()) == ["s.zip"]  # official would write s.zarr
    assert list(work.iterdir()) == []


@needs_golden
@pytest.mark.parametrize("case", ["g07_bare_crop_names_perfect", "g10_zip_nested_alt_attrs",
                                  "g11_multiscale_groups", "g12_missing_metadata"])
def test_submission_never_modified(tmp_path, case):
    """The official writes .zgroup files, renames bare crops and moves nested folders: we do not."""
    src = GOLDEN / case
    sub = tmp_path / "copy"
    if (src / "submission.zip").exists():
        with zipfile.ZipFile(src / "submission.zip") as zf:  # unzip into a plain (no .zgroup) directory
            zf.extractall(sub)
    else:
        shutil.copytree(src / "submission.zarr", sub)
    for target in (sub, src / "submission.zip") if (src / "submission.zip").exists() else (sub,):
        before = tree_digest(target) if target.is_dir() else target.read_bytes()
        evaluate(target, src / "truth.zarr", src / "manifest.csv", config=CFG)
        after = tree_digest(target) if target.is_dir() else target.read_bytes()
        assert before == after
