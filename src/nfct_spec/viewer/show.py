"""`nfct-spec trace show`: a trace in the terminal, read like a kernel call log.

First the config and the initial state in full; then one block per step: the action (named
after the kernel function it models) with its arguments and the first paragraph of its
docstring (what it models, with the kernel citation), and only the values that changed. The
finding (violated property or witness) is shown with its statement at the step where it
shows, and a lasso's loop is marked on every step inside it and where it closes. Last come the
lanes: each conntrack instance (from the allocation of its slot to its free, labelled with the
flow and id a listener sees) with its places and timers as runs of steps, and each listener's
queue, congestion, drops and what it received and lost over the trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from nfct_spec.models.registry import BY_NAME, Step
from nfct_spec.traces import Trace
from nfct_spec.viewer.lanes import (
    Delivery,
    View,
    ct_lanes,
    deliveries,
    diff,
    flow_keys,
    focus,
    listener_lanes,
    runs,
    trace_views,
)


def fmt(value: Any) -> str:
    """A view value on one line: lists in brackets, objects as `key=value`, absent as `-`."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + " ".join(f"{k}={fmt(v)}" for k, v in value.items()) + "}"
    if value == "":
        return '""'
    return str(value)


def step_title(step: Step) -> str:
    """`action(arg=value, ...)` as the kernel call it models."""
    return str(step)


def citation(step: Step) -> str:
    """What the action models and where in the kernel (first paragraph of its docstring)."""
    action = BY_NAME.get(step.action)
    return action.summary if action is not None else "(not in the registry)"


def view_lines(view: View, changed: frozenset[str] = frozenset(), path: str = "") -> list[Text]:
    """A nested view as indented lines; leaves whose path is in `changed` are highlighted."""
    lines: list[Text] = []
    indent = "  " * (path.count(".") + 1) if path else ""
    for key, value in view.items():
        sub = f"{path}.{key}" if path else key
        if isinstance(value, dict) and value:
            style = "bold yellow" if sub in changed else "bold"
            lines.append(Text(f"{indent}{key}:", style=style))
            lines += view_lines(value, changed, sub)
        else:
            style = "black on yellow" if sub in changed else ""
            lines.append(Text(f"{indent}{key}: {fmt(value)}", style=style))
    return lines


def _row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(c) for c in cells))


