"""Message-sequence diagrams of a trace: the kernel on the left, one lifeline per listener, an
arrow per message a listener read (solid), was refused (dashed, red), had queued, or an error
it read instead of a message (ENOBUFS).

The diagram is plain SVG computed from the trace's netlink traffic (`viewer.lanes.deliveries`,
the same traffic the trace page draws). Each conntrack message is labelled with the conntrack
instance (`ct<uid>`, as in the trace views) and what the listener sees of it: its tuple (flow)
and id (memory slot), so that two conntracks sharing a tuple and an id show as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from nfct_spec.traces import Trace
from nfct_spec.viewer.lanes import deliveries

ROW = 22
LANE = 170
TOP = 40
KINDS = {"received": "read", "queued": "queued", "dropped": "refused", "enobufs": "error"}
COLOUR = {"read": "#1b5e20", "queued": "#555", "refused": "#b71c1c", "error": "#ad1457"}


@dataclass(frozen=True)
class Arrow:
    """One message event on the diagram."""

    step: int
    listener: int
    label: str
    kind: str


def _arrows(trace: Trace) -> list[Arrow]:
    names = [listener.name for listener in trace.config.listeners]
    return [
        Arrow(
            d.step,
            names.index(d.listener),
            f"{d.text} ({d.ident})" if d.ident else d.text,
            KINDS[d.kind],
        )
        for d in deliveries(trace)
    ]


def render_svg(trace: Trace) -> str:
    """The diagram of one trace as an SVG element."""
    names = [listener.name for listener in trace.config.listeners]
    arrows = _arrows(trace)
    width = LANE * (len(names) + 1) + 40
    height = TOP + ROW * (len(arrows) + 1)
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
        colour = COLOUR[arrow.kind]
        dash = ' stroke-dasharray="4 3"' if arrow.kind != "read" else ""
        parts.append(
            f'<line x1="40" y1="{y}" x2="{x2 - 4}" y2="{y}" stroke="{colour}"'
            f'{dash} marker-end="url(#head)"/>'
        )
        parts.append(
            f'<text x="46" y="{y - 4}" fill="{colour}">'
            f"step {arrow.step}: {escape(arrow.label)} ({arrow.kind})</text>"
        )
    parts.insert(
        1,
        '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="8" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
    )
    parts.append("</svg>")
    return "\n".join(parts)
