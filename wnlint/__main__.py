"""``python -m wnlint`` is the ``wnlint`` command."""

import sys

from wnlint.cli import main

sys.exit(main())
