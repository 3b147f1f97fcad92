"""Issue 14 "Isolation": a corrupt zip member or a bad manifest row fails only the labels it
touches; a submitted crop that matches no truth crop is shown prominently and exits 1."""

from __future__ import annotations

import shutil
import struct
import zipfile

import pytest

from pycsc.eval import EvaluateConfig, evaluate
from pycsc.eval.manifest import CropGeometry, InvalidGeometry, parse_manifest
from pycsc.eval.results import format_summary

from .conftest import write_manifest

CFG = EvaluateConfig(progress=False)
HEADER = "crop_name,dataset,class_label,voxel_size,translation,shape\n"


def _records(ev):
    return {(r.crop, r.label): r for r in ev.results}


def _zip_with_bad_crc(src, dest, member):
    """Zip `src` uncompressed, then flip one data byte of `member` (its CRC no longer matches)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, str(p.relative_to(src)))
    with zipfile.ZipFile(dest) as zf:
        info = zf.getinfo(member)
    data = bytearray(dest.read_bytes())
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    data[info.header_offset + 30 + name_len + extra_len] ^= 0xFF
    dest.write_bytes(bytes(data))
    return dest


def test_corrupt_zip_member_errors_only_its_label(small_case, tmp_path):
    truth, sub, manifest = small_case
    good = evaluate(sub, truth, manifest, config=CFG)
    z = _zip_with_bad_crc(sub, tmp_path / "sub.zip", "crop1/mito/0.0.0")
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        zipfile.ZipFile(z).read("crop1/mito/0.0.0")
    ev = evaluate(z, truth, manifest, config=CFG)
    status = _records(ev)
    bad = status[("crop1", "mito")]
    assert bad.status == "error" and "crop1/mito/0.0.0" in bad.reason and "corrupt" in bad.reason
    assert ev.extended["crop1"]["mito"]["is_missing"] and ev.exit_code == 1
    for key, r in status.items():
        if key != ("crop1", "mito"):
            assert r.status == "scored" and r.record == good.extended[key[0]][key[1]]


@pytest.mark.parametrize("voxel_size, reason", [
    ("[0.0;8.0;8.0]", "finite and > 0"), ("[-8.0;8.0;8.0]", "finite and > 0"), ("[nan;8.0;8.0]", "finite and > 0"),
    ("[inf;8.0;8.0]", "finite and > 0"), ("[eight;8.0;8.0]", "not a list of floats"), ("8.0", "bracketed list"),
    ("[8.0;8.0]", "expected 3 values"),
])
def test_bad_manifest_row_errors_only_its_labels(small_case, tmp_path, voxel_size, reason):
    truth, sub, manifest = small_case
    good = evaluate(sub, truth, manifest, config=CFG)
    text = manifest.read_text().replace("1,ds,mito,[8.0;8.0;8.0]", f"1,ds,mito,{voxel_size}")
    assert text != manifest.read_text()
    bad_manifest = tmp_path / "bad.csv"
    bad_manifest.write_text(text)
    ev = evaluate(sub, truth, bad_manifest, config=CFG)
    status = _records(ev)
    assert status[("crop1", "mito")].status == "error" and reason in status[("crop1", "mito")].reason
    assert "line 2" in status[("crop1", "mito")].reason and ev.exit_code == 1
    for key, r in status.items():
        if key != ("crop1", "mito"):
            assert r.status == "scored" and r.record == good.extended[key[0]][key[1]]
    assert ev.extended["total_evals"] == good.extended["total_evals"]


def test_manifest_rows_without_crop_or_class_describe_nothing():
    rows = parse_manifest(HEADER + "x,ds,mito,[8.0;8.0;8.0],[0;0;0],[2;2;2]\n7,ds,,[8;8;8],[0;0;0],[2;2;2]\n"
                          "7,ds,er,[8;8;8],[0;0;0],[2;2;2],extra\n7,ds,mito,[8;8;8],[0;0;0],[2;2;2]\n")
    assert set(rows) == {(7, "er"), (7, "mito")}
    assert isinstance(rows[(7, "er")], InvalidGeometry) and "6 comma-separated" in rows[(7, "er")].reason
    assert rows[(7, "mito")] == CropGeometry((8.0,) * 3, (0.0,) * 3, (2, 2, 2))


def test_submitted_crop_matching_nothing_is_shown_and_exits_1(small_case):
    truth, sub, manifest = small_case
    shutil.move(sub / "crop2", sub / "crop9001")
    ev = evaluate(sub, truth, manifest, config=CFG)
    assert ev.meta["unknown_crops"] == ["crop9001"] and ev.meta["absent_crops"] == ["crop2"]
    assert ev.exit_code == 1 and not ev.errors
    text = format_summary(ev)
    assert "CROPS NOT IN THE TRUTH" in text
    assert "submitted but unknown: crop9001" in text and "expected but not submitted (1, scored as missing): crop2" in text


def test_extra_system_folders_are_not_unknown_crops(small_case):
    truth, sub, manifest = small_case
    (sub / "__MACOSX").mkdir()
    ev = evaluate(sub, truth, manifest, config=CFG)
    assert ev.exit_code == 0 and ev.meta["unknown_crops"] == []


def test_cli_exit_status_for_unknown_crop(small_case, tmp_path, capsys):
    from pycsc.cli.main import main

    truth, sub, manifest = small_case
    shutil.move(sub / "crop2", sub / "crop9001")
    code = main(["evaluate", str(sub), "--truth", str(truth), "--manifest", str(manifest),
                 "--output", str(tmp_path / "r.json"), "--no-progress"])
    assert code == 1 and "submitted but unknown: crop9001" in capsys.readouterr().out
