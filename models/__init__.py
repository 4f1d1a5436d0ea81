"""Pure executable models of Linux conntrack event delivery.

Nothing here imports z3, hypothesis or networkx: the engines build on these modules, never the
other way round. Start with `registry` (every action) and `state` (what an action reads and
writes).
"""
