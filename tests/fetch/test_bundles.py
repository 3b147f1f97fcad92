"""``csc fetch --zip``: bundle choice, resumable ranged download, ETag checks, atomic extraction.

Oracles: the files zipped are compared byte for byte after extraction; the multipart ETag is
the one the S3 server (moto) computes for a real multipart upload.
"""

import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pycsc.cli.main import main
from pycsc.config import FetchConfig
from pycsc.errors import FetchError
from pycsc.fetch import bundles

pytestmark = pytest.mark.s3
BUCKET = "csc-zips"
_spec = importlib.util.spec_from_file_location("pycsc_tests_proxy", Path(__file__).parents[1] / "stream" / "_proxy.py")
_proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_proxy)


def make_zip(top: str = "data_matched_res_no_pad") -> tuple[bytes, dict[str, bytes]]:
    rng = np.random.default_rng(0)
    files = {f"jrc_a/jrc_a.zarr/recon-1/em/fibsem-uint8/s0/{i}/0/0": rng.bytes(20_000) for i in range(6)}
    files["jrc_a/jrc_a.zarr/.zgroup"] = b'{"zarr_format": 2}'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"{top}/{name}", data)
    return buf.getvalue(), files


@pytest.fixture(scope="module")
def bundle_source(s3_server, tmp_path_factory):
    data, files = make_zip()
    client = s3_server.admin_client()
    try:
        client.create_bucket(Bucket=BUCKET, ACL="public-read")
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    client.put_object(Bucket=BUCKET, Key="csc-zipped-data/matched_res_no_pad.zip", Body=data, ACL="public-read")
    manifest = tmp_path_factory.mktemp("zipman") / "zip_manifest.csv"
    manifest.write_text("all_res,raw_padding,file,url\n"
                        f"False,0,matched_res_no_pad.zip,s3://{BUCKET}/csc-zipped-data/matched_res_no_pad.zip\n")
    return data, files, manifest


def cfg_for(server, dest, endpoint=None) -> FetchConfig:
    return FetchConfig(endpoint_url=endpoint or server.endpoint_url, dest=Path(dest), progress=False, retries=4, zip=True)


def test_shipped_manifest_matches_the_official_choices():
    rows = bundles.read_bundles()
    picked = {(b.all_resolutions, b.raw_padding): b.file for b in rows}
    assert picked == {(True, 128): "all_res_128_pad.zip", (True, 0): "all_res_no_pad.zip",
                      (False, 128): "matched_res_128_pad.zip", (False, 0): "matched_res_no_pad.zip"}
    with pytest.raises(FetchError, match="--crops '12'.*without --zip"):
        bundles.choose_bundle(rows, False, 0, "12")
    with pytest.raises(FetchError, match="no pre-zipped bundle for --raw-padding 64.*--raw-padding 128"):
        bundles.choose_bundle(rows, False, 64, "all")


def test_download_and_extract_like_a_normal_fetch(s3_server, bundle_source, tmp_path):
    data, files, manifest = bundle_source
    zip_path, marker = bundles.fetch_bundle(cfg_for(s3_server, tmp_path), manifest)
    assert zip_path.read_bytes() == data and marker.is_file()
    for name, content in files.items():      # the bundle's top folder is dropped
        assert (tmp_path / name).read_bytes() == content
    assert not any(p.name.startswith(".extract-") for p in tmp_path.iterdir())
    before = s3_server.faults.requests
    bundles.fetch_bundle(cfg_for(s3_server, tmp_path), manifest)      # done: one HEAD, no GET
    assert s3_server.faults.requests - before == 1


