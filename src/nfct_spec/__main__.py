"""`python -m nfct_spec`: the same command line as the `nfct-spec` script."""

import sys

from nfct_spec.cli import main

sys.exit(main())
