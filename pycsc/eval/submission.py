"""Opening a submission safely and finding its crops, as the official evaluator does.

The official code unzips next to the user's file, writes ``.zgroup`` files into the
submission and renames crop folders on disk. Here a zip is extracted into a private work
directory (with zip-bomb and path-traversal limits), a directory is only ever read, and the
official renames are reproduced as a name mapping.

Layout rules kept from the official code (evaluation.md §3):

* a directory holding exactly one top-level ``.zip`` is that zip; several -> error;
* exactly one ``*.zarr`` below the unzipped folder is the real root (its children win over
  same-named siblings); more than one -> error;
* crops = sub-directories of the root; if none matches a truth crop, ``"crop" + name`` is
  tried for every sub-directory ("bare" names); still none -> error.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import SubmissionError

GiB = 1 << 30


@dataclass(frozen=True)
class ZipLimits:
    """Limits against hostile archives (the official has only ``max_uncompressed_bytes``)."""

    #: Sum of the members' declared uncompressed sizes (official ``MAX_UNCOMPRESSED_SIZE``).
    max_uncompressed_bytes: int = 50 * GiB
    #: Uncompressed/compressed ratio allowed for a member larger than `ratio_min_bytes`.
    #: Deflate cannot exceed ~1032, so honest deflate members always pass; bzip2/lzma bombs
    #: and lying headers do not.
    max_compression_ratio: float = 1100.0
    ratio_min_bytes: int = 16 << 20
    max_members: int = 10_000_000


@dataclass
class SubmissionLayout:
    """Where the crops of a submission are: ``crops[truth_crop_name] = directory``."""

    root: Path
    crops: dict[str, Path]
    missing: list[str]
    extra: list[str]
    warnings: list[str] = field(default_factory=list)
    #: Zip members left out because their data is corrupt: ``{member: (path, reason)}``.
    broken: dict[str, tuple[Path, str]] = field(default_factory=dict)

    def broken_input(self, crop: str, label: str) -> str:
        """Why the submitted `crop`/`label` cannot be scored (a corrupt zip member in it), or ""."""
        folder = self.crops.get(crop)
        if folder is None:
            return ""
        folder = (folder / label).resolve()
        for member, (path, reason) in sorted(self.broken.items()):
            if path == folder or folder in path.parents:
                return (f"zip member {member!r} is corrupt ({reason}); this label counts as not submitted. "
                        "Re-create the zip")
        return ""


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if "\x00" in name:
        return "has a NUL byte in its name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "has an absolute path"
    parts = PurePosixPath(norm).parts
    if ".." in parts:
        return "contains '..'"
    if not [p for p in parts if p not in ("", ".")]:
        return "resolves onto the extraction folder itself"
    return None


def check_zip(zf: zipfile.ZipFile, archive: Path, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """Validate every member before anything is written; return the members."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise SubmissionError(f"{archive} has {len(infos)} members; the limit is {limits.max_members}")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise SubmissionError(
            f"{archive} declares {total / GiB:.1f} GiB uncompressed, more than the "
            f"{limits.max_uncompressed_bytes / GiB:.1f} GiB limit; submit fewer or coarser arrays"
        )
    for info in infos:
        why = _member_problem(info)
        if why:
            raise SubmissionError(f"{archive}: member {info.filename!r} {why}; refusing to extract it")
        if (info.file_size > limits.ratio_min_bytes
                and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1)):
            raise SubmissionError(
                f"{archive}: member {info.filename!r} expands {info.file_size / max(info.compress_size, 1):.0f}x "
                f"(limit {limits.max_compression_ratio:.0f}x): refusing a likely zip bomb"
            )
    # Overlapping members (one compressed stream referenced many times) are a zip-bomb trick.
    spans = sorted((i.header_offset, i.compress_size, i.filename) for i in infos if not i.is_dir())
    for (off, size, name), (next_off, _, next_name) in zip(spans, spans[1:]):
        if off + size > next_off:
            raise SubmissionError(f"{archive}: members {name!r} and {next_name!r} overlap; refusing a likely zip bomb")
    return infos


