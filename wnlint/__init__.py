"""wnlint: find and fix weight-normalization bugs in PyTorch code.

The linter reads source only; it never imports torch or runs user code.
"""

__version__ = "0.1.0"
