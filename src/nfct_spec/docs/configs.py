"""The document's page of configurations: every config that a verdict in the results file was
found on, so that a scope such as "ci.listeners: BFS-shortest finding at depth 4" can be read
without the code. The results file keeps each config's JSON form under `configs` (keyed by
variant for `check` and `prove`, by `variant/name` for the explorer's searches)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nfct_spec.docs.content import Page


def _listener(data: dict[str, Any]) -> str:
    options = [name for name in ("broadcast_error", "no_enobufs") if data.get(name)]
    closed = "" if data.get("open_at_start", True) else ", closed at start"
    groups = "/".join(data.get("groups", ()))
    extra = f", {', '.join(options)}" if options else ""
    return f"{data.get('name')} ({groups}{extra}, queue {data.get('capacity')}{closed})"


def _writes(data: dict[str, Any]) -> str:
    writes = [f"{name}={value}" for name, value in data.get("sysctl_writes", ())]
    return ", ".join(writes) or "none"


Cell = Callable[[str, dict[str, Any]], str]
COLUMNS: tuple[tuple[str, Cell], ...] = (
    ("config", lambda key, c: f"`{key}`"),
    ("name", lambda key, c: str(c.get("name", ""))),
    ("limit", lambda key, c: str(c.get("nf_conntrack_max", ""))),
    ("flows", lambda key, c: str(c.get("flows", ""))),
    ("slots", lambda key, c: str(c.get("slots", ""))),
    ("listeners", lambda key, c: "; ".join(_listener(x) for x in c.get("listeners", ()))),
    ("events", lambda key, c: "/".join(c.get("event_bits", ()))),
    ("retry, timeout", lambda key, c: f"{c.get('events_retry_timeout')}, {c.get('ct_timeout')}"),
    ("sysctl writes", lambda key, c: _writes(c)),
    (
        "also",
        lambda key, c: (
            ", ".join(
                what
                for what, on in (
                    ("expectations", c.get("expectations")),
                    ("listener churn", c.get("listener_churn")),
                    ("build failures", c.get("faults")),
                    ("namespace exit", c.get("netns_exit")),
                )
                if on
            )
            or "-"
        ),
    ),
)


def configs_page(configs: dict[str, Any]) -> Page:
    """The table of every config in the results file, in the file's order."""
    lines = [
        "# Configurations",
        "",
        "Every configuration a verdict was found on (the `config` of each result names one).",
        "The explorer's `ci` suite splits what the `ci` preset enables into small configs that",
        "it can exhaust; `ci.*` in a result means every config of the suite. `slots` is the",
        "number of conntracks that can exist at once (memory slots, each allocated again after",
        "a free); `limit` is `nf_conntrack_max`.",
        "",
    ]
    if not configs:
        return Page("configs", "Configurations", "\n".join([*lines, "No configs recorded."]))
    lines.append("| " + " | ".join(title for title, _ in COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for key, config in configs.items():
        cells = [cell(key, config).replace("|", "\\|") for _, cell in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return Page("configs", "Configurations", "\n".join(lines))
