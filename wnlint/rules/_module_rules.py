"""What the WN1xx rules' messages share."""

from __future__ import annotations

import ast


def source(node: ast.AST) -> str:
    """Short source text of ``node`` for a message."""
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."
