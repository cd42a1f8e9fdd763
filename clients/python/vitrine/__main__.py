"""`python -m vitrine` runs the `vitrine` command."""

import sys

from vitrine.cli import main

sys.exit(main())
