"""Bad input, table-driven: every command that reads a file or an argument, given something it
cannot use, exits 2 with exactly one line on stderr and no traceback, and leaves every file
of the user's byte-identical (and creates nothing in the user's folder).

Each case builds its input in a fresh workspace, the whole workspace is fingerprinted (every
path with its type and, for a regular file, the SHA-256 of its bytes), the command runs, and
the fingerprint must not have changed. Most cases run `main()` in this process; the
permission cases run `python -m nfct_spec` in a child process (see `_without_dac_override`).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import interruptible, step
from nfct_spec.cli import main
from nfct_spec.files import InputError
from nfct_spec.minimize import replay_steps
from nfct_spec.models.presets import preset
from nfct_spec.models.state import initial_state
from nfct_spec.outdir import MARKER
from nfct_spec.traces import make_trace, save_trace, trace_from_json, trace_to_json

Setup = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    """A bad input: `setup` writes what it needs into the workspace and returns the command
    line; `expect` is a fragment of the one-line error."""

    id: str
    setup: Setup
    expect: str


def _trace_doc() -> dict[str, object]:
    """A valid trace (table-bound on 2.6.31, five steps), as its JSON document."""
    config = preset("ci", "2.6.31")
    steps = [
        step("nf_conntrack_in", flow=0, packet="new", slot=0),
        step("nf_conntrack_in", flow=2, packet="new", slot=1),
        step("__nf_conntrack_confirm", slot=1),
        step("nf_conntrack_in", flow=1, packet="new", slot=2),
        step("early_drop", victim=1),
    ]
    path = replay_steps(config, steps)
    assert path is not None
    meta = {"property": "table-bound", "finding": "violated", "step": 5, "variant": "2.6.31"}
    return trace_to_json(make_trace(config, path, initial_state(config), meta))


TRACE = json.dumps(_trace_doc(), indent=1) + "\n"
CONFIG = json.dumps(preset("tiny", "2.6.31").to_json(), indent=1) + "\n"


def _write(ws: Path, name: str, content: str | bytes) -> str:
    path = ws / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def _config(change: dict[str, object]) -> str:
    return json.dumps({**preset("tiny", "2.6.31").to_json(), **change})


def _trace(mutate: Callable[[dict[str, object]], object]) -> str:
    doc = _trace_doc()
    mutate(doc)
    return json.dumps(doc)


def _state(doc: dict[str, object], index: int) -> dict[str, object]:
    states = doc["states"]
    assert isinstance(states, list)
    item = states[index]
    assert isinstance(item, dict)
    return item


def _out(ws: Path, results: str | bytes | None = None) -> str:
    """A marked output folder (one an earlier run made), with a results.json if given."""
    out = ws / "out"
    out.mkdir()
    (out / MARKER).write_text("written by nfct-spec\n", encoding="utf-8")
    if results is not None:
        _write(out, "results.json", results)
    return str(out)


def _results(rows: object) -> str:
    return json.dumps({"tool": {"nfct-spec": "0"}, "results": rows})


ROW = {
    "property": "table-bound",
    "variant": "2.6.31",
    "engine": "hypothesis",
    "verdict": "violated",
    "expected": "violated",
    "status": "ok",
    "as_expected": True,
    "scope": "",
    "reason": "",
}


def _dangling(ws: Path, name: str) -> str:
    os.symlink(ws / "nowhere" / "gone.json", ws / name)
    return str(ws / name)


def _fifo(ws: Path) -> str:
    os.mkfifo(ws / "pipe.json")
    return str(ws / "pipe.json")


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


CASES = [
    Case("config missing", lambda ws: ["check", "--config", str(ws / "absent.json")], "no such"),
    Case("config is a folder", lambda ws: ["check", "--config", str(ws)], "a folder, not a file"),
    Case(
        "config not UTF-8",
        lambda ws: ["check", "--config", _write(ws, "c.json", b"\xff\xfe{}")],
        "not UTF-8 text (byte 0xff at offset 0)",
    ),
    Case("config empty", lambda ws: ["check", "--config", _write(ws, "c.json", "")], "empty"),
    Case(
        "config truncated",
        lambda ws: ["check", "--config", _write(ws, "c.json", CONFIG[: len(CONFIG) // 2])],
        "JSON ends early",
    ),
    Case(
        "config invalid JSON",
        lambda ws: ["explore", "--config", _write(ws, "c.json", '{"variant": 2.6.31}')],
        "invalid JSON at line 1 column",
    ),
    Case(
        "config number too large to parse",
        lambda ws: ["explore", "--config", _write(ws, "c.json", '{"flows": ' + "9" * 5000 + "}")],
        "a number with more than 4300 digits",
    ),
    Case(
        "config nested too deeply for the parser",
        lambda ws: ["explore", "--config", _write(ws, "c.json", _nested(100_000))],
        "nested too deeply",
    ),
    Case(
        "config nested deeper than any file of ours",
        lambda ws: ["explore", "--config", _write(ws, "c.json", _nested(500))],
        "nested too deeply",
    ),
    Case(
        "config top level a list",
        lambda ws: ["check", "--config", _write(ws, "c.json", "[]")],
        "the top level must be a JSON object",
    ),
    Case(
        "config field of the wrong type",
        lambda ws: ["check", "--config", _write(ws, "c.json", _config({"flows": "two"}))],
        "field 'flows'",
    ),
    Case(
        "config list where a name is expected",
        lambda ws: [
            "explore",
            "--config",
            _write(ws, "c.json", _config({"event_bits": [["NEW"]]})),
        ],
        "field 'event_bits[0]'",
    ),
    Case(
        "config missing field of a listener",
        lambda ws: ["check", "--config", _write(ws, "c.json", _config({"listeners": [{}]}))],
        "listeners[0]",
    ),
    Case(
        "config NaN",
        lambda ws: ["check", "--config", _write(ws, "c.json", '{"flows": NaN}')],
        "NaN is not a JSON number",
    ),
    Case(
        "config duplicate key",
        lambda ws: ["check", "--config", _write(ws, "c.json", '{"flows": 1, "flows": 2}')],
        "duplicate key 'flows'",
    ),
    Case(
        "config symlink to nowhere",
        lambda ws: ["check", "--config", _dangling(ws, "c.json")],
        "a symbolic link to a missing file",
    ),
    Case("config is a FIFO", lambda ws: ["check", "--config", _fifo(ws)], "a FIFO, not a file"),
    Case(
        "trace truncated",
        lambda ws: ["replay", _write(ws, "t.json", TRACE[:-40])],
        "JSON ends early",
    ),
    Case(
        "trace missing its config",
        lambda ws: ["replay", _write(ws, "t.json", _trace(lambda d: d["#meta"].pop("config")))],
        "#meta.config: missing",
    ),
    Case(
        "trace field of the wrong type",
        lambda ws: [
            "trace",
            "show",
            _write(ws, "t.json", _trace(lambda d: _state(d, 2)["kernel"].update(count="x"))),
        ],
        "states[2].kernel.count",
    ),
    Case(
        "trace step argument of the wrong type",
        lambda ws: [
            "trace",
            "show",
            _write(ws, "t.json", _trace(lambda d: _state(d, 1)["#meta"]["args"].update(flow={}))),
        ],
        "states[1].#meta.args.flow",
    ),
    Case(
        "trace in a folder that is a file",
        lambda ws: ["trace", "show", str(Path(_write(ws, "notes.txt", "mine")) / "t.json")],
        "no such file",
    ),
    Case(
        "trace show of a flow it does not have",
        lambda ws: ["trace", "show", _write(ws, "t.json", TRACE), "--flow", "99"],
        "--flow",
    ),
    Case(
        "trace html over a user's file",
        lambda ws: [
            "trace",
            "html",
            _write(ws, "t.json", TRACE),
            "-o",
            _write(ws, "page.html", "<p>my page</p>"),
        ],
        "was not written by nfct-spec",
    ),
    Case(
        "trace html into a folder",
        lambda ws: ["trace", "html", _write(ws, "t.json", TRACE), "-o", str(ws)],
        "a folder, not a file",
    ),
    Case(
        "trace minimize under a file",
        lambda ws: [
            "trace",
            "minimize",
            _write(ws, "t.json", TRACE),
            "-o",
            str(Path(_write(ws, "notes.txt", "mine")) / "min.json"),
        ],
        "a file is in the way",
    ),
    Case(
        "trace minimize next to an existing file of the default name",
        lambda ws: ["trace", "minimize", _beside(ws, "t.min.json")],
        "exists; name the output with -o",
    ),
    Case(
        "trace pytest to a symlink to nowhere",
        lambda ws: ["trace", "pytest", _write(ws, "t.json", TRACE), "-o", _dangling(ws, "t.py")],
        "a symbolic link to a missing file",
    ),
    Case(
        "trace itf-export over a user's file",
        lambda ws: [
            "trace",
            "itf-export",
            _write(ws, "t.json", TRACE),
            "-o",
            _write(ws, "notes.json", '{"mine": true}'),
        ],
        "was not written by nfct-spec",
    ),
    Case(
        "itf-import of a trace that is not plain ITF",
        lambda ws: [
            "trace",
            "itf-import",
            _write(ws, "t.json", TRACE),
            "-o",
            str(ws / "back.json"),
        ],
        "vars: expected",
    ),
    Case(
        "results with a rows field of the wrong type",
        lambda ws: ["doc", "--results", _write(ws, "r.json", _results({})), "-o", str(ws / "d")],
        "results: expected a list, got an object",
    ),
    Case(
        "results naming a path outside the output folder",
        lambda ws: [
            "doc",
            "--results",
            _write(ws, "r.json", _results([{**ROW, "variant": "../../etc"}])),
            "-o",
            str(ws / "d"),
        ],
        "is not a plain name",
    ),
    Case(
        "results missing a field",
        lambda ws: [
            "doc",
            "--results",
            _write(ws, "r.json", _results([{k: v for k, v in ROW.items() if k != "engine"}])),
            "-o",
            str(ws / "d"),
        ],
        "results[0]: missing field 'engine'",
    ),
    Case(
        "earlier results cut short by an interrupted run",
        lambda ws: ["check", "--out", _out(ws, _results([ROW])[:-9]), "--variant", "2.6.30"],
        "JSON ends early",
    ),
    Case(
        "earlier results that are a folder",
        lambda ws: ["prove", "--out", _results_folder(ws), "--variant", "2.6.30"],
        "a folder, not a file",
    ),
    Case(
        "earlier results of the wrong shape",
        lambda ws: [
            "explore",
            "--out",
            _out(ws, json.dumps({"results": [ROW], "runs": []})),
            "--variant",
            "2.6.30",
        ],
        "runs: expected an object, got a list",
    ),
    Case(
        "an output folder that is a user's file",
        lambda ws: ["check", "--out", _write(ws, "notes.txt", "mine"), "--variant", "2.6.30"],
        "exists and is not a folder",
    ),
    Case(
        "a user's folder as output folder",
        lambda ws: ["kernel", "check", "--out", str(Path(_write(ws, "notes.txt", "mine")).parent)],
        "not created by nfct-spec",
    ),
    Case("prove timeout NaN", lambda ws: ["prove", "--timeout", "nan"], "--timeout"),
    Case("prove timeout negative", lambda ws: ["prove", "--timeout", "-1"], "--timeout"),
    Case("prove no worker", lambda ws: ["prove", "--jobs", "0"], "--jobs"),
    Case("explore no states", lambda ws: ["explore", "--max-states", "0"], "--max-states"),
    Case(
        "explore huge number argument",
        lambda ws: ["explore", "--max-states", "9" * 5000],
        "invalid int value",
    ),
    Case("check seed not an integer", lambda ws: ["check", "--seed", "1e3"], "invalid int value"),
    Case("unknown option", lambda ws: ["check", "--frobnicate"], "unrecognized arguments"),
    Case("unknown command", lambda ws: ["frobnicate"], "invalid choice"),
    Case("unknown variant", lambda ws: ["check", "--variant", "2.4"], "unknown variant"),
    Case("unknown property", lambda ws: ["prove", "--property", "nope"], "unknown property"),
    Case(
        "kernel parameter of the wrong type",
        lambda ws: ["kernel", "run", "reliable-flush", "-p", "flows=many"],
        "expected a number",
    ),
    Case(
        "kernel parameter it does not have",
        lambda ws: ["kernel", "run", "reliable-flush", "-p", "nope=1"],
        "unknown parameter 'nope'",
    ),
    Case(
        "kernel parameter without a value",
        lambda ws: ["kernel", "run", "reliable-flush", "-p", "flows"],
        "expected KEY=VALUE",
    ),
    Case(
        "kernel recording over a user's file",
        lambda ws: ["kernel", "run", "expiry", "-o", _write(ws, "notes.txt", "mine")],
        "was not written by nfct-spec",
    ),
]


def _beside(ws: Path, name: str) -> str:
    """A trace with a file of the user's where its default output would go."""
    _write(ws, name, "mine")
    return _write(ws, "t.json", TRACE)


