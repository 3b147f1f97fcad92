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


def test_version_into_a_closed_pipe_is_quiet():
    # `csc --version | head -1`: the reader leaves after one line.
    proc = subprocess.Popen([sys.executable, "-m", "pycsc", "--version"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    assert proc.wait() == 0
    assert b"BrokenPipe" not in proc.stderr.read()


def test_debug_after_the_command_shows_the_traceback():
    import pytest

    from pycsc.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["train", "--batch-size", "two", "--debug"])
    assert main(["train", "--batch-size", "two"]) == 2


def test_bad_flag_value_is_blamed_on_the_flag_not_the_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[train]\nbatch_size = 2\n")
    assert main(["train", str(cfg), "--batch-size", "two"]) == 2
    assert "--batch-size: `batch_size` must be an integer" in capsys.readouterr().err
    assert main(["train", str(cfg), "--batch-size", "0"]) == 2
    assert "--batch-size: `batch_size` must be >= 1" in capsys.readouterr().err
    cfg.write_text("[train]\nbatch_size = 0\n")
    assert main(["train", str(cfg)]) == 2
    assert f"{cfg} [train]: `batch_size` must be >= 1" in capsys.readouterr().err
