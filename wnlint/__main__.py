"""``python -m wnlint`` is the ``wnlint`` command."""

import sys

from wnlint.cli.main import run

sys.exit(run())
