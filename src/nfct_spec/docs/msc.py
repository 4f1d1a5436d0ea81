"""Message-sequence diagrams of a trace: the kernel on the left, one lifeline per listener, an
arrow per message a listener read (solid), was refused (dashed, red) or had queued at the end.

The diagram is plain SVG computed from the trace's states: a message is "read" at the step of
an `env_recv` that dequeued it, "queued" when it first appears in a socket queue, "refused"
when the socket's ghost `dropped` set grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from nfct_spec.models.bits import bit_names
from nfct_spec.models.state import Message, State
from nfct_spec.traces import Trace

ROW = 22
LANE = 170
TOP = 40


@dataclass(frozen=True)
class Arrow:
    """One message event on the diagram."""

    step: int
    listener: int
    label: str
    kind: str


def _label(msg: Message) -> str:
    if msg.expect:
        return f"ct#{msg.uid} EXP_NEW"
    return f"ct#{msg.uid} {'|'.join(bit_names(msg.bits))}"


def _arrows(trace: Trace) -> list[Arrow]:
    names = [listener.name for listener in trace.config.listeners]
    arrows: list[Arrow] = []
    for i, step in enumerate(trace.steps, start=1):
        pre: State = trace.states[i - 1]
        post: State = trace.states[i]
        for j, (a, b) in enumerate(zip(pre.kernel.sockets, post.kernel.sockets, strict=True)):
            kept = a.queue
            reads = step.action == "env_recv" and step.kwargs.get("listener") == names[j]
            if reads and a.queue and not a.sk_err:
                arrows.append(Arrow(i, j, _label(a.queue[0]), "read"))
                kept = a.queue[1:]
            if a.open and b.open:
                arrows.extend(Arrow(i, j, _label(m), "queued") for m in b.queue[len(kept) :])
            lost = post.ghost.dropped[j] - pre.ghost.dropped[j]
            for uid in sorted({u for u, _ in lost}):
                bits = 0
                for u, bit in lost:
                    bits |= bit if u == uid else 0
                arrows.append(Arrow(i, j, f"ct#{uid} {'|'.join(bit_names(bits))}", "refused"))
    return arrows


def render_svg(trace: Trace) -> str:
    """The diagram of one trace as an SVG element."""
    names = [listener.name for listener in trace.config.listeners]
    arrows = _arrows(trace)
    width = LANE * (len(names) + 1) + 40
    height = TOP + ROW * (len(arrows) + 1)
    colour = {"read": "#1b5e20", "queued": "#555", "refused": "#b71c1c"}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace" font-size="11" role="img">',
        '<text x="20" y="20" font-weight="bold">kernel</text>',
        f'<line x1="40" y1="{TOP - 10}" x2="40" y2="{height}" stroke="#999"/>',
    ]
    for k, name in enumerate(names, start=1):
        x = 40 + LANE * k
        parts.append(f'<text x="{x - 20}" y="20" font-weight="bold">{escape(name)}</text>')
        parts.append(f'<line x1="{x}" y1="{TOP - 10}" x2="{x}" y2="{height}" stroke="#999"/>')
    for row, arrow in enumerate(arrows):
        y = TOP + ROW * row
        x2 = 40 + LANE * (arrow.listener + 1)
        dash = ' stroke-dasharray="4 3"' if arrow.kind != "read" else ""
        parts.append(
            f'<line x1="40" y1="{y}" x2="{x2 - 4}" y2="{y}" stroke="{colour[arrow.kind]}"'
            f'{dash} marker-end="url(#head)"/>'
        )
        parts.append(
            f'<text x="46" y="{y - 4}" fill="{colour[arrow.kind]}">'
            f"step {arrow.step}: {escape(arrow.label)} ({arrow.kind})</text>"
        )
    parts.insert(
        1,
        '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="8" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
    )
    parts.append("</svg>")
    return "\n".join(parts)
