"""Recordings of the live kernel as regression tests of the model.

A recording is what `nfct-spec kernel run SCENARIO -o FILE` writes (`nfct_spec.kernel.observe`,
format `nfct-spec-observed/1`): the scenario and its parameters, the kernel release, each
listener's socket options, and the events in the order userspace saw them. The package ships
a few small ones, made on Linux 6.18 (`recordings/`), and `nfct-spec check` validates them
against the 6.x model (`nfct_spec.kernel.conformance`): a change of the model that contradicts
the live kernel then fails `check` on any machine, root or not, with no kernel touched.

Each recording gets one of three outcomes: explained (some 6.x model execution performs its
events in its order), not explained (the first event no consistent model state explains, with
the number of states that were consistent just before it), or not modelled (the validator
cannot search it: more than two TCP connections, a socket option it lacks, too many consistent
states between two observations; the reason is given).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from nfct_spec.kernel.conformance import TooLarge, Validation, validate
from nfct_spec.kernel.observe import load

SHIPPED = Path(__file__).with_name("recordings")
"""The recordings the package ships (made with `nfct-spec kernel run` on Linux 6.18)."""

EXPLAINED, NOT_EXPLAINED, NOT_MODELLED = "explained", "not explained", "not modelled"


@dataclass(frozen=True)
class RecordingResult:
    """The outcome for one recording."""

    path: Path
    scenario: str
    kernel: str
    outcome: str
    detail: str
    events: int
    seconds: float

    def to_json(self) -> dict[str, object]:
        """The results.json form."""
        return {
            "recording": self.path.name,
            "scenario": self.scenario,
            "kernel": self.kernel,
            "outcome": self.outcome,
            "detail": self.detail,
            "events": self.events,
            "seconds": round(self.seconds, 2),
        }


def shipped() -> list[Path]:
    """The shipped recordings, by name."""
    return sorted(SHIPPED.glob("*.json"))


def _outcome(validation: Validation) -> tuple[str, str]:
    if validation.unexplained is not None:
        return NOT_EXPLAINED, validation.unexplained
    if validation.unsupported is not None:
        return NOT_MODELLED, validation.unsupported
    return EXPLAINED, (
        f"every event, with at most {validation.peak_states} consistent model states"
    )


def validate_recording(path: Path) -> RecordingResult:
    """Validate one recording against the 6.x model (a file that is not a recording raises
    `nfct_spec.files.InputError`, naming it)."""
    trace = load(path)
    started = time.perf_counter()
    try:
        validation = validate(trace)
    except TooLarge as exc:
        outcome, detail, events = NOT_MODELLED, f"too large for the validator: {exc}", 0
    else:
        outcome, detail = _outcome(validation)
        events = validation.total
    return RecordingResult(
        path,
        trace.scenario,
        trace.kernel,
        outcome,
        detail,
        events,
        time.perf_counter() - started,
    )


def exit_code(results: list[RecordingResult]) -> int:
    """1 if some recording is not explained, else 3 if some is not modelled, else 0."""
    outcomes = {r.outcome for r in results}
    if NOT_EXPLAINED in outcomes:
        return 1
    return 3 if NOT_MODELLED in outcomes else 0
