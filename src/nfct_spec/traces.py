"""Traces: one JSON format for every engine's counterexample or witness.

The format is ITF (the Apalache/Quint trace format): a top-level `#meta`, `vars`, `states`
and, for lassos, `loop` (the index of the state the last state returns to). Each state's
`#meta` holds the index, the action that produced it and its arguments, so a trace replays
without search. The model state is encoded as two ITF records, `kernel` and `ghost`, one field
per field of the model's records (`Kernel`, `Conntrack`, `Socket`, `Message`; `Ghost`,
`Record`, `Seen`); fixed-size tuples are ITF tuples (`#tup`), sequences JSON arrays.

ITF has no null. A memory slot of `Kernel.cts` is an ITF variant: `{"tag": "Allocated",
"value": {...the conntrack...}}`, or `{"tag": "Free", "value": "U_OF_UNIT"}` for a free slot
(Apalache's unit value), so generic ITF readers such as itf-py read it as a tagged union.

Traces written before memory slots (conntracks numbered by allocation: `max_conntracks` in
the config, `uid` and `ctid` fields) are refused with a message saying so: they name
conntracks this model cannot name, so they cannot be converted.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from nfct_spec import __version__
from nfct_spec.files import ShapeError, load_json, write_text
from nfct_spec.models.config import Config, ConfigError, config_from_json
from nfct_spec.models.observers import Ghost
from nfct_spec.models.registry import Step, step_from_json, step_to_json
from nfct_spec.models.sourcedoc import field_types
from nfct_spec.models.state import Conntrack, Kernel, Message, State

ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
VARS = ["kernel", "ghost"]
ALLOCATED = "Allocated"
FREE = "Free"
UNIT = "U_OF_UNIT"
"""The tags of a memory slot's variant, and the unit value of a free one."""

OLDER = (
    "written by an older nfct-spec (conntracks numbered by allocation); this version's model "
    "names memory slots: produce the trace again"
)
_OLD_FIELDS: dict[type, frozenset[str]] = {
    Conntrack: frozenset({"uid", "ctid"}),
    Message: frozenset({"ctid"}),
    Kernel: frozenset({"count"}),
    Ghost: frozenset({"identity", "generated", "pending", "reporting", "got", "dropped", "since"}),
}
SIGNATURE = '"source": "nfct-spec '
"""Near the start of every trace file nfct-spec writes (`#meta.source`): only such a file is
ever replaced by a trace."""


class TraceError(ShapeError):
    """A trace that cannot be used; the message names the field and step."""


