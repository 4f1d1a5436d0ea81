"""Does compiling more than the model pay? The explorer's searches with the package as it
installs (the model, `models/`, compiled with mypyc; the search loop and the state judge
interpreted) against a staged copy in which the search loop (`engines/explorer.py`), the state
judge (`checking.py`) and the vocabulary the invariants read (`spec/vocab.py`) are compiled
too, in the same mypyc group as the model.

`spec/auxiliary.py` is left out: its checks are closures whose argument count the catalogue
reads (`Property.on_transitions` looks at `__code__`), which compiled closures do not have.

The staged copy is built in a temporary folder (about two minutes); the two builds then run
the same searches of the reference config (see `bench_explorer.py`) in fresh processes,
alternately, `--repeat` times each, and the median of each is reported. Each run prints which
modules it ran compiled, so a build that fell back to the sources is caught. The rows are
written to the figures record (block `compiled`, docs/figures.json or `--record`).

Usage: python scripts/bench_compiled.py [--repeat 3] [--record docs/figures.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from nfct_spec.docs.figures import RECORD, record_argument, record_block

HERE = Path(__file__).resolve().parent.parent
ALSO = ("nfct_spec/engines/explorer.py", "nfct_spec/checking.py", "nfct_spec/spec/vocab.py")
SEARCHES = (
    ("2.6.31", 2, 1_000_000, "obligations"),
    ("2.6.31", 4, 100_000, "obligations+receipts"),
    ("6.x", 4, 100_000, "obligations+receipts"),
)
"""(variant, slots, budget, search group) of each timed search."""

BUILD = """
import sys
from pathlib import Path
from setuptools import setup
from mypyc.build import mypycify
import nfct_spec.models
models = Path("nfct_spec/models")
# the hash the package compares its compiled build with (nothing is compiled yet here)
(models / "_fingerprint.py").write_text(f'SOURCES = "{nfct_spec.models._source_hash()}"\\n')
keep = ("__init__.py", "config.py", "_fingerprint.py")  # setup.py's INTERPRETED
sources = sorted(models.glob("*.py"))
paths = [str(p) for p in sources if p.name not in keep] + sys.argv.pop(1).split(",")
setup(name="staged", ext_modules=mypycify(paths, group_name="nfct_spec.models.compiled",
      opt_level="3"))
"""

RUN = """
import json, sys, time
sys.path.insert(0, sys.argv[5])
from bench_explorer import reference
import nfct_spec.engines.explorer as explorer_module
import nfct_spec.spec.vocab as vocab
from nfct_spec.engines.explorer import explore, search_groups
from nfct_spec.models import COMPILED
from nfct_spec.models.observers import level_name
from nfct_spec.spec.catalogue import CATALOGUE
variant, slots, budget, group = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
config = reference(slots, variant)
groups = search_groups([p for p in CATALOGUE if p.kind != "liveness"])
level, props = next((lv, ps) for lv, ps in groups if level_name(lv) == group)
started, cpu = time.perf_counter(), time.process_time()
result = explore(config, props, max_states=budget, level=level)
print(json.dumps({
    "states": result.stats.states, "complete": result.stats.complete,
    "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
    "model": COMPILED,
    "loop": not explorer_module.__file__.endswith(".py"),
    "vocab": not vocab.__file__.endswith(".py"),
}))
"""


def stage(into: Path) -> Path:
    """The package in its installed layout, with the model and `ALSO` compiled."""
    package = into / "nfct_spec"
    shutil.copytree(HERE / "src" / "nfct_spec", package)
    for part in ("models", "spec", "proofs"):
        shutil.copytree(HERE / part, package / part)
    for built in package.rglob("*.so"):
        built.unlink()
    (into / "build_staged.py").write_text(BUILD)
    subprocess.run(
        [sys.executable, "build_staged.py", ",".join(ALSO), "build_ext", "--inplace"],
        cwd=into,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return into


def timed(search: tuple[str, int, int, str], path: Path | None) -> dict[str, object]:
    """One search in a fresh process; with `path`, the staged build comes first on the path."""
    env = dict(os.environ)
    env.pop("NFCT_SPEC_PURE", None)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    variant, slots, budget, group = search
    args = [variant, str(slots), str(budget), group, str(HERE / "scripts")]
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args],
        env=env,
        cwd=tempfile.gettempdir(),
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--record", type=record_argument, default=HERE / RECORD)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        print("building the staged copy ...", flush=True)
        staged = stage(Path(folder))
        for search in SEARCHES:
            runs: dict[str, list[dict[str, object]]] = {"installed": [], "staged": []}
            for _ in range(args.repeat):
                runs["installed"].append(timed(search, None))
                runs["staged"].append(timed(search, staged))
            for name, wanted in (("installed", (True, False, False)), ("staged", (True,) * 3)):
                for run in runs[name]:
                    got = (run["model"], run["loop"], run["vocab"])
                    if got != wanted:
                        sys.exit(f"the {name} build ran with (model, loop, vocab) = {got}")
            states = {run["states"] for run in runs["installed"] + runs["staged"]}
            if len(states) != 1:
                sys.exit(f"the builds stored different state counts: {sorted(states)}")
            plain = statistics.median(float(str(r["seconds"])) for r in runs["installed"])
            more = statistics.median(float(str(r["seconds"])) for r in runs["staged"])
            variant, slots, budget, group = search
            exhausted = bool(runs["installed"][0]["complete"])
            what = "exhausted" if exhausted else f"budget {budget:,}"
            row = {
                "run": f"{variant}, {group}, {slots} slots, {what}",
                "states": states.pop(),
                "installed": round(plain, 1),
                "staged": round(more, 1),
                "speedup": round(plain / more, 2),
            }
            print(row, flush=True)
            rows.append(row)
    record_block(
        args.record,
        "compiled",
        {
            "about": "the explorer's searches with the model compiled, and with the search "
            "loop, the state judge and the vocabulary compiled too (medians)",
            "command": f"python scripts/bench_compiled.py --repeat {args.repeat}",
            "columns": [
                ["run", "run"],
                ["states", "states"],
                ["installed", "s, model compiled"],
                ["staged", "s, explorer, judge and vocabulary compiled too"],
                ["speedup", "speed-up"],
            ],
            "rows": rows,
            "after": "Median of {repeat} alternating runs each, load average (1 min) "
            "{load} when done.",
            "values": {"repeat": args.repeat, "load": round(os.getloadavg()[0], 1)},
        },
    )


if __name__ == "__main__":
    main()
