"""Every file nfct-spec reads or writes goes through here, so that every problem with one is
the same kind of error: `InputError`, one line `<what> <path>: <problem>`, exit code 2.

Reading: a missing file, a dangling symbolic link, a folder or a FIFO where a file is expected,
a permission problem, bytes that are not UTF-8, an empty or truncated document, invalid JSON
(with its line and column), NaN or Infinity, a duplicate key, a number with more digits than
Python converts, nesting deeper than any file of ours has, and a top level of the wrong type
are each named. Decoders (`load_json(path, what, decode)`) raise `ShapeError` naming the field
at fault, and the loader adds the file; the `expect_*` helpers give those messages one form.

Writing: `write_text` replaces a file atomically (a temporary file in the same folder, then a
rename), so an interrupted run never leaves half a file behind, and it never replaces a file
that nfct-spec did not write: a caller passes the `signature` its files carry near their start,
and an existing file without it is the user's.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from nfct_spec.models.config import ConfigError

T = TypeVar("T")
PathLike = str | os.PathLike[str]

MAX_BYTES = 256 * 1024 * 1024
"""The largest file read: far above any trace or results file (a 500-step trace is a few MiB),
far below what would exhaust memory."""
MAX_DEPTH = 64
"""The deepest nesting of a JSON document read (ours nest at most about ten levels)."""
SIGNATURE_BYTES = 4096
"""How much of an existing file is searched for the signature of nfct-spec's files."""


class InputError(ValueError):
    """A file (or a path given for one) that nfct-spec cannot use: `<what> <path>: <problem>`."""

    def __init__(self, what: str, path: PathLike, problem: str) -> None:
        self.what = what
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{what} {path}: {problem}")


class ShapeError(ValueError):
    """A decoded document is not what its reader expects; the message names the field (the
    loader adds which file)."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _os_problem(exc: OSError, path: Path) -> str:
    """What an OSError on `path` means, in words."""
    if isinstance(exc, FileNotFoundError):
        if path.is_symlink():
            return f"a symbolic link to a missing file ({os.readlink(path)})"
        return "no such file"
    if isinstance(exc, NotADirectoryError):
        return "no such file (a folder on the way is a file)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "a folder, not a file"
    return exc.strerror or str(exc)


def read_bytes(path: PathLike, what: str) -> bytes:
    """The contents of a regular file; InputError for anything else at `path`."""
    where = Path(path)
    try:
        info = where.stat()
        if stat.S_ISDIR(info.st_mode):
            raise InputError(what, path, "a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(what, path, f"{_kind(info.st_mode)}, not a file")
        if info.st_size > MAX_BYTES:
            raise InputError(what, path, f"too large ({info.st_size} bytes; at most {MAX_BYTES})")
        with where.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(what, path, _os_problem(exc, where)) from None


def read_text(path: PathLike, what: str) -> str:
    """A UTF-8 text file (a leading byte-order mark is dropped)."""
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        raise InputError(
            what, path, f"not UTF-8 text (byte 0x{byte:02x} at offset {exc.start})"
        ) from None


class _Rejected(ValueError):
    """Raised by the parser hooks: valid to Python's json module, not to us."""