def _copy_limited(src, dst, budget: int, name: str, archive: Path) -> int:
    written = 0
    while True:
        block = src.read(1 << 20)
        if not block:
            return written
        written += len(block)
        if written > budget:
            raise SubmissionError(
                f"{archive}: member {name!r} expands beyond its declared size / the size limit; "
                "refusing a likely zip bomb"
            )
        dst.write(block)


def extract_zip(archive: Path, dest: Path, limits: ZipLimits = ZipLimits(),
                broken: dict[str, tuple[Path, str]] | None = None) -> Path:
    """Safely extract `archive` into the new directory `dest`; nothing is written elsewhere.

    A member whose data is corrupt (bad CRC, truncated stream) raises SubmissionError, or,
    when `broken` is given, is left out and recorded there as ``{member: (path, reason)}``
    so that only the label holding it fails.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive} is not a readable zip file ({exc})") from None
    with zf:
        infos = check_zip(zf, archive, limits)
        declared = sum(i.file_size for i in infos)
        dest.mkdir(parents=True, exist_ok=False)
        free = shutil.disk_usage(dest).free
        if declared > free:
            raise SubmissionError(
                f"{archive} expands to {declared / GiB:.1f} GiB but only {free / GiB:.1f} GiB are free "
                f"under {dest.parent}; pass --work-dir on a larger disk"
            )
        root = dest.resolve()
        remaining = limits.max_uncompressed_bytes
        for info in infos:
            target = (root / PurePosixPath(info.filename.replace("\\", "/"))).resolve()
            if root not in target.parents:
                raise SubmissionError(f"{archive}: member {info.filename!r} resolves outside the extraction folder")
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    remaining -= _copy_limited(src, dst, min(info.file_size, remaining), info.filename, archive)
            except SubmissionError:
                raise
            except Exception as exc:  # OSError, BadZipFile (CRC), zlib.error, lzma.LZMAError, EOFError ...
                if broken is not None and not isinstance(exc, OSError):
                    target.unlink(missing_ok=True)
                    broken[info.filename] = (target, f"{type(exc).__name__}: {exc}")
                    continue
                raise SubmissionError(
                    f"{archive}: member {info.filename!r} cannot be extracted ({type(exc).__name__}: {exc})"
                ) from None
    return dest


def _zarr_folders_below(root: Path) -> list[Path]:
    """Every ``*.zarr`` entry strictly below `root` (official ``root.glob("**/*.zarr")``).

    Array folders are not descended into: chunk keys are numbers, so nothing in them can be
    a ``.zarr`` folder, and a large submission has millions of chunk files.
    """
    hits: list[Path] = []
    for here, dirs, files in os.walk(root):
        if ".zarray" in files:
            dirs[:] = []
            continue
        hits += [Path(here) / n for n in dirs + files if n.endswith(".zarr")]
        dirs.sort()
    return sorted(hits)


def resolve_submission(path: str | os.PathLike, work_dir: Path, limits: ZipLimits = ZipLimits(),
                       broken: dict[str, tuple[Path, str]] | None = None) -> tuple[Path, dict[str, Path], list[str]]:
    """Return (root, top-level entries, warnings) for a submission zip or directory.

    `top-level entries` maps each name visible at the (possibly virtual) zarr root to its
    directory, reproducing the official "move the nested zarr's children up" step without
    moving anything.
    """
    src = Path(path)
    warnings: list[str] = []
    if not src.exists():
        raise SubmissionError(f"submission {src} does not exist; pass a .zip file or a .zarr directory")
    if src.is_dir():
        zips = sorted(p for p in src.iterdir() if p.is_file() and zipfile.is_zipfile(p))
        if len(zips) > 1:
            raise SubmissionError(f"{src} holds {len(zips)} zip files; it must hold exactly one, or none")
        if zips:
            warnings.append(f"{src} holds the zip {zips[0].name}; scoring that zip")
            src = zips[0]
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise SubmissionError(f"submission {src} is neither a directory nor a zip file")
        root = extract_zip(src, work_dir / "submission.zarr", limits, broken)
    else:
        root = src
    nested = _zarr_folders_below(root)
    if len(nested) > 1:
        shown = ", ".join(str(p.relative_to(root)) for p in nested[:5])
        raise SubmissionError(f"{src} contains {len(nested)} Zarr folders ({shown}); it must contain one")
    entries = {p.name: p for p in _subdirs(root)}
    if nested:
        inner = nested[0]
        warnings.append(f"the submission's Zarr root is the nested folder {inner.relative_to(root)}")
        ancestors = {q.name for q in [inner, *inner.relative_to(root).parents] if str(q) != "."}
        entries = {n: p for n, p in entries.items() if n not in ancestors}
        entries.update({p.name: p for p in _subdirs(inner)})
        root = inner
    return root, entries, warnings


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir())


def match_crops(entries: dict[str, Path], truth_crops: list[str]) -> tuple[dict[str, Path], list[str], list[str]]:
    """Match submission folders to truth crops with the official prefix rule.

    Returns ``(found, missing, extra)``; raises SubmissionError when nothing matches.

    Examples
    --------
    >>> found, missing, extra = match_crops({"110": Path("s/110"), "x": Path("s/x")}, ["crop110", "crop111"])
    >>> sorted(found), missing, extra
    (['crop110'], ['crop111'], ['x'])
    """
    truth = set(truth_crops)
    found = {n: p for n, p in entries.items() if n in truth}
    if not found:
        found = {"crop" + n: p for n, p in entries.items() if "crop" + n in truth}
        used = {p.name for p in found.values()}
    else:
        used = set(found)
    if not found:
        raise SubmissionError(
            "No volumes found to score. Make sure the submission is formatted correctly: "
            f"its crop folders ({', '.join(sorted(entries)[:5]) or 'none'}) must be named like the "
            f"truth crops ({', '.join(sorted(truth)[:5])})"
        )
    missing = [c for c in truth_crops if c not in found]
    extra = sorted(n for n in entries if n not in used and not n.startswith((".", "__")))  # __MACOSX etc.
    return dict(sorted(found.items())), missing, extra


def discover(path: str | os.PathLike, truth_crops: list[str], work_dir: Path,
             limits: ZipLimits = ZipLimits()) -> SubmissionLayout:
    """Open the submission at `path` and match its crop folders to `truth_crops`."""
    broken: dict[str, tuple[Path, str]] = {}
    root, entries, warnings = resolve_submission(path, work_dir, limits, broken)
    found, missing, extra = match_crops(entries, truth_crops)
    if any(p.name != c for c, p in found.items()):
        warnings.append("crop folders are named without the 'crop' prefix; matched as crop<N>")
    if extra:
        warnings.append(f"submission folders not in the truth are ignored: {', '.join(extra[:10])}")
    layout = SubmissionLayout(root, found, missing, extra, warnings, broken)
    for member, (p, reason) in sorted(broken.items()):
        if not any(layout.broken_input(c, lab) for c, d in found.items() for lab in _labels_of(d)):
            warnings.append(f"zip member {member!r} is corrupt ({reason}) and was left out")
    return layout


def _labels_of(folder: Path) -> list[str]:
    return [p.name for p in _subdirs(folder)]


def remove_work_dir(work_dir: Path) -> None:
    shutil.rmtree(work_dir, ignore_errors=True)


__all__ = ["ZipLimits", "SubmissionLayout", "check_zip", "extract_zip", "resolve_submission",
           "match_crops", "discover", "remove_work_dir"]
