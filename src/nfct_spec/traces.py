"""Traces: one JSON format for every engine's counterexample or witness.

The format is ITF (the Apalache/Quint trace format): a top-level `#meta`, `vars`, `states`
and, for lassos, `loop` (the index of the state the last state returns to). Each state's
`#meta` holds the index, the action that produced it and its arguments, so a trace replays
without search. The model state is encoded as two ITF records, `kernel` and `ghost`; ITF
tuples (`#tup`) and sets (`#set`) are used where the model has pairs and sets, and JSON arrays
for sequences.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfct_spec import __version__
from nfct_spec.files import ShapeError, load_json, write_text
from nfct_spec.models.config import Config, ConfigError, config_from_json
from nfct_spec.models.registry import Step, step_from_json, step_to_json
from nfct_spec.models.state import Ghost, Kernel, State

ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
VARS = ["kernel", "ghost"]
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


def _encode_pair_aware(value: Any, hint: Any) -> Any:
    """Encode with the declared type: fixed-size tuples become ITF `#tup`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = typing.get_type_hints(type(value))
        return {
            f.name: _encode_pair_aware(getattr(value, f.name), hints[f.name])
            for f in dataclasses.fields(value)
        }
    if origin is frozenset:
        return {"#set": [_encode_pair_aware(v, args[0]) for v in sorted(value)]}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return [_encode_pair_aware(v, args[0]) for v in value]
    if origin is tuple:
        return {"#tup": [_encode_pair_aware(v, a) for v, a in zip(value, args, strict=True)]}
    return value


def _decode(data: Any, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(data, dict):
            raise TraceError(f"{path}: expected an object")
        hints = typing.get_type_hints(hint)
        names = [f.name for f in dataclasses.fields(hint)]
        extra = sorted(set(data) - set(names))
        if extra:
            raise TraceError(f"{path}.{extra[0]}: unknown field")
        values = {n: _decode(data[n], hints[n], f"{path}.{n}") for n in names if n in data}
        try:
            return hint(**values)
        except TypeError as exc:
            raise TraceError(f"{path}: {exc}") from None
    if origin is frozenset:
        if not isinstance(data, dict) or "#set" not in data or not isinstance(data["#set"], list):
            raise TraceError(f"{path}: expected an ITF set {{'#set': [...]}}")
        return frozenset(_decode(v, args[0], f"{path}[]") for v in data["#set"])
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
    if origin in (types.UnionType, typing.Union):
        raise TraceError(f"{path}: unsupported type")
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
        "kernel": _encode_pair_aware(state.kernel, Kernel),
        "ghost": _encode_pair_aware(state.ghost, Ghost),
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
