"""`nfct-spec check`: the main job. Samples every property on every variant with the
Hypothesis engine, exhausts the preset's explorer suite (for `ci`), runs the Z3 proofs,
validates the shipped live-kernel recordings against the 6.x model (when 6.x is checked),
prints the property x variant tables, and writes results.json, one trace per finding and one
page per trace under the output folder."""

from __future__ import annotations

import argparse
import multiprocessing
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

from hypothesis.errors import FailedHealthCheck
from rich.console import Console
from rich.table import Table

from nfct_spec.checking import searched
from nfct_spec.commands import explore
from nfct_spec.commands.common import (
    OUTCOMES,
    configs_from_args,
    default_jobs,
    properties_from_ids,
    verdict_cell,
    worst,
    z3_table,
)
from nfct_spec.commands.kernel import recordings_table
from nfct_spec.engines.hypothesis_engine import PROFILES, Profile
from nfct_spec.engines.sampling import Checked, check_sampling
from nfct_spec.engines.z3_engine import Z3Run, encoded_variants, prove
from nfct_spec.kernel.recorded import RecordingResult, shipped, validate_recording
from nfct_spec.kernel.recorded import exit_code as recordings_exit_code
from nfct_spec.models.config import Config
from nfct_spec.models.presets import PRESETS, SUITES
from nfct_spec.outdir import fresh_subdir, prepare
from nfct_spec.results import Result, check_mergeable, exit_code, write_results
from nfct_spec.spec.catalogue import BY_ID, Property
from nfct_spec.traces import save_trace
from nfct_spec.viewer.html import write_pages


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `check`."""
    check = sub.add_parser("check", help="check every property on every variant")
    check.add_argument("--out", default="nfct-spec-out", help="output folder")
    check.add_argument("--variant", action="append", help="variant to check (repeatable)")
    check.add_argument("--preset", default="ci", choices=PRESETS)
    check.add_argument("--config", help="a JSON config file instead of a preset")
    check.add_argument("--profile", default="ci", choices=sorted(PROFILES))
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--property", action="append", help="property id (repeatable)")
    check.add_argument("--no-prove", action="store_true", help="skip the Z3 proofs")
    check.add_argument(
        "--no-explore", action="store_true", help="skip the explorer's exhaustive search"
    )


def _table(results: list[Result], variants: list[str]) -> Table:
    table = Table(title="property x variant (expected -> hypothesis verdict)")
    table.add_column("property")
    for variant in variants:
        table.add_column(variant)
    cells = {(r.property_id, r.variant): r for r in results}
    for prop_id in dict.fromkeys(r.property_id for r in results):
        row = [prop_id]
        for variant in variants:
            r = cells.get((prop_id, variant))
            if r is None:
                row.append("[dim]n/a[/dim]")
                continue
            row.append(verdict_cell(r))
        table.add_row(*row)
    return table


def undecided(config: Config, props: list[Property], exc: FailedHealthCheck) -> list[Checked]:
    """A Hypothesis health check that failed leaves every verdict of the search undecided
    (`unknown`, exit 3), with the check's name as the reason: a search Hypothesis itself
    judges unsound is not reported as a pass."""
    named = re.search(r"HealthCheck\.(\w+)", str(exc))
    name = named.group(1) if named else "(unnamed)"
    scope = f"Hypothesis health check {name} failed: no verdict from this search"
    return [
        Checked(
            Result(
                p.id,
                config.variant,
                "hypothesis",
                "unknown",
                p.expected_for(config),
                scope,
                p.reason_for(config),
                config=config.name,
            ),
            None,
        )
        for p in props
        if searched(p, config)
    ]


SAMPLING_WORKERS = 2
"""Worker processes of the Hypothesis searches (one variant each at a time)."""


def ignore_interrupts() -> None:
    """In a worker: Ctrl-C is the parent's to handle (it stops the workers), so a worker
    prints no traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def sample(
    config: Config, prop_ids: list[str], profile: Profile, seed: int, database: Path
) -> list[Checked]:
    """One config's Hypothesis searches, in a worker process (properties travel by id: their
    checks are functions made at import); a failed health check leaves its verdicts
    undecided."""
    props = [BY_ID[prop_id] for prop_id in prop_ids]
    try:
        return check_sampling(config, props, profile, seed, database)
    except FailedHealthCheck as exc:
        return undecided(config, props, exc)


def _explore(
    args: argparse.Namespace,
    configs: list[Config],
    props: list[Property],
    out: Path,
    console: Console,
) -> int:
    """The explorer on the suite of the preset (only `ci` has one: a preset itself is too large
    to exhaust); its results are merged into results.json. Returns its exit code."""
    if args.config or args.preset not in SUITES:
        what = "a config file" if args.config else f"preset {args.preset!r}"
        console.print(
            f"explorer: skipped, {what} has no suite of exhaustible configs "
            "(`nfct-spec explore` searches it within a state budget)"
        )
        return 0
    groups = explore.suite_groups(args.preset, [c.variant for c in configs])
    results = explore.explore_groups(
        groups, props, explore.DEFAULT_MAX_STATES, out, console, lassos=False, suite=args.preset
    )
    return exit_code(results)


def _recordings(configs: list[Config], console: Console) -> list[RecordingResult] | None:
    """The shipped live-kernel recordings validated against the 6.x model, when 6.x is
    checked (None otherwise): a model that contradicts the live kernel fails `check`."""
    if not any(c.variant == "6.x" for c in configs):
        return None
    results = [validate_recording(path) for path in shipped()]
    console.print(recordings_table(results))
    return results