def test_resume_uses_the_partial_file_and_the_checksum_catches_corruption(s3_server, bundle_source, tmp_path):
    data, _, manifest = bundle_source
    (bundle,) = bundles.read_bundles(manifest)
    kw = dict(endpoint_url=s3_server.endpoint_url, progress=False)
    import json

    head = s3_server.admin_client().head_object(Bucket=BUCKET, Key="csc-zipped-data/matched_res_no_pad.zip")
    meta = {"size": len(data), "etag": head["ETag"].strip('"')}
    (tmp_path / ".matched_res_no_pad.zip.part.json").write_text(json.dumps(meta))
    (tmp_path / ".matched_res_no_pad.zip.part").write_bytes(b"\0" * 1000 + data[1000:5000])   # wrong start
    with pytest.raises(FetchError, match="checksum mismatch"):
        bundles.download_bundle(bundle, tmp_path, **kw)
    assert not (tmp_path / ".matched_res_no_pad.zip.part").exists()
    (tmp_path / ".matched_res_no_pad.zip.part.json").write_text(json.dumps(meta))
    (tmp_path / ".matched_res_no_pad.zip.part").write_bytes(data[:5000])                       # good start
    assert bundles.download_bundle(bundle, tmp_path, **kw).read_bytes() == data


def test_5xx_and_dropped_connections_during_download(s3_server, bundle_source, tmp_path):
    data, _, manifest = bundle_source
    with _proxy.DroppingProxy(s3_server.port, lifetime_s=60) as proxy:
        s3_server.faults.fail_next(2, status=503, path_contains="matched_res")
        proxy.drop_next(2)
        zip_path, _ = bundles.fetch_bundle(cfg_for(s3_server, tmp_path, proxy.endpoint_url), manifest)
        assert proxy.dropped == 2
    assert zip_path.read_bytes() == data


def test_multipart_etag_is_checked(s3_server, tmp_path):
    client = s3_server.admin_client()
    payload = np.random.default_rng(1).bytes(11 * 2**20 + 7)
    up = client.create_multipart_upload(Bucket=BUCKET, Key="mp.bin")
    parts = []
    for n, start in enumerate(range(0, len(payload), 5 * 2**20), start=1):
        r = client.upload_part(Bucket=BUCKET, Key="mp.bin", UploadId=up["UploadId"], PartNumber=n,
                               Body=payload[start:start + 5 * 2**20])
        parts.append({"ETag": r["ETag"], "PartNumber": n})
    client.complete_multipart_upload(Bucket=BUCKET, Key="mp.bin", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})
    etag = client.head_object(Bucket=BUCKET, Key="mp.bin")["ETag"].strip('"')
    assert etag.endswith("-3")
    f = tmp_path / "mp.bin"
    f.write_bytes(payload)
    assert bundles.etag_matches(f, etag, len(payload))
    f.write_bytes(payload[:-1] + b"x")
    assert not bundles.etag_matches(f, etag, len(payload))


def test_extraction_refuses_escaping_members_and_recovers_from_an_interruption(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", b"x")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(FetchError, match="outside the destination"):
        bundles.extract_bundle(evil, dest)
    assert not (tmp_path / "outside.txt").exists()
    data, files = make_zip()
    good = tmp_path / "good.zip"
    good.write_bytes(data)
    (dest / ".extract-good.zip" / "half").mkdir(parents=True)    # left by a killed extraction
    bundles.extract_bundle(good, dest)
    assert sorted(p.name for p in dest.iterdir()) == [".good.zip.extracted", "jrc_a"]
    assert all((dest / n).read_bytes() == c for n, c in files.items())


def test_cli_fetch_zip(s3_server, bundle_source, tmp_path, monkeypatch, capsys):
    _, files, manifest = bundle_source
    monkeypatch.setattr(bundles, "MANIFEST", manifest)
    monkeypatch.setattr(bundles.fetch_bundle, "__defaults__", (manifest,))
    rc = main(["fetch", "--zip", "--endpoint-url", s3_server.endpoint_url, "--dest", str(tmp_path),
               "--no-progress"])
    assert rc == 0 and "extracted" in capsys.readouterr().out
    assert all((tmp_path / n).is_file() for n in files)
    rc = main(["fetch", "--zip", "--raw-padding", "64", "--endpoint-url", s3_server.endpoint_url,
               "--dest", str(tmp_path)])
    assert rc == 2 and "no pre-zipped bundle" in capsys.readouterr().err
