"""The output folder: created by nfct-spec, marked as such, and never a folder of the user's.

A folder that exists, is not empty and has no marker was not made by nfct-spec: nothing is
written into it. Inside a marked folder, nfct-spec replaces only what it writes itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nfct_spec.files import InputError

MARKER = ".nfct-spec-out"
WHAT = "output folder"


def prepare(out: Path) -> Path:
    """Create or reuse the output folder; InputError if it is a file, someone else's, or
    cannot be written."""
    if out.is_symlink() and not out.exists():
        raise InputError(WHAT, out, "a symbolic link to a missing folder")
    if out.exists() and not out.is_dir():
        raise InputError(WHAT, out, "exists and is not a folder")
    try:
        foreign = out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists()
    except PermissionError:
        raise InputError(WHAT, out, "permission denied") from None
    if foreign:
        raise InputError(
            WHAT, out, "is not empty and was not created by nfct-spec; choose another with --out"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("written by nfct-spec\n", encoding="utf-8")
    except FileExistsError:
        raise InputError(WHAT, out, "cannot be created (a file is in the way)") from None
    except NotADirectoryError:
        raise InputError(WHAT, out, "cannot be created (a file is in the way)") from None
    except OSError as exc:
        raise InputError(WHAT, out, (exc.strerror or str(exc)).lower()) from None
    return out


def fresh_subdir(out: Path, name: str) -> Path:
    """An emptied sub-folder of a marked output folder (its old contents were ours)."""
    sub = out / name
    try:
        if sub.is_symlink() or sub.is_file():
            sub.unlink()
        elif sub.exists():
            shutil.rmtree(sub)
        sub.mkdir(parents=True)
    except OSError as exc:
        raise InputError(WHAT, sub, (exc.strerror or str(exc)).lower()) from None
    return sub
