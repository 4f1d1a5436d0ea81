"""`nfct-spec explore`: exhaustive breadth-first search with the explicit-state explorer, of the
`ci` suite of small configs (the default), of one preset or of one config file. Safety and
witness properties are checked on the symmetry-reduced state space (with `--reduction por` also
partial-order reduced, and with `--workers N` partitioned among N processes), the liveness
entries (`destroy-eventually`, `expiry-eventually`) on one graph in this process (broken
obligations and fair lassos under the full fairness set, plus one `destroy-eventually` lasso
search per weaker set, written as extra traces): the symmetry-reduced graph whose edges keep
their renamings (`nfct_spec.engines.lasso_sym`), or the unreduced one at granularity smp
(`nfct_spec.engines.lasso.REDUCTIONS`). The configs of one variant give one verdict per
property together (`nfct_spec.engines.suite`). Results are merged into results.json with engine
`explorer`; BFS-shortest traces go under traces-explorer/."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from nfct_spec.checking import searched
from nfct_spec.commands.common import (
    DEFAULT_VARIANTS,
    UsageError,
    checked_variant,
    configs_from_args,
    properties_from_ids,
    verdict_cell,
)
from nfct_spec.engines import lasso_sym, lasso_transfer, premises
from nfct_spec.engines.explorer import (
    PROGRESS_EVERY,
    UNTIMED,
    Exploration,
    Stats,
    explore,
    search_groups,
    untimed_applies,
)
from nfct_spec.engines.folding import folded_searches, separate_searches, settle
from nfct_spec.engines.lasso import (
    FULL_FAIRNESS,
    PROPERTY,
    Graph,
    Lasso,
    LivenessOutcome,
    build_graph,
    lasso_trace,
    weaker_fairness_sets,
)
from nfct_spec.engines.lasso import LEVEL as LIVENESS_LEVEL
from nfct_spec.engines.lasso_sym import Quotient
from nfct_spec.engines.parallel import Pool
from nfct_spec.engines.premises import PremiseReach
from nfct_spec.engines.quotient_safety import SafetyJudge, judged_exploration
from nfct_spec.engines.suite import (
    SHOWN_BY,
    SuiteVerdict,
    combine,
    liveness_member,
    safety_member,
)
from nfct_spec.models.config import Config
from nfct_spec.models.observers import level_name
from nfct_spec.models.presets import PRESETS, SUITES, suite
from nfct_spec.outdir import fresh_subdir, prepare
from nfct_spec.results import Result, check_mergeable, exit_code, write_results
from nfct_spec.spec.catalogue import Property
from nfct_spec.traces import Trace, save_trace

ENGINE = "explorer"
DEFAULT_MAX_STATES = 500_000
TRACES = "traces-explorer"
REDUCTIONS = ("symmetry", "por", "untimed")
"""`--reduction`: `symmetry` (the default: symmetry, the observer projection and the sk_drops
slice); `por`, which adds partial-order reduction to the safety searches; or `untimed`, which
searches 2.6.31 and 6.x configs with their DESTROY retries untimed (`Config.retry_untimed`, an
over-approximation) and shows each finding again on the config as it is; the liveness entries
too, read as `nfct_spec.engines.lasso` says under "Untimed retries" (an entry that search
exhausts holds; a candidate lasso sends the entry to the search of the config as it is, which
alone writes the lassos of the weaker fairness sets)."""
PLAIN_EVERY = 1_000_000
"""Without a terminal (a log, a CI job) the progress bars do not show; a search then prints a
plain line per this many states, and one when it ends."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `explore`."""
    cmd = sub.add_parser("explore", help="exhaustive breadth-first search of small configs")
    cmd.add_argument("--out", default="nfct-spec-out", help="output folder")
    cmd.add_argument("--variant", action="append", help="variant to explore (repeatable)")
    which = cmd.add_mutually_exclusive_group()
    which.add_argument(
        "--suite",
        choices=SUITES,
        help="a suite of small configs, every one exhausted (the default: ci)",
    )
    which.add_argument(
        "--preset", choices=PRESETS, help="one preset (too large to exhaust: see README)"
    )
    which.add_argument("--config", help="a JSON config file")
    cmd.add_argument(
        "--max-states",
        type=int,
        default=DEFAULT_MAX_STATES,
        help="stop (verdict unknown) after this many distinct states per config; also the "
        "budget of each premise search (an entry exhausted without a finding is searched "
        "for its premise, and is unknown if no run reaches it)",
    )
    cmd.add_argument("--property", action="append", help="property id (repeatable)")
    cmd.add_argument(
        "--reduction",
        choices=REDUCTIONS,
        default="symmetry",
        help="por: also partial-order reduce the safety searches (same verdicts; findings are "
        "shown again by the unreduced search); untimed: search 2.6.31 and 6.x configs with "
        "untimed DESTROY retries (an over-approximation: what it does not find, the config "
        "does not have; its findings are shown again with timed retries), the liveness "
        "entries too (lassos for weaker fairness sets then only where the timed liveness "
        "graph was needed); the liveness search uses symmetry with the renamings kept on its "
        "edges",
    )
    cmd.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes for the safety searches, each owning a hash partition of the "
        "states (default 1: the sequential search in this process)",
    )
    cmd.add_argument(
        "--separate-searches",
        action="store_true",
        help="search each group of entries on its own, with only the observers it reads "
        "(by default a coarser group is judged on a finer search as it runs, and searched on "
        "its own only if that search leaves some of its entries undecided)",
    )


