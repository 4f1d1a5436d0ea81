"""The history page: each known kernel fault of reliable delivery, with what the model finds.

Nothing on the page is a recorded verdict. For each fault an era flag switches off (or, for a
version before the released one, on), the explorer runs when the document is built, on the era
config that has the fault and on the config that differs only by that flag, for the catalogue
entries that catch it (about two seconds in all: the era configs are tiny). A violation comes
with its BFS-shortest trace, drawn as the properties page draws findings (message-sequence
diagram and trace page); `exhausted` means every reachable state was searched and the property
holds there. Each verdict is compared with the catalogue's expectation for that config, so a
page whose search disagrees says so. Where an era proof is written for an entry on the fixed
config's era (`nfct_spec.proofs.era_plans`), Z3 checks it too, at the config's own shape (about
a second each).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from nfct_spec.docs.content import Page
from nfct_spec.docs.eras import era_config
from nfct_spec.docs.faults import FAULTS, Fault
from nfct_spec.docs.worker_run import WORKER_STEPS, WorkerRun, worker_run
from nfct_spec.engines.explorer import explore, trace_of, verdict
from nfct_spec.models.config import ERA_FLAGS
from nfct_spec.proofs.era_plans import check_era_plan, era_plan
from nfct_spec.proofs.vocab import shape_for
from nfct_spec.spec.catalogue import BY_ID
from nfct_spec.traces import Trace

TITLE = "History: the races that broke reliable delivery"
STEM = "history"
PROOF_TIMEOUT_MS = 60_000
WANTED = {"violated": "violated", "holds": "exhausted"}
"""The explorer's verdict that agrees with each expected verdict of the catalogue."""


@dataclass(frozen=True)
class Outcome:
    """The explorer's verdict on one property of one era config, with its trace if violated."""

    config: str
    prop: str
    verdict: str
    scope: str
    expected: str
    trace: Trace | None

    @property
    def stem(self) -> str:
        """The file stem of its diagram and trace page."""
        return f"{STEM}-{self.config}-{self.prop}"

    @property
    def as_expected(self) -> bool:
        """The verdict is the one the catalogue expects for this config."""
        return WANTED.get(self.expected) == self.verdict


@cache
def outcomes(config_name: str, props: tuple[str, ...]) -> tuple[Outcome, ...]:
    """Explore the era config for `props` (one search; each finding is BFS-shortest)."""
    config = era_config(config_name)
    checked = [BY_ID[p] for p in props]
    exploration = explore(config, checked)
    out = []
    for prop in checked:
        found, scope = verdict(prop, exploration)
        trace = trace_of(exploration, prop) if prop.id in exploration.findings else None
        out.append(Outcome(config_name, prop.id, found, scope, prop.expected_for(config), trace))
    return tuple(out)


def _cell(outcome: Outcome) -> str:
    if outcome.trace is not None:
        text = (
            f"**{outcome.verdict}** in {len(outcome.trace.steps)} steps "
            f"([trace page](traces/{outcome.stem}.html), "
            f"[diagram](diagrams/{outcome.stem}.svg))"
        )
    elif outcome.verdict == "exhausted":
        text = f"**exhausted**: holds ({outcome.scope})"
    else:
        text = f"**{outcome.verdict}** ({outcome.scope})"
    return text if outcome.as_expected else f"{text} — NOT AS EXPECTED ({outcome.expected})"


def _trace_section(outcome: Outcome) -> list[str]:
    assert outcome.trace is not None
    steps = [f"{i}. `{step}`" for i, step in enumerate(outcome.trace.steps, start=1)]
    return [
        f"#### `{outcome.prop}` on `{outcome.config}`: {len(steps)} steps",
        "",
        *steps,
        "",
        f"![{outcome.prop} on {outcome.config}](diagrams/{outcome.stem}.svg)",
        "",
    ]


def _extra_flags(fault: Fault) -> str:
    """The era flags the fault's config sets beyond the released scheme's, as code spans."""
    shipped, released = era_config(fault.shipped), era_config(fault.released)
    names = [name for name in ERA_FLAGS if getattr(shipped, name) and not getattr(released, name)]
    return " and ".join(f"`{name}`" for name in names)


def _searched(fault: Fault, traces: dict[str, Trace]) -> list[str]:
    shipped = outcomes(fault.shipped, fault.properties)
    fixed = outcomes(fault.fixed, fault.properties)
    same = (
        f"without `{fault.flag}` (as released)" if fault.flag_adds_fault else f"with `{fault.flag}`"
    )
    out = [
        f"Era configs: `configs/{fault.shipped}.json` has the fault; "
        f"`configs/{fault.fixed}.json` is the same {same}.",
        "",
        f"| property | `{fault.shipped}` (fault) | `{fault.fixed}` "
        f"({'released' if fault.flag_adds_fault else 'fixed'}) |",
        "|---|---|---|",
    ]
    for before, after in zip(shipped, fixed, strict=True):
        out.append(
            f"| [`{before.prop}`](properties.md#{before.prop}) | {_cell(before)} | {_cell(after)} |"
        )
    out.append("")
    if fault.released:
        out += [
            f"No released kernel had the fault: `configs/{fault.released}.json` is the scheme "
            f"as released, `{fault.shipped}` without {_extra_flags(fault)}.",
            "",
        ]
        for outcome in outcomes(fault.released, fault.properties):
            out.append(
                f"- as released, [`{outcome.prop}`](properties.md#{outcome.prop}): {_cell(outcome)}"
            )
        out.append("")
    out += _proofs(fault)
    for outcome in (*shipped, *fixed):
        if outcome.trace is not None:
            traces[outcome.stem] = outcome.trace
            out += _trace_section(outcome)
    return out


