"""`python -m collector` is the `batchgate` command."""

import sys

from collector.cli import main

sys.exit(main())
