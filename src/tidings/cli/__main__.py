"""`python -m tidings.cli`: the `tidings` command."""

import sys

from tidings.cli import main

sys.exit(main())