def _results_folder(ws: Path) -> str:
    out = Path(_out(ws))
    (out / "results.json").mkdir()
    return str(out)


def fingerprint(root: Path) -> dict[str, str]:
    """Every path under `root` with its type, link target or content hash (a FIFO is not
    opened: that would block)."""
    prints: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            prints[key] = f"link -> {os.readlink(path)}"
        elif stat.S_ISDIR(mode):
            prints[key] = f"folder {stat.S_IMODE(mode):o}"
        elif stat.S_ISREG(mode):
            prints[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            prints[key] = f"special {stat.S_IFMT(mode):o}"
    return prints


def _assert_one_line_error(code: int, err: str, expect: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("nfct-spec: error: "), err
    assert expect in err, err


def test_there_are_at_least_thirty_kinds_of_bad_input() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_in_one_line_and_leaves_every_file_as_it_was(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    args = case.setup(ws)
    before = fingerprint(ws)
    code = main(args)
    _assert_one_line_error(code, capsys.readouterr().err, case.expect)
    assert fingerprint(ws) == before


def _cli(args: list[str], drop_privileges: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nfct_spec", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_without_dac_override if drop_privileges else None,
    )


CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2
PR_CAPBSET_DROP = 24


def _without_dac_override() -> None:
    """Run the child as if permissions applied to it. The tests run as root, whose
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH ignore file modes; dropping both from the
    bounding set before exec leaves root without them, so a mode of 000 or 555 is enforced
    as for any user (no bind mount or chattr needed, nothing outside the test's folder)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


PERMISSION_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    (
        "an output folder without write permission",
        lambda ws: ["check", "--out", str(ws / "ro" / "out"), "--variant", "2.6.30"],
        "output folder",
    ),
    (
        "a page into a folder without write permission",
        lambda ws: ["trace", "html", str(ws / "t.json"), "-o", str(ws / "ro" / "page.html")],
        "cannot write there (permission denied)",
    ),
    (
        "a trace without read permission",
        lambda ws: ["replay", str(ws / "secret.json")],
        "permission denied",
    ),
]


@pytest.mark.parametrize(
    ("args", "expect"),
    [(a, e) for _, a, e in PERMISSION_CASES],
    ids=[i for i, _, _ in PERMISSION_CASES],
)
def test_a_permission_problem_exits_2_in_one_line_and_leaves_every_file_as_it_was(
    tmp_path: Path, args: Callable[[Path], list[str]], expect: str
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    _write(ws, "t.json", TRACE)
    os.chmod(_write(ws, "secret.json", TRACE), 0)
    (ws / "ro").mkdir()
    _write(ws / "ro", "notes.txt", "mine")
    os.chmod(ws / "ro", 0o555)
    before = fingerprint(ws)
    result = _cli(args(ws), drop_privileges=True)
    _assert_one_line_error(result.returncode, result.stderr, expect)
    assert "permission denied" in result.stderr.lower()
    assert fingerprint(ws) == before


def test_an_interrupted_run_says_so_in_one_line_and_leaves_every_file_as_it_was(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    config = _write(ws, "config.json", json.dumps(preset("ci", "2.6.31").to_json()))
    _write(ws, "notes.txt", "mine")
    before = fingerprint(ws)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nfct_spec", "check", "--config", config, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 60
    while not (out / MARKER).exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err == "nfct-spec: interrupted\n"
    assert fingerprint(ws) == before
    assert not list(out.rglob("*.tmp")), "a half-written file was left behind"


def test_python_dash_m_nfct_spec_runs_the_command_line() -> None:
    result = _cli(["check", "--variant", "2.4"])
    _assert_one_line_error(result.returncode, result.stderr, "unknown variant")


def test_save_trace_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    mine = tmp_path / "mine.json"
    mine.write_text('{"mine": true}\n')
    with pytest.raises(InputError, match="was not written by nfct-spec"):
        save_trace(trace_from_json(_trace_doc()), mine)
    assert mine.read_text() == '{"mine": true}\n'
