"""wnlint's build backend: setuptools, behind a check of the Python version.

pip installs the build requirements before it reads ``requires-python``
from a source tree, so on Python 3.8 an install failed on setuptools
(``setuptools>=77``, which the SPDX ``license = "MIT"`` string needs,
does not exist for 3.8; an older one rejects that license string) and never
said why. This module is imported first, on the installing Python itself:
there it says what is wrong and stops. Elsewhere it is setuptools' own
backend, unchanged.
"""

import sys

# The point of this module, so not outdated whatever requires-python says.
if sys.version_info < (3, 9):  # noqa: UP036
    version = ".".join(str(part) for part in sys.version_info[:3])
    sys.stderr.write(f"wnlint requires Python >= 3.9; this is Python {version}\n")
    raise SystemExit(1)

from setuptools.build_meta import *  # noqa: F403
