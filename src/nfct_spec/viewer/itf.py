"""Plain ITF export and import, so Apalache and Quint tools can open our traces.

Our trace files are already ITF documents, with two extensions that generic ITF readers do not
know: integers are plain JSON numbers, and each state's `#meta` carries the action and its
arguments. The plain form follows the ITF spec strictly: every integer is `{"#bigint": "..."}`
and the step is recorded the way Quint's model-based-testing traces record it, as two more
state variables, `mbt::actionTaken` (the action name; `init` for the first state) and
`mbt::nondetPicks` (a record of the arguments, each `{"tag": "Some", "value": ...}`). The
config and the finding stay in the top-level `#meta`, which ITF leaves free.

The codec is written here rather than taken from the `itf-py` package: that package decodes
to its own namedtuple and frozendict values (we need the model's typed records, which
`nfct_spec.traces` already decodes, free memory slots included). The tests use it, where
installed, as an independent reader of what we export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nfct_spec.files import load_json
from nfct_spec.traces import VARS, Trace, TraceError, trace_from_json, trace_to_json

ACTION_VAR = "mbt::actionTaken"
PICKS_VAR = "mbt::nondetPicks"
PLAIN_VARS = [*VARS, ACTION_VAR, PICKS_VAR]


def _bigints(value: Any) -> Any:
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return {"#bigint": str(value)}
    if isinstance(value, list):
        return [_bigints(v) for v in value]
    if isinstance(value, dict):
        return {k: _bigints(v) for k, v in value.items()}
    return value


def _ints(value: Any, path: str) -> Any:
    if isinstance(value, list):
        return [_ints(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if set(value) == {"#bigint"}:
            text = value["#bigint"]
            try:
                return int(text)
            except (TypeError, ValueError):
                raise TraceError(f"{path}: malformed #bigint {text!r}") from None
        return {k: _ints(v, f"{path}.{k}") for k, v in value.items()}
    return value


def to_plain_itf(trace: Trace) -> dict[str, Any]:
    """The plain ITF document of a trace (see the module docstring)."""
    doc = trace_to_json(trace)
    states = []
    for state in doc["states"]:
        meta = state["#meta"]
        picks = {k: {"tag": "Some", "value": v} for k, v in meta["args"].items()}
        states.append(
            {
                "#meta": {"index": meta["index"]},
                "kernel": _bigints(state["kernel"]),
                "ghost": _bigints(state["ghost"]),
                ACTION_VAR: meta["action"],
                PICKS_VAR: _bigints(picks),
            }
        )
    plain: dict[str, Any] = {"#meta": doc["#meta"], "vars": PLAIN_VARS, "states": states}
    if trace.loop is not None:
        plain["loop"] = trace.loop
    return plain


def _args(picks: Any, where: str) -> dict[str, Any]:
    if not isinstance(picks, dict):
        raise TraceError(f"{where}.{PICKS_VAR}: expected a record")
    args: dict[str, Any] = {}
    for name, pick in picks.items():
        if not isinstance(pick, dict) or pick.get("tag") not in ("Some", "None"):
            raise TraceError(f"{where}.{PICKS_VAR}.{name}: expected {{'tag': 'Some', ...}}")
        if pick["tag"] == "Some":
            args[name] = _ints(pick.get("value"), f"{where}.{PICKS_VAR}.{name}")
    return args


def from_plain_itf(doc: Any) -> Trace:
    """A trace from a plain ITF document written by `to_plain_itf` (or by a tool that keeps
    its variables and `mbt::` fields); TraceError names the field and state at fault."""
    if not isinstance(doc, dict):
        raise TraceError("trace: the top level must be a JSON object")
    if not isinstance(doc.get("vars"), list) or sorted(doc["vars"]) != sorted(PLAIN_VARS):
        raise TraceError(f"vars: expected {PLAIN_VARS}")
    states_data = doc.get("states")
    if not isinstance(states_data, list) or not states_data:
        raise TraceError("states: missing or empty")
    states = []
    for i, state in enumerate(states_data):
        where = f"states[{i}]"
        if not isinstance(state, dict):
            raise TraceError(f"{where}: expected an object")
        for var in PLAIN_VARS:
            if var not in state:
                raise TraceError(f"{where}.{var}: missing")
        action = state[ACTION_VAR]
        if not isinstance(action, str):
            raise TraceError(f"{where}.{ACTION_VAR}: expected a string")
        states.append(
            {
                "#meta": {"index": i, "action": action, "args": _args(state[PICKS_VAR], where)},
                "kernel": _ints(state["kernel"], f"{where}.kernel"),
                "ghost": _ints(state["ghost"], f"{where}.ghost"),
            }
        )
    ours: dict[str, Any] = {"#meta": doc.get("#meta"), "vars": VARS, "states": states}
    loop = doc.get("loop")
    if loop is not None:
        ours["loop"] = _ints(loop, "loop")
    return trace_from_json(ours)


def load_plain_itf(path: str | Path) -> Trace:
    """Read a plain ITF file; InputError (one line naming the file and the field) on any
    problem."""
    return load_json(path, "ITF trace", from_plain_itf)
