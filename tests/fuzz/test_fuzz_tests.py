"""The tests a campaign hands HypoFuzz: one per config and slice, a slice only when it differs,
and settings HypoFuzz accepts even where the CI environment variable makes Hypothesis's own
derandomized `ci` profile the default."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fuzzing import CONFIG
from nfct_spec.commands.common import load_config
from nfct_spec.engines.fuzz_campaign import Campaign, campaign_tests
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset


def _campaign(config: Config, database: Path) -> Campaign:
    return Campaign(configs=(config,), properties=("table-bound",), database=str(database))


def test_a_config_with_side_shows_gets_a_full_and_a_quiet_test(tmp_path: Path) -> None:
    tests = campaign_tests(_campaign(preset("tiny"), tmp_path), log=False)
    assert [t.slice_name for t in tests] == ["full", "quiet"]
    assert tests[0].config == tests[1].config == preset("tiny")


def test_a_config_without_side_shows_is_its_own_quiet_slice(tmp_path: Path) -> None:
    tests = campaign_tests(_campaign(load_config(CONFIG), tmp_path), log=False)
    assert [t.slice_name for t in tests] == ["full"]


def test_campaign_tests_are_not_derandomized_where_ci_is_set(tmp_path: Path) -> None:
    probe = textwrap.dedent(
        f"""
        from hypothesis import settings
        assert settings.default.derandomize, "Hypothesis no longer derandomizes under CI"
        from nfct_spec.engines.fuzz_campaign import Campaign, campaign_tests, use_database
        from nfct_spec.models.presets import preset
        use_database({str(tmp_path)!r})
        campaign = Campaign((preset("tiny"),), ("table-bound",), {str(tmp_path)!r})
        (first, _) = campaign_tests(campaign, log=False)
        chosen = first.function._hypothesis_internal_use_settings
        print(settings.default.derandomize, chosen.derandomize)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "CI": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
