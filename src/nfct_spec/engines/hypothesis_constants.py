"""Keep Hypothesis' generation independent of which modules the process has imported.

Since 6.131, Hypothesis sometimes (one draw in twenty) replaces a drawn number by a constant
found in the source of the "local" modules loaded in the process: every module not in the
standard library or `site-packages` and not a test file. The pool is read again whenever
`sys.modules` grows. A rule-based machine draws at least one integer in [0, 254] per run
(the probability that switches its rules off, `FeatureFlags`), so an integer literal between
100 and 254 in any imported module changes the runs of a derandomized search. Measured: the
2.6.31 `ci` search witnessed `id-reuse` at run 1,207 as `nfct-spec check` runs it, and at run
1,102 after importing a scratch module holding `X = 150`; a search inside the test suite, in a
worker process forked from a pytest worker that had imported other modules, missed it in
1,229 runs. An editable install (the package's modules are local) and a regular one (they are
in `site-packages`) would sample differently too.

`module_independent_generation` empties the local pool for the duration of a search, so a
search depends only on its config, properties, profile and seed. It replaces a private
function of Hypothesis: the package pins Hypothesis below the next untested release, and
`require_local_constants_hook` fails loudly if a release moves it, rather than letting the
searches quietly depend on the importing process again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants


class HypothesisIncompatible(RuntimeError):
    """This Hypothesis release has no hook to turn the local-constants pool off."""


def require_local_constants_hook() -> tuple[Callable[[], Any], Any]:
    """The function that gives the local pool and the cache of pools per draw range, or
    `HypothesisIncompatible` naming the release."""
    getter = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if getter is None or cache is None or not hasattr(cache, "cache"):
        raise HypothesisIncompatible(
            f"Hypothesis {hypothesis.__version__} has no providers._get_local_constants "
            "and CONSTANTS_CACHE: derandomized searches could depend on the imported "
            "modules; install a Hypothesis release the package supports (see pyproject.toml)"
        )
    return getter, cache


@contextlib.contextmanager
def module_independent_generation() -> Iterator[None]:
    """Run the body with an empty local-constants pool (and an emptied cache of pools per
    draw range, which may hold pools computed before); restore both afterwards."""
    getter, cache = require_local_constants_hook()
    empty = Constants()
    cache.cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = getter
        cache.cache.clear()
