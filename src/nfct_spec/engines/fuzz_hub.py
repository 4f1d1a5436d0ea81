"""`python -m nfct_spec.engines.fuzz_hub ARGS`: HypoFuzz's `hypothesis fuzz ARGS`.

The same command line as the `hypothesis` console script, run with the interpreter of
nfct-spec so that a campaign never picks up another installation's `hypothesis`. Workers are
started with the `spawn` method, which HypoFuzz supports: forked workers would inherit the
hub's process id for HypoFuzz's reports (so that two workers count as one) and everything the
hub imported.
"""

from __future__ import annotations

import multiprocessing

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    from hypofuzz.entrypoint import fuzz

    fuzz(prog_name="hypothesis fuzz")
