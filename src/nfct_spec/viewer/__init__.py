"""Reading counterexamples: terminal and HTML views of a trace, plain ITF export and import,
minimization, and export as a pytest regression test.

Everything here reads traces through `nfct_spec.traces` and the model registry; nothing
changes the model. The views share one readable form of a state (`lanes.state_view`) and one
structural diff, so the terminal and the page always agree on what changed at a step.
"""
