"""Time to render a 500-step trace in the terminal (`trace show`) and as a page (`trace html`).

The trace is a deterministic random walk with `successors` on preset "ci" for 2.6.31, seed 0,
avoiding the retry-timeout crash (which would end the walk), and the times are written as the
viewer's row of block `measured` of the figures record (which the README's table is generated
from). Usage: python scripts/bench_viewer.py [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import io
import random
import shlex
import sys
import time
from pathlib import Path

from rich.console import Console

from nfct_spec.docs.figures import RECORD, record_argument, record_row
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import Step, successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.traces import make_trace
from nfct_spec.viewer.html import render_page
from nfct_spec.viewer.show import show


def walk(length: int, seed: int) -> list[tuple[Step, State]]:
    """`length` random enabled steps from the initial state of ci/2.6.31."""
    config = preset("ci", "2.6.31")
    rng = random.Random(seed)
    state = initial_state(config)
    path: list[tuple[Step, State]] = []
    while len(path) < length:
        options = [(s, n) for s, n in successors(config, state) if not n.kernel.crashed]
        chosen = options[rng.randrange(len(options))]
        path.append(chosen)
        state = chosen[1]
    return path


ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Print the measured times and write them to the figures record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=record_argument, default=ROOT / RECORD)
    args = parser.parse_args()
    config = preset("ci", "2.6.31")
    trace = make_trace(config, walk(500, 0), initial_state(config), {"seed": 0})
    started = time.perf_counter()
    out = io.StringIO()
    show(trace, Console(file=out, width=120, color_system="truecolor", force_terminal=True))
    terminal = time.perf_counter() - started
    started = time.perf_counter()
    page = render_page(trace)
    html = time.perf_counter() - started
    print(
        f"500-step trace: terminal {terminal:.2f} s ({len(out.getvalue())} chars), "
        f"page {html:.2f} s ({len(page) // 1024} KiB)"
    )
    figure = f"terminal {terminal:.2f} s, page {html:.2f} s ({len(page) // 1024} KiB)"
    command = shlex.join(["python", "scripts/bench_viewer.py", *sys.argv[1:]])
    row = {"what": "rendering a 500-step trace", "command": command, "figure": figure}
    record_row(args.record, "measured", "what", row)
    print(f"wrote the figures to {args.record}")


if __name__ == "__main__":
    main()
