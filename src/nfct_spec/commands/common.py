"""What the subcommands share: the usage error, variant and property look-ups, configs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from nfct_spec.files import load_json
from nfct_spec.models.config import VARIANTS, Config, config_from_json
from nfct_spec.models.presets import preset
from nfct_spec.models.variants import MODELLED
from nfct_spec.spec.catalogue import BY_ID, Property, lookup

DEFAULT_VARIANTS = ("2.6.30", "2.6.31", "6.x")


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


def load_config(path: str | Path) -> Config:
    """Read a config file; InputError (one line naming the file and the field) on any
    problem."""
    return load_json(path, "config", config_from_json)


def checked_variant(name: str) -> str:
    """`name` if it is a variant with an executable model; UsageError otherwise."""
    if name not in VARIANTS:
        raise UsageError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    if name not in MODELLED:
        raise UsageError(
            f"variant {name!r} has no executable model yet (modelled: {', '.join(MODELLED)})"
        )
    return name


def configs_from_args(args: argparse.Namespace) -> list[Config]:
    """The configs named by --config or by --preset and --variant."""
    if getattr(args, "config", None):
        config = load_config(args.config)
        checked_variant(config.variant)
        if args.variant and args.variant != [config.variant]:
            raise UsageError("--variant cannot be combined with --config (the file names one)")
        return [config]
    variants = [checked_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    return [preset(args.preset, v) for v in variants]


def properties_from_ids(ids: Sequence[str] | None) -> list[Property]:
    """The catalogue entries named by `ids` (all when none); UsageError for an unknown id."""
    if not ids:
        return list(BY_ID.values())
    try:
        return [lookup(i) for i in ids]
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
