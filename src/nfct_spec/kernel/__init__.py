"""The live-kernel oracle: scenarios in throw-away network namespaces, observed traces, monitors.

``scenarios`` runs things on the kernel (root needed); ``observe`` and ``monitors`` only read
traces and work anywhere.  ``scenarios`` is not imported here, so importing the package never
touches the kernel and ``python -m nfct_spec.kernel.scenarios`` runs without import warnings.
"""

from nfct_spec.kernel.monitors import MONITORS, MonitorResult, Verdict, check, verdicts
from nfct_spec.kernel.observe import ObservedTrace, TraceFormatError, format_summary, load, save

__all__ = [
    "MONITORS",
    "MonitorResult",
    "ObservedTrace",
    "TraceFormatError",
    "Verdict",
    "check",
    "format_summary",
    "load",
    "save",
    "verdicts",
]