PROOF_METHODS = ("induction", "liveness")
"""What `check` asks of Z3: the proofs, which no other engine gives. The BMC searches for
findings (`nfct-spec prove` runs them) are left out: the explorer shows each of those findings
by a BFS-shortest trace already, and they would cost `check` a quarter of the Z3 time."""


class _Proofs(threading.Thread):
    """The Z3 proofs, run beside the explorer once the Hypothesis workers are done.

    The explorer works in this process while the Hypothesis searches use the worker processes;
    the searches end first, and from then on a core would idle until the explorer is done. The
    proofs run in worker processes of their own (`z3_runner.run_all`), so this thread only
    waits for the searches, runs the encoding guard and collects the verdicts. What the proofs
    would print is kept (`lines`) and printed by the caller after the explorer's output, and
    results.json is written by the caller (`Z3Run.write`), after the other engines."""

    def __init__(
        self, variants: list[str], props: list[Property], out: Path, wait_for: list[Any]
    ) -> None:
        super().__init__(name="nfct-spec proofs", daemon=True)
        self.variants, self.props, self.out, self.wait_for = variants, props, out, wait_for
        self.lines: list[str] = []
        self.z3: Z3Run | None = None
        self.error: BaseException | None = None
        self.waited = 0.0
        """Seconds from the start of the thread to the start of the proofs."""

    def run(self) -> None:
        started = time.perf_counter()
        try:
            for pending in self.wait_for:
                pending.wait()
            self.waited = time.perf_counter() - started
            self.z3 = prove(
                self.variants,
                self.props,
                self.out,
                jobs=default_jobs(),
                show=self.lines.append,
                write=False,
                methods=PROOF_METHODS,
            )
        except BaseException as exc:  # handed to the caller, which raises it
            self.error = exc

    def outcome(self) -> Z3Run:
        """Wait for the proofs; their error, if any, is raised here."""
        self.join()
        if self.error is not None:
            raise self.error
        assert self.z3 is not None
        return self.z3


def run(args: argparse.Namespace, console: Console) -> int:
    """The main job: sample every property on every variant, explore the suite and prove,
    then write the results."""
    configs = configs_from_args(args)
    props = properties_from_ids(args.property)
    profile = PROFILES[args.profile]
    out = prepare(Path(args.out))
    check_mergeable(out / "results.json")
    traces_dir = fresh_subdir(out, "traces/hypothesis")
    started = time.time()
    database = out / ".hypothesis"
    workers = min(SAMPLING_WORKERS, len(configs))
    pool = multiprocessing.Pool(workers, initializer=ignore_interrupts)
    finished = False
    proofs: _Proofs | None = None
    try:
        pending = [
            pool.apply_async(sample, (config, [p.id for p in props], profile, args.seed, database))
            for config in configs
        ]
        console.print(
            f"Hypothesis: {len(configs)} variant(s) sampled in {workers} worker "
            f"process(es), {2 * profile.max_examples:,} runs each (profile {profile.name})"
        )
        encoded = [] if args.no_prove else encoded_variants(configs, console.print)
        if encoded:
            proofs = _Proofs(encoded, props, out, pending)
            proofs.start()
            console.print(
                "Z3: the proofs (induction, liveness) start once the Hypothesis searches are "
                "done; the BMC searches for findings are `nfct-spec prove`'s"
            )
        # The explorer works meanwhile in this process: the machine's cores share the work.
        explored = 0 if args.no_explore else _explore(args, configs, props, out, console)
        if not args.no_explore:
            console.print(f"explorer: done at {time.time() - started:.0f} s")
        checked: list[Checked] = []
        for config, sampled in zip(configs, pending, strict=True):
            checked += sampled.get()
            console.print(f"Hypothesis: {config.variant} ({config.name}) done")
        finished = True
    finally:
        # Interrupted or failed: the workers are stopped at once, not waited for.
        if finished:
            pool.close()
        else:
            pool.terminate()
        pool.join()
    results: list[Result] = []
    for item in checked:
        result = item.result
        if item.trace is not None:
            name = Path(result.variant) / f"{result.property_id}.json"
            save_trace(item.trace, traces_dir / name)
            trace_path = str((traces_dir / name).relative_to(out))
            result = Result(**{**result.__dict__, "trace": trace_path})
        results.append(result)
    recordings = _recordings(configs, console)
    elapsed = time.time() - started
    run = {
        "command": "check",
        "profile": profile.name,
        "seed": args.seed,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "elapsed_seconds": round(elapsed, 2),
    }
    if recordings is not None:
        run["recordings"] = [r.to_json() for r in recordings]
    write_results(out / "results.json", results, run, {c.variant: c.to_json() for c in configs})
    console.print(_table(results, [c.variant for c in configs]))
    code = worst(exit_code(results), explored)
    if recordings is not None:
        code = worst(code, recordings_exit_code(recordings))
    if proofs is not None:
        if proofs.is_alive():
            console.print("Z3: waiting for the proofs")
        z3 = proofs.outcome()
        for line in proofs.lines:
            console.print(line, highlight=False)
        z3.write(out)
        console.print(z3_table(z3.results))
        console.print(
            f"{len(z3.results)} z3 verdicts in {z3.seconds:.1f} s, started at "
            f"{proofs.waited:.0f} s (when the Hypothesis searches were done)"
        )
        code = worst(code, z3.code)
    fresh_subdir(out, "html")
    index = write_pages(out, out / "results.json")
    console.print(
        f"{OUTCOMES[code]}; results in {out / 'results.json'}, traces in {traces_dir}, "
        f"pages in {index} ({time.time() - started:.1f} s)"
    )
    return code
