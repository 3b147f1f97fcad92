"""Every command line shown in README.md and examples/ exists in the CLI with those flags.

Command lines are taken from README code blocks and from the example job scripts; each is
parsed by the real argument parser (no command is run).
"""

import re
import shlex
from pathlib import Path

import pytest

from pycsc.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "examples").rglob("*"))] if (REPO / "examples").exists() else [REPO / "README.md"]


APPTAINER_VALUE_OPTIONS = {"--bind", "-B", "--env", "--home", "-H", "--pwd", "--overlay", "--env-file"}


def _logical_lines(text: str):
    """Join backslash continuations; drop comments."""
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        yield (buf + line).strip()
        buf = ""


def _code_text(path: Path) -> str:
    text = path.read_text()
    if path.suffix == ".md":
        blocks = re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)
        return "\n".join(body for lang, body in blocks if lang in ("", "bash", "sh", "shell", "console"))
    return text


def _cli_args(tokens):
    """The csc arguments of one shell command, or None if it does not call the CLI."""
    if not tokens:
        return None
    head = tokens[0]
    if head in ("csc", "pycsc"):
        return tokens[1:]
    if head == "srun" or head == "bsub" or head == "time":
        return _cli_args(tokens[1:])
    if head == "docker" and len(tokens) > 1 and tokens[1] == "run":
        if "csc" in tokens[2:]:
            return tokens[tokens.index("csc", 2) + 1:]
        return None
    if head in ("apptainer", "singularity") and len(tokens) > 1 and tokens[1] in ("run", "exec"):
        rest = tokens[2:]
        while rest and rest[0].startswith("-"):  # apptainer's own options, some with a value
            rest = rest[2:] if rest[0] in APPTAINER_VALUE_OPTIONS else rest[1:]
        rest = rest[1:]  # the image
        if tokens[1] == "exec":
            return rest[1:] if rest and rest[0] in ("csc", "pycsc") else None
        return rest
    return None


def documented_commands():
    found = []
    for path in DOC_FILES:
        if not path.is_file():
            continue
        for line in _logical_lines(_code_text(path)):
            if not line or line.startswith("#"):
                continue
            line = re.sub(r"\$\{[A-Za-z_0-9]+:-([^}]*)\}", r"\1", line)  # ${VAR:-default}: the default
            line = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z_0-9]*", "1", line)  # other shell variables
            line = re.sub(r"\$\((.*?)\)", "1", line)
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                try:
                    tokens = shlex.split(part, comments=True)
                except ValueError:
                    continue
                args = _cli_args(tokens)
                if args is not None:
                    found.append((f"{path.relative_to(REPO)}: {part}", args))
    return found


COMMANDS = documented_commands()


def test_docs_show_commands():
    assert any(args[:1] == ["--version"] for _, args in COMMANDS), "README shows `csc --version`"


@pytest.mark.parametrize("where,args", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_command_parses(where, args):
    parser = build_parser()
    try:
        parser.parse_args(args)
    except SystemExit as exc:
        # --help / --version exit 0 after printing; anything else is a bad command line.
        assert exc.code == 0, f"{where}: the CLI rejects this command line"
