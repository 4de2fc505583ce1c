"""Running a call where deep recursion fits.

Python accepts code nested far deeper than its default recursion limit
lets a recursive walk (``ast.unparse``, libcst, the analysis) follow: a
thousand nested conditional expressions compile. Such calls run again in a
thread with a large stack and a high recursion limit. Every front end goes
through here, so ``check``, stdin, flake8 and ``fix`` accept the same files.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, TypeVar

_T = TypeVar("_T")

#: Frames a deep call may use, and the stacks to ask for, largest first: a
#: sandbox that limits address space may refuse the largest.
RECURSION_LIMIT = 20_000
STACK_SIZES = (512 * 1024 * 1024, 128 * 1024 * 1024, 32 * 1024 * 1024)

_state = threading.local()


def active() -> bool:
    """True inside :func:`run`: a RecursionError here is final."""
    return getattr(_state, "deep", False)


def run(func: Callable[..., _T], *args: object) -> _T:
    """``func(*args)`` in a thread whose stack and recursion limit fit deep
    recursion; its exception, if any, is raised here. The recursion limit
    is scaled to the stack the thread could get."""
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        _state.deep = True
        try:
            outcome.append((True, func(*args)))
        except BaseException as exc:
            outcome.append((False, exc))

    limit = sys.getrecursionlimit()
    size = threading.stack_size()
    try:
        for stack in STACK_SIZES:
            try:
                threading.stack_size(stack)
                frames = RECURSION_LIMIT * stack // STACK_SIZES[0]
                sys.setrecursionlimit(max(limit, frames))
                worker = threading.Thread(target=target, daemon=True)
                worker.start()
            except (RuntimeError, MemoryError, ValueError):
                continue  # that stack cannot be had here: ask for less
            worker.join()
            break
        else:
            sys.setrecursionlimit(limit)
            threading.stack_size(size)
            _state.deep = True
            try:
                return func(*args)  # no thread at all: the default stack
            finally:
                _state.deep = False
    finally:
        sys.setrecursionlimit(limit)
        threading.stack_size(size)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
