"""The output folder: created by nfct-spec, marked as such, and never a folder of the user's.

A folder that exists, is not empty and has no marker was not made by nfct-spec: nothing is
written into it. Inside a marked folder, nfct-spec replaces only what it writes itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MARKER = ".nfct-spec-out"


class OutDirError(ValueError):
    """The output folder cannot be used; the message says why."""


def prepare(out: Path) -> Path:
    """Create or reuse the output folder; OutDirError if it is a file or someone else's."""
    if out.exists() and not out.is_dir():
        raise OutDirError(f"output folder {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OutDirError(
            f"output folder {out} is not empty and was not created by nfct-spec; "
            "choose another with --out"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("written by nfct-spec\n", encoding="utf-8")
    except OSError as exc:
        raise OutDirError(f"output folder {out}: {exc.strerror}") from None
    return out


def fresh_subdir(out: Path, name: str) -> Path:
    """An emptied sub-folder of a marked output folder (its old contents were ours)."""
    sub = out / name
    if sub.exists():
        shutil.rmtree(sub)
    sub.mkdir(parents=True)
    return sub
