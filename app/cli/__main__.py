"""``python -m app.cli``: the ``jobgate`` command."""

import sys

from . import main

sys.exit(main())