@cache
def era_proof(config_name: str, prop_id: str) -> tuple[bool, int] | None:
    """The era proof of `prop_id` on the era of `config_name` at the config's own shape
    (proved, queries), or None if no proof is written for that era."""
    config = era_config(config_name)
    plan = era_plan(prop_id, config)
    if plan is None:
        return None
    report = check_era_plan(plan, config, PROOF_TIMEOUT_MS, shape_for(config))
    return report.proved, len(report.lines)


def _proofs(fault: Fault) -> list[str]:
    """Z3's inductive proofs of the fault's entries on the fixed config's era, where written."""
    config = era_config(fault.fixed)
    shape = shape_for(config)
    out = []
    for prop_id in fault.properties:
        proof = era_proof(fault.fixed, prop_id)
        if proof is None:
            continue
        proved, queries = proof
        what = "**proved**" if proved else "**not proved** (a query failed or timed out)"
        out.append(
            f"- Z3 on the era of `{fault.fixed}`, [`{prop_id}`](properties.md#{prop_id}): {what} "
            f"by induction over every config of the era with at most {shape.n} memory slot(s), "
            f"{shape.listeners} listener(s) and {shape.cpus} CPUs ({queries} queries; "
            "`nfct-spec eras` proves it with 3 slots, 2 listeners and 3 CPUs)"
        )
    return [*out, ""] if out else []


def _worker_text(run: WorkerRun) -> str:
    due = {-1: "not scheduled", 0: "queued again at once"}.get(run.due, f"due in {run.due} ticks")
    return (
        f"delivered {run.delivered} of the {run.before} DESTROYs on the redelivery list, "
        f"{run.after} left; the worker is {due}"
    )


def _scripted(traces: dict[str, Trace]) -> list[str]:
    out = [
        "No catalogue entry is about how many DESTROYs one run of the worker delivers, so no "
        "verdict tells the worker as shipped from the fixed one. The same steps replayed on "
        "both (two deletions fail against a full queue, the listener reads its queue empty, "
        "the worker runs once):",
        "",
    ]
    for fixed in (False, True):
        run = worker_run(fixed)
        stem = f"{STEM}-worker-{'fixed' if fixed else 'shipped'}"
        traces[stem] = run.trace
        label = "with `ecache_work_fixed`" if fixed else "as shipped"
        out.append(
            f"- {label}: {_worker_text(run)} ([trace page](traces/{stem}.html), "
            f"[diagram](diagrams/{stem}.svg))"
        )
    steps = [f"{i}. `{step}`" for i, step in enumerate(WORKER_STEPS, start=1)]
    return [*out, "", "The steps (the last is the run of the worker):", "", *steps, ""]


def _section(number: int, fault: Fault, traces: dict[str, Trace]) -> list[str]:
    out = [
        f'<a id="fault-{number}"></a>',
        "",
        f"## {number}. {fault.title}",
        "",
        f"- kernels: {fault.kernels}",
        f"- symptom: {fault.symptom}",
        f"- upstream fix: {fault.fix or 'not cited'}",
    ]
    if fault.flag:
        out.append(f"- modelled: yes, config flag `{fault.flag}`")
    else:
        out.append(f"- modelled: **no** — {fault.missing}")
    if fault.finding:
        out.append(f"- finding: {fault.finding}")
    out.append("")
    if fault.kind == "searched":
        out += _searched(fault, traces)
    elif fault.kind == "scripted":
        out += _scripted(traces)
    return out


def _caught(fault: Fault) -> str:
    if fault.kind == "searched":
        return ", ".join(f"`{p}`" for p in fault.properties)
    if fault.kind == "scripted":
        return "no catalogue entry (a replayed run shows it)"
    return "not modelled"


def history_page() -> tuple[Page, dict[str, Trace]]:
    """The page, and the traces it links to by file stem (their diagrams and trace pages are
    written beside the document's other findings)."""
    traces: dict[str, Trace] = {}
    out = [
        f"# {TITLE}",
        "",
        "The kernel faults known to have broken reliable conntrack event delivery since 2.6.31, "
        "in the order they entered the kernel. For each one the model expresses, the verdicts "
        "below are computed when this document is built: the explorer searches the era "
        "config that has the fault and the one that differs only by its era flag, for the "
        "catalogue entries that catch it. A violation comes with its BFS-shortest trace; "
        "**exhausted** means every reachable state of the config was searched and the "
        "property holds there. A verdict that is not the one the catalogue expects for the "
        "config is marked NOT AS EXPECTED.",
        "",
        "| # | fault | kernels | caught by |",
        "|---|---|---|---|",
    ]
    for number, fault in enumerate(FAULTS, start=1):
        out.append(
            f"| [{number}](#fault-{number}) | {fault.title} | {fault.kernels} | {_caught(fault)} |"
        )
    out.append("")
    for number, fault in enumerate(FAULTS, start=1):
        out += _section(number, fault, traces)
    return Page(STEM, TITLE, "\n".join(out)), traces