def _no_constants(name: str) -> Any:
    raise _Rejected(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Rejected(f"duplicate key {key!r}")
        out[key] = value
    return out


def _depth(data: Any) -> int:
    """The nesting depth of a parsed document, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                items: Iterable[Any] = value.values() if isinstance(value, dict) else value
                stack.extend((item, depth + 1) for item in items)
    return deepest


def parse_json(text: str, what: str, path: PathLike) -> Any:
    """Parse a JSON document; InputError says what is wrong and where."""
    if not text.strip():
        raise InputError(what, path, "empty (no JSON document in it)")
    try:
        data = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno} column {exc.colno}"
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise InputError(what, path, f"JSON ends early at {at} (truncated?)") from None
        raise InputError(what, path, f"invalid JSON at {at}: {exc.msg}") from None
    except _Rejected as exc:
        raise InputError(what, path, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise InputError(what, path, "JSON nested too deeply") from None
    except ValueError:
        # The only other ValueError of json.loads: an integer with more digits than
        # int() converts (sys.get_int_max_str_digits(), CVE-2020-10735).
        limit = sys.get_int_max_str_digits()
        raise InputError(what, path, f"a number with more than {limit} digits") from None
    if _depth(data) > MAX_DEPTH:
        raise InputError(what, path, f"JSON nested too deeply (more than {MAX_DEPTH} levels)")
    return data


def read_json(path: PathLike, what: str) -> Any:
    """A JSON file, parsed."""
    return parse_json(read_text(path, what), what, path)


def load_json(path: PathLike, what: str, decode: Callable[[Any], T]) -> T:
    """A JSON file decoded by `decode`, whose ShapeError or ConfigError (naming the field)
    becomes an InputError naming the file too."""
    data = read_json(path, what)
    try:
        return decode(data)
    except (ShapeError, ConfigError) as exc:
        raise InputError(what, path, str(exc)) from None


def describe(value: object) -> str:
    """The JSON type of a value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expect_object(value: object, where: str) -> dict[str, Any]:
    """`value` if it is a JSON object; ShapeError naming `where` otherwise."""
    if not isinstance(value, dict):
        raise ShapeError(f"{where}: expected an object, got {describe(value)}")
    return value


def expect_list(value: object, where: str) -> list[Any]:
    """`value` if it is a JSON list."""
    if not isinstance(value, list):
        raise ShapeError(f"{where}: expected a list, got {describe(value)}")
    return value


def expect_str(value: object, where: str) -> str:
    """`value` if it is a string."""
    if not isinstance(value, str):
        raise ShapeError(f"{where}: expected a string, got {describe(value)}")
    return value


def expect_int(value: object, where: str) -> int:
    """`value` if it is an integer (true and false are not)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"{where}: expected an integer, got {describe(value)}")
    return value


def expect_bool(value: object, where: str) -> bool:
    """`value` if it is true or false."""
    if not isinstance(value, bool):
        raise ShapeError(f"{where}: expected true or false, got {describe(value)}")
    return value


def field(obj: dict[str, Any], name: str, where: str) -> Any:
    """`obj[name]`; ShapeError when the field is missing."""
    if name not in obj:
        raise ShapeError(f"{where}: missing field {name!r}")
    return obj[name]


def no_extra(obj: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    """ShapeError naming the first field of `obj` that is not `allowed`."""
    extra = sorted(set(obj) - set(allowed))
    if extra:
        raise ShapeError(f"{where}: unknown field {extra[0]!r}")


def _target(path: Path, what: str) -> Path:
    """Where a write to `path` lands: the file itself, or the file a symbolic link names."""
    if path.is_symlink():
        if not path.exists():
            raise InputError(what, path, f"a symbolic link to a missing file ({os.readlink(path)})")
        return path.resolve()
    return path


def _written_by_us(path: Path, what: str, signature: str) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(SIGNATURE_BYTES)
    except OSError as exc:
        raise InputError(what, path, _os_problem(exc, path)) from None
    return signature.encode("utf-8") in head


def check_output(path: PathLike, what: str, signature: str | None) -> Path:
    """Check, before any work is done and without leaving anything behind, that `path` can
    be written: not a folder, not a file of the user's (one without `signature`; with None
    every existing regular file may be replaced: the caller owns the folder), and the nearest
    existing folder on the way accepts new files (missing folders are made when writing).
    Returns the path the write will replace."""
    target = _target(Path(path), what)
    if target.is_dir():
        raise InputError(what, path, "a folder, not a file")
    if target.exists():
        if not target.is_file():
            raise InputError(what, path, "exists and is not a regular file")
        if signature is not None and not _written_by_us(target, what, signature):
            raise InputError(
                what, path, "exists and was not written by nfct-spec; choose another name"
            )
    folder = target.parent
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(what, path, "cannot create its folder (a file is in the way)")
    _probe(folder / target.name, what, path)
    return target


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def _probe(target: Path, what: str, path: PathLike) -> None:
    """Create and remove a temporary file next to `target`: the folder accepts new files."""
    tmp = _temporary(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise InputError(what, path, f"cannot write there ({_os_problem(exc, tmp)})") from None
    os.close(fd)
    tmp.unlink()


def write_text(path: PathLike, text: str, what: str, signature: str | None) -> Path:
    """Write `text` to `path` atomically (see `check_output` for what is refused)."""
    target = check_output(path, what, signature)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = _os_problem(exc, target.parent)
        raise InputError(what, path, f"cannot create its folder ({problem})") from None
    tmp = _temporary(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise InputError(what, path, f"cannot write ({_os_problem(exc, tmp)})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return Path(path)