@dataclass
class MemberRun:
    """What the explorer found in one config: the reduced searches for safety and witnesses
    (one per group of observers, `search_groups`), and the unreduced graph with its liveness
    outcome of each liveness entry under the full fairness set."""

    config: Config
    explorations: list[Exploration]
    graph: Graph | Quotient | None = None
    """The liveness graph of the config as it is (None if it was not needed)."""
    outcomes: dict[str, LivenessOutcome] = field(default_factory=dict)
    liveness_seconds: float = 0.0
    untimed: Graph | Quotient | None = None
    """With `--reduction untimed`, the liveness graph of the config with its DESTROY retries
    untimed, searched first (`_live`)."""

    def graphs(self) -> list[tuple[str, Graph | Quotient]]:
        """The liveness graphs searched, each with what it is."""
        found: list[tuple[str, Graph | Quotient]] = []
        if self.untimed is not None:
            found.append((f"{_kind(self.config)}, {UNTIMED}", self.untimed))
        if self.graph is not None:
            found.append((_kind(self.config), self.graph))
        return found

    def exploration_for(self, prop: Property) -> Exploration | None:
        """The search that checked `prop`."""
        for exploration in self.explorations:
            if prop.id in exploration.checked:
                return exploration
        return None

    def summary(self) -> list[dict[str, object]]:
        """The figures of every search, for the run record in results.json."""
        out: list[dict[str, object]] = []
        for exploration in self.explorations:
            stats = exploration.stats
            line: dict[str, object] = {
                "variant": self.config.variant,
                "config": self.config.name,
                "observers": level_name(exploration.level),
                "folded": sorted(exploration.folded),
                "on_liveness_graph": stats.liveness_graph,
                "exhausted": stats.complete,
                "states": stats.states,
                "transitions": stats.transitions,
                "depth": stats.depth,
                "seconds": round(stats.seconds, 2),
                "cpu_seconds": round(stats.cpu_seconds, 2),
                "states_per_second": round(stats.states_per_second),
                "peak_rss_mib": round(stats.peak_rss_mib),
            }
            if stats.reduction is not None:
                line["partial_order"] = {
                    "reduced_states": stats.reduction.reduced,
                    "deferred_steps": stats.reduction.deferred,
                    "closure_states": stats.reduction.closure,
                    "shown_by_unreduced_search": None
                    if stats.shown is None
                    else {"states": stats.shown.states, "seconds": round(stats.shown.seconds, 2)},
                }
            if stats.abstraction is not None:
                line["abstraction"] = {
                    "name": stats.abstraction,
                    "shown_by_search_without_it": None
                    if stats.shown is None
                    else {
                        "states": stats.shown.states,
                        "exhausted": stats.shown.complete,
                        "seconds": round(stats.shown.seconds, 2),
                    },
                    "spurious": sorted(exploration.spurious),
                    "unshown": sorted(exploration.unshown),
                }
            out.append(line)
        for kind, graph in self.graphs():
            out.append(
                {
                    "variant": self.config.variant,
                    "config": self.config.name,
                    "observers": f"{level_name(LIVENESS_LEVEL)}, {kind} (liveness)",
                    "exhausted": graph.complete,
                    "states": len(graph.states),
                    "transitions": graph.transitions,
                    "seconds": round(self.liveness_seconds, 2),
                }
            )
        return out

    def line(self) -> str:
        """Lines for the terminal: what was searched, how fast, with how much memory."""
        lines = []
        for exploration in self.explorations:
            stats = exploration.stats
            done = _ended(exploration)
            reduced = ""
            if stats.reduction is not None:
                reduced = f", partial-order reduced in {stats.reduction.reduced:,} states"
                if stats.shown is not None:
                    reduced += f", findings shown in {stats.shown.seconds:.1f} s"
            if stats.abstraction is not None:
                reduced = f", {stats.abstraction}"
                if stats.shown is not None:
                    reduced += (
                        f", findings shown without it in {stats.shown.states:,} states, "
                        f"{stats.shown.seconds:.1f} s"
                    )
            if stats.liveness_graph:
                reduced += f", {len(exploration.checked)} entries judged on the liveness graph"
            elif exploration.folded:
                reduced += f", {len(exploration.folded)} entries of coarser groups decided here"
            lines.append(
                f"{self.config.variant} {self.config.name} [{level_name(exploration.level)}]: "
                f"{done}, {stats.states:,} states, {stats.transitions:,} transitions, "
                f"depth {stats.depth}, {stats.seconds:.1f} s "
                f"({stats.states_per_second:,.0f} states/s, peak {stats.peak_rss_mib:.0f} MiB"
                f"{reduced})"
            )
        for kind, graph in self.graphs():
            lines.append(
                f"{self.config.variant} {self.config.name} [liveness]: "
                f"{len(graph.states):,} states ({kind}), "
                f"{self.liveness_seconds:.1f} s"
            )
        if self.untimed is not None and self.graph is None:
            lines.append(
                f"{self.config.variant} {self.config.name} [liveness]: every entry decided "
                f"with {UNTIMED}; lassos for weaker fairness sets searched without the timed "
                "graph (carried over from fewer slots, or stuttering)"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Search:
    """How the safety searches run: partial-order reduced or not, in this process or on a
    pool of workers."""

    por: bool = False
    pool: Pool | None = None
    untimed: bool = False
    fold: bool = True
    """Judge coarser groups on a finer search that decides them (`nfct_spec.engines.folding`)
    instead of searching each group on its own."""


def _safety(
    config: Config,
    props: list[Property],
    max_states: int,
    progress: Progress,
    level: int,
    how: Search,
    riders: Sequence[Property] = (),
) -> Exploration:
    label = f"{config.variant} ({config.name}) [{level_name(level)}]"
    if riders:
        label = f"{label} +{len(riders)} coarser"
    task: TaskID = progress.add_task(escape(label), total=max_states, info="")
    plain = _plain_lines(progress, label)

    def report(stats: Stats) -> None:
        progress.update(
            task,
            completed=stats.states,
            info=f"{stats.transitions} transitions, depth {stats.depth}",
        )
        plain(stats.states, f"depth {stats.depth}, {stats.seconds:.0f} s")

    exploration = explore(
        config,
        props,
        max_states,
        progress=report,
        level=level,
        por=how.por,
        pool=how.pool,
        untimed=how.untimed,
        riders=riders,
    )
    progress.update(task, total=exploration.stats.states, completed=exploration.stats.states)
    if not progress.console.is_terminal:
        stats = exploration.stats
        progress.console.print(
            f"{label}: {_ended(exploration)}, {stats.states:,} states, depth {stats.depth}, "
            f"{stats.seconds:.0f} s",
            markup=False,
        )
    return exploration


def _ended(exploration: Exploration) -> str:
    """How a search ended: exhausted, stopped once every property it checks had its finding,
    or stopped by the state budget."""
    if exploration.stats.complete:
        return "exhausted"
    if exploration.goal and exploration.goal <= exploration.findings.keys():
        return "every finding shown"
    return "NOT exhausted (budget)"


def _plain_lines(progress: Progress, label: str) -> Callable[[int, str], None]:
    """Without a terminal, a function that prints `label`, the state count and `info` each
    time the count passes a multiple of `PLAIN_EVERY` (the sequential search reports every few
    thousand states, a partitioned one at the end of each level, which may pass several
    multiples at once: one line then); with one, a function that does nothing (the bars show
    it)."""
    printed = [0]

    def line(states: int, info: str) -> None:
        if progress.console.is_terminal or states // PLAIN_EVERY <= printed[0] // PLAIN_EVERY:
            return
        printed[0] = states
        progress.console.print(f"  {label}: {states:,} states, {info}", markup=False)

    return line


def _member(
    config: Config, props: list[Property], max_states: int, progress: Progress, how: Search
) -> MemberRun:
    checked = [p for p in props if p.kind != "liveness" and searched(p, config)]
    groups = search_groups(checked)
    live = [p.id for p in props if p.kind == "liveness" and searched(p, config)]
    untimed = how.untimed and untimed_applies(config)
    run = MemberRun(config, [])
    done: list[Exploration] = []
    if live:
        label = f"{config.variant} ({config.name}) liveness"
        task = progress.add_task(label, total=None, info="")
        started = time.perf_counter()
        plain = _plain_lines(progress, label)
        kind = _kind(config)

        def report(states: int) -> None:
            progress.update(task, info=f"{states} states ({kind})")
            plain(states, f"{kind}, {time.perf_counter() - started:.0f} s")

        riders = _graph_riders(config, groups, how)
        first = _first_graph(run, riders, max_states, report, untimed)
        if first is not None:
            done.append(first)
        run.liveness_seconds = time.perf_counter() - started

    def search(level: int, group: list[Property], riders: list[Property]) -> Exploration:
        return _safety(config, group, max_states, progress, level, how, riders)

    if how.fold:
        run.explorations = folded_searches(groups, search, done)
    else:
        run.explorations = separate_searches(groups, search)
    if live:
        started = time.perf_counter()
        _live(run, live, max_states, report, untimed)
        _, graph = run.graphs()[-1]
        progress.update(task, info=f"{len(graph.states)} states ({kind})")
        run.liveness_seconds += time.perf_counter() - started
        progress.update(task, total=1, completed=1)
    progress.console.print(run.line(), markup=False)
    return run


def _graph_riders(
    config: Config, groups: Sequence[tuple[int, list[Property]]], how: Search
) -> list[Property]:
    """The entries judged on the liveness graph as it is built: with folded searches, those
    of the obligations group, whose search stores the graph's states
    (`nfct_spec.engines.quotient_safety`). None where the graph is the unreduced one, nor
    when the safety searches are asked to run partial-order reduced or on workers (the graph
    is built in this process, unreduced but for symmetry): they then run as asked."""
    if not how.fold or how.por or how.pool is not None or not lasso_sym.applies(config):
        return []
    return list(dict(groups).get(LIVENESS_LEVEL, []))


def _first_graph(
    run: MemberRun,
    riders: list[Property],
    max_states: int,
    report: Callable[[int], None],
    untimed: bool,
) -> Exploration | None:
    """The liveness graph `_live` searches first (that of the untimed abstraction with
    `untimed`, else the config's), built before the safety searches with `riders` judged on
    it; the exploration of the riders it decided (None without riders)."""
    config = run.config
    target = config.with_(retry_untimed=True) if untimed else config
    graph: Graph | Quotient
    exploration = None
    if riders:
        judge = SafetyJudge(target, riders)
        started = time.perf_counter()
        quotient = lasso_sym.build_quotient(target, max_states, progress=report, judge=judge)
        seconds = time.perf_counter() - started
        exploration = judged_exploration(quotient, judge, seconds, config, max_states)
        settle(exploration, riders)
        graph = quotient
    else:
        graph = _liveness_graph(target, max_states, report)
    if untimed:
        run.untimed = graph
    else:
        run.graph = graph
    return exploration


def _live(
    run: MemberRun,
    live: Sequence[str],
    max_states: int,
    report: Callable[[int], None],
    untimed: bool,
) -> None:
    """The liveness entries under the full fairness set. With `untimed`, first on the graph of
    the config with its DESTROY retries untimed: an entry it exhausts holds in the config (the
    argument is `nfct_spec.engines.lasso`'s "Untimed retries"); what it finds, or a graph cut
    at the budget, is only a candidate, and the entry is searched again on the config as it
    is. A graph built already (`_first_graph`) is not built again."""
    config = run.config
    todo = list(live)
    if untimed:
        if run.untimed is None:
            run.untimed = _liveness_graph(config.with_(retry_untimed=True), max_states, report)
        for prop_id in live:
            outcome = lasso_sym.check_any(run.untimed, FULL_FAIRNESS, prop_id)
            if outcome.complete and outcome.broken is None and outcome.lasso is None:
                run.outcomes[prop_id] = outcome
                todo.remove(prop_id)
    if todo:
        if run.graph is None:
            run.graph = _liveness_graph(config, max_states, report)
        for prop_id in todo:
            run.outcomes[prop_id] = lasso_sym.check_any(run.graph, FULL_FAIRNESS, prop_id)


def _kind(config: Config) -> str:
    """Which liveness graph a config gets (`_liveness_graph`)."""
    return "symmetry-reduced" if lasso_sym.applies(config) else "unreduced"


def _liveness_graph(
    config: Config, max_states: int, report: Callable[[int], None]
) -> Graph | Quotient:
    """The liveness graph: symmetry-reduced with its renamings where that search applies
    (granularity atomic), unreduced otherwise."""
    if lasso_sym.applies(config):
        return lasso_sym.build_quotient(config, max_states, progress=report)
    return build_graph(config, max_states, progress=report)


def _save(trace: Trace, out: Path, name: str) -> str:
    save_trace(trace, out / TRACES / name)
    return str(Path(TRACES) / name)


def _weaker_lassos(runs: list[MemberRun], out: Path, console: Console) -> None:
    """For each fairness set with one record dropped, the lasso of the first config that has
    one, written as `destroy-eventually.without-RECORD.json`. A config whose own liveness graph
    was not built (every entry decided with the retries untimed, whose lassos need not be the
    config's) gets them without it (`lasso_transfer.Elsewhere`), and says how."""
    elsewhere = {id(run): lasso_transfer.Elsewhere(run.config) for run in runs}
    for fairness in weaker_fairness_sets():
        dropped = next(f for f in FULL_FAIRNESS if f not in fairness)
        for run in runs:
            lasso: Lasso | None = None
            if run.graph is not None:
                lasso = lasso_sym.find_any(run.graph, fairness)
            elif run.untimed is not None:
                lasso, how = elsewhere[id(run)].lasso(fairness)
                console.print(
                    f"{run.config.variant} {run.config.name} [liveness] lasso without "
                    f"{dropped}: {how}",
                    markup=False,
                )
            if lasso is not None:
                name = f"{run.config.variant}/{PROPERTY}.without-{dropped}.json"
                _save(lasso_trace(run.config, lasso, fairness), out, name)
                break


def _verdicts(
    label: str,
    prop: Property,
    runs: list[MemberRun],
    shown_by: Mapping[str, tuple[str, ...]],
    max_states: int,
    progress: Progress,
) -> SuiteVerdict | None:
    """The verdict of the configs together; one they all hold is searched for its premise
    (`nfct_spec.engines.premises`) on the configs that judge it, within `max_states` each
    (`_premise`)."""
    if prop.kind == "liveness":
        members = [
            liveness_member(prop, run.config, run.outcomes[prop.id])
            for run in runs
            if prop.id in run.outcomes
        ]
    else:
        members = [
            safety_member(prop, exploration)
            for run in runs
            if (exploration := run.exploration_for(prop)) is not None
        ]
    judged = [m.config for m in members if m is not None]

    def premise() -> PremiseReach | None:
        return _premise(prop, judged, max_states, progress)

    return combine(label, members, prop.id, shown_by, premise)


def _premise(
    prop: Property, configs: list[Config], max_states: int, progress: Progress
) -> PremiseReach | None:
    """The premise search of one entry. Most end within a few hundred states, before the
    search's first progress report; one that goes on (a config that may never reach the
    premise) gets a progress bar, added at its first report, and a line when it ends."""
    task: list[TaskID] = []
    label = f"{configs[0].variant} premise of {prop.id}"
    plain = _plain_lines(progress, label)

    def report(config: Config, stats: Stats) -> None:
        if not task and stats.states < PROGRESS_EVERY:
            return
        if not task:
            task.append(progress.add_task(escape(label), total=max_states, info=""))
        info = f"{config.name}, depth {stats.depth}"
        progress.update(task[0], completed=stats.states, info=info)
        plain(stats.states, info)

    found = premises.reach(prop.id, configs, max_states, report)
    if task and found is not None:
        progress.update(task[0], total=found.states, completed=found.states)
        progress.console.print(f"{label}: {found.note()}", markup=False)
    return found


def explore_configs(
    label: str,
    configs: Sequence[Config],
    props: list[Property],
    max_states: int,
    out: Path,
    progress: Progress,
    lassos: bool = True,
    searches: list[dict[str, object]] | None = None,
    how: Search | None = None,
    shown_by: Mapping[str, tuple[str, ...]] = SHOWN_BY,
) -> list[Result]:
    """Explore every config of one variant (a suite, or a single config) and give one result
    per property for them together (`nfct_spec.engines.suite`); with `lassos`, also write a
    lasso for each weaker fairness set where some config has one. The figures of each search
    are appended to `searches`; `how` says how the safety searches run; `shown_by` names, per
    property id, the configs built to show its finding (exhausted without it: a
    contradiction)."""
    how = how or Search()
    runs = [_member(config, props, max_states, progress, how) for config in configs]
    if searches is not None:
        searches += [line for run in runs for line in run.summary()]
    results: list[Result] = []
    for prop in props:
        combined = _verdicts(label, prop, runs, shown_by, max_states, progress)
        if combined is None:
            continue
        trace = combined.trace(prop)
        variant = configs[0].variant
        path = None if trace is None else _save(trace, out, f"{variant}/{prop.id}.json")
        reason = prop.reason_for(combined.source.config if combined.source else configs[0])
        results.append(
            Result(
                prop.id,
                variant,
                ENGINE,
                combined.verdict,
                combined.expected,
                combined.scope,
                reason,
                trace=path,
                config=combined.config,
            )
        )
    if lassos:
        _weaker_lassos(runs, out, progress.console)
    return results


def results_table(results: list[Result]) -> Table:
    """The explorer's verdicts: expected -> found, and the config that decided it (`ci.*`:
    every config of the suite)."""
    table = Table(title="explorer: expected -> verdict")
    for column in ("property", "variant", "verdict", "config", "premise"):
        table.add_column(column)
    for r in results:
        note = premises.note_in(r.scope) if r.verdict in ("exhausted", "unknown") else ""
        table.add_row(r.property_id, r.variant, verdict_cell(r), r.config, escape(note))
    return table


Group = tuple[str, tuple[Config, ...]]
"""The configs of one variant explored together, with the label of their results."""


def suite_groups(name: str, variants: Sequence[str]) -> list[Group]:
    """The suite `name` for each variant, labelled `name.*` (every config of the suite)."""
    return [(f"{name}.*", suite(name, v)) for v in variants]


def selected(args: argparse.Namespace) -> list[Group]:
    """The configs to explore, per variant, with the label of their results: a suite (the
    default is `ci`), one preset, or one config file."""
    if args.config or args.preset:
        return [(c.name, (c,)) for c in configs_from_args(args)]
    variants = [checked_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    return suite_groups(args.suite or "ci", variants)


def explore_groups(
    groups: Sequence[Group],
    props: list[Property],
    max_states: int,
    out: Path,
    console: Console,
    lassos: bool = True,
    reduction: str = "symmetry",
    workers: int = 1,
    fold: bool = True,
    **run_fields: object,
) -> list[Result]:
    """Explore every group with progress bars, merge the results into results.json (the run
    record lists each search's figures, the configs are keyed `variant/name`), print the
    table, and return the results. `reduction` (`REDUCTIONS`), `workers` and `fold` say how
    the safety searches run; `run_fields` add to the run record."""
    fresh_subdir(out, TRACES)
    started = time.time()
    results: list[Result] = []
    searches: list[dict[str, object]] = []
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(Pool(workers)) if workers > 1 else None
        how = Search(por=reduction == "por", pool=pool, untimed=reduction == "untimed", fold=fold)
        progress = stack.enter_context(progress_bars(console))
        for label, configs in groups:
            results += explore_configs(
                label, configs, props, max_states, out, progress, lassos, searches, how
            )
    run_info = {
        "command": "explore",
        **run_fields,
        "reduction": reduction,
        "workers": workers,
        "folded": fold,
        "max_states": max_states,
        "searches": searches,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_seconds": round(time.time() - started, 2),
    }
    explored = {f"{c.variant}/{c.name}": c.to_json() for _, configs in groups for c in configs}
    write_results(out / "results.json", results, run_info, explored)
    console.print(results_table(results))
    return results


def run(args: argparse.Namespace, console: Console) -> int:
    """Explore every selected config and write the explorer's results."""
    if args.max_states < 1:
        raise UsageError("--max-states must be at least 1")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    groups = selected(args)
    props = properties_from_ids(args.property)
    out = prepare(Path(args.out))
    check_mergeable(out / "results.json")
    started = time.time()
    results = explore_groups(
        groups,
        props,
        args.max_states,
        out,
        console,
        reduction=args.reduction,
        workers=args.workers,
        fold=not args.separate_searches,
    )
    elapsed = time.time() - started
    console.print(f"results in {out / 'results.json'}, traces in {out / TRACES} ({elapsed:.1f} s)")
    return exit_code(results)


def progress_bars(console: Console) -> Progress:
    """The progress display of a search: states found, transitions and depth, time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} states"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
    )