def _config_table(trace: Trace) -> Table:
    config = trace.config
    table = Table(title="config", show_header=False, box=None, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    _row(table, "variant", f"{config.variant} (preset {config.name or '-'})")
    _row(table, "nf_conntrack_max", str(config.nf_conntrack_max))
    _row(table, "flows", f"{config.flows} ({config.slots} memory slots: conntracks at once)")
    _row(
        table,
        "sysctls",
        f"nf_conntrack_events={config.nf_conntrack_events} "
        f"events_retry_timeout={config.events_retry_timeout} ct_timeout={config.ct_timeout}",
    )
    if config.sysctl_writes:
        _row(table, "sysctl writes", ", ".join(f"{n}={v}" for n, v in config.sysctl_writes))
    _row(table, "faults", ", ".join(config.faults) or "none")
    _row(table, "event bits", "|".join(config.event_bits))
    for listener in config.listeners:
        options = [
            "NETLINK_BROADCAST_ERROR" if listener.broadcast_error else "",
            "NETLINK_NO_ENOBUFS" if listener.no_enobufs else "",
            "" if listener.open_at_start else "closed at start",
        ]
        _row(
            table,
            f"listener {listener.name}",
            f"groups {'/'.join(listener.groups)}; capacity {listener.capacity}; "
            + ", ".join(o for o in options if o),
        )
    return table


def finding_panel(trace: Trace) -> Panel | None:
    """The property, its statement and the finding, if the trace names one."""
    prop = trace.property_id
    if prop is None:
        return None
    finding = str(trace.meta.get("finding", "finding"))
    colour = "red" if finding == "violated" else "green"
    body = Text.assemble(
        (f"{prop}: {finding} at step {trace.meta.get('step', '?')}\n", f"bold {colour}"),
        (str(trace.meta.get("statement", "")), ""),
    )
    return Panel(body, border_style=colour, title="finding", title_align="left")


def _header(trace: Trace) -> Text:
    meta = trace.meta
    parts = [f"{len(trace.steps)} steps"]
    for key in ("engine", "profile", "seed"):
        if key in meta:
            parts.append(f"{key} {meta[key]}")
    if trace.loop is not None:
        parts.append(f"lasso: loop back to state {trace.loop}")
    return Text("trace: " + ", ".join(parts), style="bold")


def _change_lines(before: View, after: View) -> list[Text]:
    lines: list[Text] = []
    for change in diff(before, after):
        lines.append(
            Text.assemble(
                ("    " + change.path + ": ", "cyan"),
                (fmt(change.before), "red"),
                (" -> ", "dim"),
                (fmt(change.after), "green"),
            )
        )
    return lines


def _lane_text(cells: Sequence[Any]) -> str:
    parts = []
    for first, last, cell in runs(cells):
        span = f"{first}" if first == last else f"{first}-{last}"
        if cell is None:
            continue
        if isinstance(cell, dict):
            shown = " ".join(f"{k}={fmt(v)}" for k, v in cell.items())
        else:
            shown = fmt(cell)
        parts.append(f"{span}: {shown}")
    return "\n".join(parts)


def _traffic(traffic: list[Delivery], listener: str, kind: str) -> list[str]:
    return [f"{d.text} @{d.step}" for d in traffic if d.listener == listener and d.kind == kind]


def lanes_tables(views: list[View], traffic: list[Delivery]) -> list[Table]:
    """Per-conntrack and per-listener lanes as runs of states with the same values, with what
    each listener received and had dropped over the trace (`text @step`)."""
    cts = Table(
        title="conntrack lanes, one per conntrack from its allocation to its free "
        "(states: place, timer, cache, missed)",
        title_justify="left",
    )
    cts.add_column("ct")
    cts.add_column("flow")
    cts.add_column("id (slot)")
    cts.add_column("runs")
    for lane in ct_lanes(views):
        states = [lane.cell(i) for i in range(len(views))]
        cts.add_row(lane.key, str(lane.flow), str(lane.slot), Text(_lane_text(states)))
    listeners = Table(title="listener lanes", title_justify="left")
    listeners.add_column("listener")
    listeners.add_column("runs (states: open, queue, congested, sk_err, drops)")
    listeners.add_column("received / dropped over the trace")
    for name, cells in listener_lanes(views).items():
        received, dropped = _traffic(traffic, name, "received"), _traffic(traffic, name, "dropped")
        listeners.add_row(
            name,
            Text(_lane_text(cells)),
            Text(f"received {fmt(received)}\ndropped {fmt(dropped)}"),
        )
    return [cts, listeners]


def renderables(
    trace: Trace, flow: int | None = None, listener: str | None = None, full: bool = False
) -> list[RenderableType]:
    """Everything `trace show` prints, in order."""
    views = trace_views(trace)
    keys = flow_keys(views, flow) if flow is not None else None
    views = [focus(v, keys, listener) for v in views]
    at = trace.meta.get("step")
    out: list[RenderableType] = [_header(trace), _config_table(trace)]
    panel = finding_panel(trace)
    if panel is not None:
        out.append(panel)
    out.append(Text("state 0 (initial)", style="bold underline"))
    out.append(Group(*view_lines(views[0])))
    if at == 0 and panel is not None:
        out.append(panel)
    for i, step in enumerate(trace.steps, start=1):
        in_loop = trace.loop is not None and i > trace.loop
        title = Text.assemble(
            (f"step {i} ", "bold"),
            ("[loop] " if in_loop else "", "bold magenta"),
            (step_title(step), "bold cyan"),
        )
        out.append(title)
        out.append(Text("    " + citation(step), style="dim"))
        changes = diff(views[i - 1], views[i])
        if full:
            lines = view_lines(views[i], frozenset(c.path for c in changes))
            out.append(Padding(Group(*lines), (0, 0, 0, 4)))
        elif changes:
            out.append(Group(*_change_lines(views[i - 1], views[i])))
        else:
            out.append(Text("    (nothing shown changed)", style="dim"))
        if at == i and panel is not None:
            out.append(panel)
    if trace.loop is not None:
        out.append(
            Text(
                f"loop: state {len(trace.states) - 1} returns to state {trace.loop}; "
                f"steps {trace.loop + 1}-{len(trace.steps)} repeat forever",
                style="bold magenta",
            )
        )
    out += lanes_tables(views, deliveries(trace))
    return out


def show(
    trace: Trace,
    console: Console,
    flow: int | None = None,
    listener: str | None = None,
    full: bool = False,
) -> None:
    """Print a trace (see the module docstring)."""
    for item in renderables(trace, flow, listener, full):
        console.print(item, highlight=False)