@dataclass(frozen=True)
class Trace:
    """A decoded trace: config, states, the step into each state after the first, metadata."""

    config: Config
    states: tuple[State, ...]
    steps: tuple[Step, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    loop: int | None = None

    @property
    def property_id(self) -> str | None:
        """The property the trace is about, if any."""
        value = self.meta.get("property")
        return str(value) if value is not None else None


def _is_record(hint: Any) -> bool:
    """A NamedTuple class of the model state."""
    return isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields")


@cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a record class."""
    return field_types(cls)


def _optional(hint: Any) -> Any:
    """`T` for a hint `T | None`, else None."""
    if typing.get_origin(hint) not in (types.UnionType, typing.Union):
        return None
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 and len(typing.get_args(hint)) == 2 else None


def _encode(value: Any, hint: Any) -> Any:
    """Encode with the declared type: fixed-size tuples become ITF `#tup`, an optional value
    a variant (see the module docstring)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if _is_record(hint):
        hints = _hints(hint)
        return {name: _encode(getattr(value, name), hints[name]) for name in hint._fields}
    inner = _optional(hint)
    if inner is not None:
        if value is None:
            return {"tag": FREE, "value": UNIT}
        return {"tag": ALLOCATED, "value": _encode(value, inner)}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return [_encode(v, args[0]) for v in value]
    if origin is tuple:
        return {"#tup": [_encode(v, a) for v, a in zip(value, args, strict=True)]}
    return value


def _decode_record(data: Any, hint: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise TraceError(f"{path}: expected an object")
    hints = _hints(hint)
    names: tuple[str, ...] = hint._fields
    for name in data:
        if name not in names:
            if name in _OLD_FIELDS.get(hint, ()):
                raise TraceError(f"{path}.{name}: {OLDER}")
            raise TraceError(f"{path}.{name}: unknown field")
    defaults: dict[str, Any] = hint._field_defaults
    values = {}
    for name in names:
        if name in data:
            values[name] = _decode(data[name], hints[name], f"{path}.{name}")
        elif name not in defaults:
            raise TraceError(f"{path}.{name}: missing")
    return hint(**values)


def _decode_optional(data: Any, inner: Any, path: str) -> Any:
    tag = data.get("tag") if isinstance(data, dict) and set(data) == {"tag", "value"} else None
    if tag == FREE:
        if data["value"] != UNIT:
            raise TraceError(f"{path}.value: a free slot's value must be {UNIT!r}")
        return None
    if tag == ALLOCATED:
        return _decode(data["value"], inner, f"{path}.value")
    raise TraceError(
        f"{path}: expected an ITF variant {{'tag': '{ALLOCATED}' or '{FREE}', 'value': ...}}"
    )


def _decode(data: Any, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if _is_record(hint):
        return _decode_record(data, hint, path)
    inner = _optional(hint)
    if inner is not None:
        return _decode_optional(data, inner, path)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(data, list):
            raise TraceError(f"{path}: expected a list")
        return tuple(_decode(v, args[0], f"{path}[{i}]") for i, v in enumerate(data))
    if origin is tuple:
        if not isinstance(data, dict) or not isinstance(data.get("#tup"), list):
            raise TraceError(f"{path}: expected an ITF tuple {{'#tup': [...]}}")
        items = data["#tup"]
        if len(items) != len(args):
            raise TraceError(f"{path}: expected a tuple of {len(args)}")
        return tuple(
            _decode(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(items, args, strict=True))
        )
    if hint is bool:
        if not isinstance(data, bool):
            raise TraceError(f"{path}: expected true or false")
        return data
    if hint is int:
        if isinstance(data, dict) and "#bigint" in data:
            try:
                return int(data["#bigint"])
            except (TypeError, ValueError):
                raise TraceError(f"{path}: malformed #bigint") from None
        if isinstance(data, bool) or not isinstance(data, int):
            raise TraceError(f"{path}: expected an integer")
        return data
    if hint is str:
        if not isinstance(data, str):
            raise TraceError(f"{path}: expected a string")
        return data
    raise TraceError(f"{path}: unsupported type {hint!r}")


def _check_arg(value: Any, where: str) -> None:
    """A step argument is an integer, a string or a list of integers (`ArgValue`)."""
    if isinstance(value, list):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return
    elif isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return
    raise TraceError(f"{where}: expected an integer, a string or a list of integers")


def encode_state(state: State, index: int, step: Step | None) -> dict[str, Any]:
    """One ITF state: `#meta` (index, action, args) plus the `kernel` and `ghost` records."""
    meta: dict[str, Any] = {"index": index}
    if step is None:
        meta.update(action="init", args={})
    else:
        meta.update(step_to_json(step))
    return {
        "#meta": meta,
        "kernel": _encode(state.kernel, Kernel),
        "ghost": _encode(state.ghost, Ghost),
    }


def decode_state(data: Any, index: int) -> tuple[State, Step | None]:
    """The inverse of `encode_state`; TraceError names the state and field at fault."""
    where = f"states[{index}]"
    if not isinstance(data, dict):
        raise TraceError(f"{where}: expected an object")
    for key in ("#meta", "kernel", "ghost"):
        if key not in data:
            raise TraceError(f"{where}: missing '{key}'")
    meta = data["#meta"]
    if not isinstance(meta, dict) or not isinstance(meta.get("action"), str):
        raise TraceError(f"{where}.#meta.action: missing or not a string")
    args = meta.get("args", {})
    if not isinstance(args, dict):
        raise TraceError(f"{where}.#meta.args: must be an object")
    for name, value in args.items():
        _check_arg(value, f"{where}.#meta.args.{name}")
    kernel = _decode(data["kernel"], Kernel, f"{where}.kernel")
    ghost = _decode(data["ghost"], Ghost, f"{where}.ghost")
    step = None
    if meta["action"] != "init":
        step = step_from_json({"action": meta["action"], "args": meta.get("args", {})})
    return State(kernel, ghost), step


def make_trace(
    config: Config,
    path: list[tuple[Step, State]],
    initial: State,
    meta: dict[str, Any],
    loop: int | None = None,
) -> Trace:
    """A Trace from an initial state and the steps taken from it."""
    states = (initial, *(s for _, s in path))
    steps = tuple(step for step, _ in path)
    return Trace(config=config, states=states, steps=steps, meta=meta, loop=loop)


def trace_to_json(trace: Trace) -> dict[str, Any]:
    """The ITF document of a trace."""
    meta = {
        "format": "ITF",
        "format-description": ITF_DESCRIPTION,
        "source": f"nfct-spec {__version__}",
        **trace.meta,
        "config": trace.config.to_json(),
    }
    states = [
        encode_state(state, i, trace.steps[i - 1] if i else None)
        for i, state in enumerate(trace.states)
    ]
    doc: dict[str, Any] = {"#meta": meta, "vars": VARS, "states": states}
    if trace.loop is not None:
        doc["loop"] = trace.loop
    return doc


def trace_from_json(doc: Any) -> Trace:
    """Decode and validate an ITF document written by `trace_to_json`."""
    if not isinstance(doc, dict):
        raise TraceError("trace: the top level must be a JSON object")
    meta = doc.get("#meta")
    if not isinstance(meta, dict):
        raise TraceError("#meta: missing or not an object")
    if "config" not in meta:
        raise TraceError("#meta.config: missing")
    if isinstance(meta["config"], dict) and "max_conntracks" in meta["config"]:
        raise TraceError(f"#meta.config.max_conntracks: {OLDER}")
    try:
        config = config_from_json(meta["config"])
    except ConfigError as exc:
        raise TraceError(f"#meta.config: {exc}") from None
    if doc.get("vars") != VARS:
        raise TraceError(f"vars: expected {VARS}")
    states_data = doc.get("states")
    if not isinstance(states_data, list) or not states_data:
        raise TraceError("states: missing or empty")
    states: list[State] = []
    steps: list[Step] = []
    for i, item in enumerate(states_data):
        state, step = decode_state(item, i)
        if (step is None) != (i == 0):
            raise TraceError(f"states[{i}].#meta.action: 'init' must be the first state only")
        states.append(state)
        if step is not None:
            steps.append(step)
    loop = doc.get("loop")
    if loop is not None and (
        isinstance(loop, bool) or not isinstance(loop, int) or not 0 <= loop < len(states)
    ):
        raise TraceError("loop: must be a state index")
    extra = {k: v for k, v in meta.items() if k not in ("config",)}
    return Trace(config, tuple(states), tuple(steps), extra, loop)


def save_trace(trace: Trace, path: Path) -> None:
    """Write a trace as indented JSON (atomically; never over a file nfct-spec did not write)."""
    write_text(path, json.dumps(trace_to_json(trace), indent=1) + "\n", "trace", SIGNATURE)


def load_trace(path: str | Path) -> Trace:
    """Read a trace file; InputError with a one-line message naming the file and the field."""
    return load_json(path, "trace", trace_from_json)
