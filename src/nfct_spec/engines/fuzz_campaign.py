"""A fuzzing campaign: its tests, its example database, and HypoFuzz running them.

A campaign searches every given config twice, as `nfct-spec check` does: with its whole
environment and with the quiet slice of it (`nfct_spec.engines.sampling.quiet_slice`). Each
(config, slice) pair is one HypoFuzz test (`nfct_spec.engines.fuzz_machine`) whose runs
evaluate every property.
Fewer, broader tests than one per property, because every run then serves every property, and
HypoFuzz stops fuzzing a test at its first failure while expected findings are not failures
(`nfct_spec.engines.fuzz_machine`).

HypoFuzz collects its tests with pytest, so the campaign folder gets a small generated test
module that builds the tests from `campaign.json` (`campaign_test_cases`) and a `pytest.ini`
that makes the folder pytest's root, so that a test's node id, and with it the key of its
examples, is the same on every machine and in every campaign: a campaign resumes from, and
several machines share, whatever the database holds under those keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
from hypothesis.internal.reflection import function_digest

from nfct_spec.checking import searched
from nfct_spec.engines.fuzz_hub import PARENT_ENV
from nfct_spec.engines.fuzz_machine import RUN_HEALTH_CHECKS, FuzzTarget, Memo, given_test
from nfct_spec.engines.sampling import quiet_slice
from nfct_spec.models.config import Config, config_from_json
from nfct_spec.spec.catalogue import Property, lookup

SLICES = ("full", "quiet")
MODULE = "test_nfct_campaign.py"
HOLDS = ("holds", "no-witness")
HASH_SEED = "0"
"""PYTHONHASHSEED of the workers, so that state digests agree between them (`fuzz_log`)."""

_GENERATED = '''"""nfct-spec fuzz: this campaign's tests, built from campaign.json (generated)."""

from nfct_spec.engines.fuzz_campaign import campaign_test_cases

