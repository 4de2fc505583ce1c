"""``python -m wnlint`` is the ``wnlint`` command."""

import sys

from wnlint.cli.main import main

sys.exit(main())
