"""nfct-spec: an executable, checked specification of Linux's reliable conntrack event delivery.

The package is layered: `nfct_spec.models` (pure executable models) <- `nfct_spec.spec` (the
property catalogue) <- the engines and tools in this package.
"""

__version__ = "0.1.0"
"""The one place the version is written: pyproject.toml reads it (`tool.setuptools.dynamic`)."""