globals().update(campaign_test_cases(__file__))
'''


@dataclass(frozen=True)
class Campaign:
    """What a campaign searches and where it keeps what it finds."""

    configs: tuple[Config, ...]
    properties: tuple[str, ...]
    database: str
    """A folder for a DirectoryBasedExampleDatabase, or a redis:// URL."""
    steps: int = 30
    guidance: bool = True
    log_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        """The campaign.json form."""
        return {
            "configs": [c.to_json() for c in self.configs],
            "properties": list(self.properties),
            "database": self.database,
            "steps": self.steps,
            "guidance": self.guidance,
            "log_dir": self.log_dir,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Campaign:
        """The inverse of `to_json`."""
        return cls(
            configs=tuple(config_from_json(c) for c in data["configs"]),
            properties=tuple(str(p) for p in data["properties"]),
            database=str(data["database"]),
            steps=int(data["steps"]),
            guidance=bool(data["guidance"]),
            log_dir=str(data["log_dir"]),
        )

    def props(self) -> list[Property]:
        """The catalogue entries of the campaign."""
        return [lookup(p) for p in self.properties]


def is_redis(database: str) -> bool:
    """Whether the database is a Redis URL rather than a folder."""
    return database.startswith(("redis://", "rediss://", "unix://"))


def open_database(database: str) -> ExampleDatabase:
    """The example database: a folder, or Redis (the `redis` package of the fuzz extra)."""
    if is_redis(database):
        from nfct_spec.engines.fuzz_redis import SharedRedisDatabase

        return SharedRedisDatabase(database)
    return DirectoryBasedExampleDatabase(database)


def campaign_test_name(config: Config, slice_name: str) -> str:
    """The function name of a campaign test: variant, config name, slice and a digest of the
    sliced config (a Python identifier). With the module name it is the test's pytest node
    id, which keys its examples in the database, so a changed config starts afresh while
    campaigns over different property subsets share their examples."""
    text = json.dumps({"config": config.to_json(), "slice": slice_name}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    raw = f"test_{config.variant}_{config.name}_{slice_name}_{digest}"
    return re.sub(r"\W", "_", raw)


@dataclass(frozen=True)
class CampaignTest:
    """One HypoFuzz test of a campaign."""

    name: str
    config: Config
    """The full config (findings are replayed and minimised under it)."""
    slice_name: str
    target: FuzzTarget
    function: Any
    """The `@given` test function."""

    @property
    def nodeid(self) -> str:
        """The pytest node id of the test in the generated module."""
        return f"{MODULE}::{self.name}"

    @property
    def database_key(self) -> bytes:
        """The key Hypothesis and HypoFuzz file this test's examples under."""
        return function_digest(self.function.hypothesis.inner_test)


def campaign_tests(
    campaign: Campaign, *, fail_on_holds: bool = True, log: bool = True
) -> list[CampaignTest]:
    """The tests of a campaign. `fail_on_holds`: a finding of a property expected to hold is
    raised (in a campaign); else only recorded (when replaying the database)."""
    props = campaign.props()
    log_dir = Path(campaign.log_dir) if log and campaign.log_dir else None
    out = []
    for config in campaign.configs:
        applicable = [p for p in props if searched(p, config)]
        holds = frozenset(p.id for p in applicable if p.expected_for(config) in HOLDS)
        for slice_name in SLICES:
            sliced = config if slice_name == "full" else quiet_slice(config)
            if slice_name != "full" and sliced == config:
                continue  # a config without side shows is its own quiet slice: one test
            name = campaign_test_name(sliced, slice_name)
            target = FuzzTarget(
                Memo(sliced, applicable),
                name,
                campaign.steps,
                fail_on=holds if fail_on_holds else frozenset(),
                guidance=campaign.guidance,
                log_dir=log_dir,
            )
            function = given_test(target, f"{MODULE}::{name}")
            out.append(CampaignTest(name, config, slice_name, target, function))
    return out


def use_database(database: str) -> None:
    """Make the campaign's database the default profile's: HypoFuzz fuzzes only tests whose
    database is the default one, and the tests take their settings from it when built.

    `derandomize` is stated, not inherited: where the CI environment variable is set, Hypothesis
    makes its own derandomized `ci` profile the default, and HypoFuzz refuses to fuzz a test
    that sets derandomize, so a campaign started there would collect no test at all."""
    profile = "nfct-spec-fuzz"
    settings.register_profile(
        profile,
        database=open_database(database),
        derandomize=False,
        deadline=None,
        suppress_health_check=RUN_HEALTH_CHECKS,
    )
    settings.load_profile(profile)


def campaign_test_cases(module_file: str) -> dict[str, Any]:
    """The test functions of the generated test module, by name."""
    campaign = load_campaign(Path(module_file).parent)
    use_database(campaign.database)
    return {test.name: test.function for test in campaign_tests(campaign)}


def load_campaign(folder: Path) -> Campaign:
    """The campaign.json of a campaign folder."""
    data = json.loads((folder / "campaign.json").read_text(encoding="utf-8"))
    return Campaign.from_json(data)


def write_campaign(folder: Path, campaign: Campaign) -> Path:
    """Lay out the campaign folder; returns the generated test module."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "campaign.json").write_text(
        json.dumps(campaign.to_json(), indent=1) + "\n", encoding="utf-8"
    )
    (folder / "pytest.ini").write_text(
        "[pytest]\n# generated by nfct-spec fuzz: this folder is pytest's root\n",
        encoding="utf-8",
    )
    module = folder / MODULE
    module.write_text(_GENERATED, encoding="utf-8")
    return module


class HypoFuzz:
    """HypoFuzz's command line (`hypothesis fuzz`) run on a campaign folder, in a process
    group of its own so that it can be stopped as a whole."""

    def __init__(
        self, folder: Path, workers: int, dashboard: bool, port: int, host: str = "localhost"
    ) -> None:
        self.folder = folder
        self.log_path = folder / "hypofuzz.log"
        board = ["--dashboard", "--host", host, "--port", str(port)] if dashboard else []
        self.command = [
            sys.executable,
            "-m",
            "nfct_spec.engines.fuzz_hub",
            "-n",
            str(workers),
            *(board or ["--no-dashboard"]),
            "--",
            "-c",
            "pytest.ini",
            "-p",
            "no:cacheprovider",
            MODULE,
        ]
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Start the hub and its workers (output to hypofuzz.log in the campaign folder)."""
        self._log = self.log_path.open("ab")
        env = {**os.environ, "PYTHONHASHSEED": HASH_SEED, PARENT_ENV: str(os.getpid())}
        self._proc = subprocess.Popen(
            self.command,
            cwd=self.folder,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        """The hub has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, grace: float = 20.0) -> int | None:
        """Interrupt the hub and its workers (SIGINT, as Ctrl-C would), then terminate what is
        left; returns the hub's exit code."""
        proc = self._proc
        if proc is None:
            return None
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        _reap_group(proc.pid)
        if self._log is not None:
            self._log.close()
        return proc.poll()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of HypoFuzz's output."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _reap_group(pgid: int, grace: float = 10.0) -> None:
    """Wait for the rest of the hub's process group (workers write what they still hold to
    the database as they exit), then kill what is left of it."""
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def database_keys(tests: Sequence[CampaignTest]) -> dict[str, bytes]:
    """The database key of each test, by name."""
    return {t.name: t.database_key for t in tests}
