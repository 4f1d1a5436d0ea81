"""Plausible one-line bugs in the model, installed by source rewriting, and the `check`
property that must catch each.

A mutant is a set of textual replacements in modules of `nfct_spec.models`. `driver.py` installs it
with an import hook before anything imports the model (the sources are used, never the compiled
modules), then runs `nfct-spec check` in the same process, so the Hypothesis worker processes
(forked) run the mutant too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """A bug a patch could plausibly introduce, and the check that must catch it."""

    name: str
    edits: tuple[tuple[str, str, str], ...]
    """(module of `nfct_spec.models` without the package prefix, text to replace, new text);
    each text to replace must occur exactly once in its module's source."""
    variant: str
    caught_by: str
    """The catalogue entry whose verdict must then be not as expected, or `RECORDINGS`: a
    shipped live-kernel recording must then be not explained by the 6.x model."""
    why: str
    explorer_catches: bool = False
    """The explorer's exhaustive search of the `ci` suite catches it too, not only Hypothesis
    on the `ci` preset (a member reaches the premise the bug breaks)."""


RECORDINGS = "recordings"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "missed-cleared-on-failure",
        (
            (
                "ecache",
                "ct = set_field(ct, CT_MISSED, ct.missed | events)",
                "ct = set_field(ct, CT_MISSED, events)",
            ),
        ),
        "2.6.31",
        "missed-keeps-undelivered",
        "a failed delivery at the confirm hook replaces the missed bits instead of adding to "
        "them, so events that failed before are forgotten",
    ),
    Mutant(
        "early-drop-evicts-assured",
        (
            (
                "registry",
                "if ct is not None and not ct.assured and ct.timer != NO_TIMER:",
                "if ct is not None and ct.timer != NO_TIMER:",
            ),
            (
                "core",
                "if ct is None or victim not in state.kernel.hash or ct.assured:",
                "if ct is None or victim not in state.kernel.hash:",
            ),
        ),
        "6.x",
        "early-drop-spares-assured",
        "early_drop() may pick an ASSURED conntrack as its victim",
        explorer_catches=True,
    ),
)

MUTANTS += (
    Mutant(
        "build-failure-reported-as-success",
        (
            (
                "netlink",
                "ENOBUFS if _reports_build_failure(config, state, group) else 0",
                "0",
            ),
        ),
        "6.x",
        "destroy-before-free",
        "a message that cannot be built counts as sent again (the 2.6.35 fix undone), so a "
        "DESTROY that was never built frees its conntrack",
    ),
)

MUTANTS += (
    Mutant(
        "auto-mode-always-caches",
        (
            (
                "core",
                "        return any(\n            sock.open and set(listener.groups)",
                "        return True or any(\n            sock.open and set(listener.groups)",
            ),
        ),
        "6.x",
        "auto-mode-late-listener",
        "auto mode gives every conntrack an event cache, as if a listener always existed",
    ),
)

MUTANTS += (
    Mutant(
        "gc-never-reaps",
        (
            (
                "redelivery",
                "if ct is None or slot not in state.kernel.hash or ct.timer != 0:",
                "if True:",
            ),
        ),
        "6.x",
        "expiry-eventually",
        "the gc worker never kills an expired conntrack, so once traffic stops it stays in "
        "the table for ever and its DESTROY never comes",
    ),
)

MUTANTS += (
    Mutant(
        "no-enobufs-inverted",
        (
            (
                "netlink",
                "if not listener.no_enobufs and not sock.congested:",
                "if listener.no_enobufs and not sock.congested:",
            ),
        ),
        "6.x",
        RECORDINGS,
        "netlink_overrun() reports ENOBUFS to the sockets that set NETLINK_NO_ENOBUFS and "
        "not to the others",
    ),
    Mutant(
        "congestion-never-set",
        (
            (
                "netlink",
                "sock = set_fields(sock, SOCK_CONGESTED, True, SOCK_SK_ERR, True)",
                "sock = set_field(sock, SOCK_SK_ERR, True)",
            ),
        ),
        "6.x",
        RECORDINGS,
        "netlink_overrun() reports ENOBUFS but does not mark the socket congested, so a "
        "broadcast is taken again as soon as a read makes room, not only once the queue is empty",
    ),
)

BY_NAME = {m.name: m for m in MUTANTS}
