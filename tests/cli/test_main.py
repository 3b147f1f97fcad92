import subprocess
import sys

from pycsc.cli.main import main


def test_version_reports_build(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert out.startswith("pycsc ")
    assert "native core: gcc" in out or "native core: clang" in out
    assert "openmp:" in out and "gpu:" in out


def test_console_script_runs_without_torch():
    # The CLI must not import torch, tensorstore or cupy at start-up.
    code = (
        "import sys; from pycsc.cli.main import build_parser; build_parser(); "
        "bad = [m for m in ('torch', 'tensorstore', 'cupy') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().out
