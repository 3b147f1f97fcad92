"""Entry point of the ``csc`` and ``pycsc`` console scripts.

Each sub-command lives in ``pycsc/cli/<command>.py`` with two functions:
``add_parser(subparsers)`` (cheap: no heavy imports) and ``run(args) -> int``
(imports what the command needs). A :class:`~pycsc.errors.PycscError` is printed as one
line and exits with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from ..errors import PycscError

# Order is the order of `csc --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "fetch", "datasplit", "train", "predict", "process", "pack", "evaluate", "visualize", "simulate",
    "demo",
    "aliases",   # the official command names: fetch-data, make-datasplit, pack-results, ...
)


def _version_text() -> str:
    from .. import __version__, _gpu

    lines = [f"pycsc {__version__}"]
    try:
        from .. import _core

        info = _core.build_info()
        omp = (
            f"yes (OpenMP {info['openmp_version']}, {info['max_threads']} threads)"
            if info["openmp"]
            else "no (serial build)"
        )
        lines += [f"native core: {info['compiler']}", f"openmp: {omp}"]
    except ImportError as exc:
        lines.append(f"native core: NOT BUILT ({exc}); reinstall with pip install .")
    ok, why = _gpu.gpu_status()
    lines.append(f"gpu: {'usable' if ok else 'unavailable'} ({why})")
    return "\n".join(lines)


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csc",
        description="pycsc: data, training, prediction, post-processing, evaluation and "
        "packing for the CellMap Segmentation Challenge.",
    )
    parser.add_argument("--version", action=_VersionAction,
                        help="print the version, compiler, OpenMP state and GPU availability")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").add_parser(sub)
    for command_parser in sub.choices.values():
        # `csc train x.toml --debug` works as `csc --debug train x.toml`; SUPPRESS keeps a
        # flag given before the command from being reset by the sub-parser's default.
        command_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                    help="show full tracebacks on errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`csc --version | head -1`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not report it either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except PycscError as exc:
        if args.debug:
            raise
        print(f"csc {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"csc {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
