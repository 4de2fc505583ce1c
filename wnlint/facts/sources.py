"""Reading a source file, or stdin, with an answer for everything a command
line or a glob can name.

A FIFO opened for reading waits for a writer forever, and a character
device (``/dev/zero``) never ends: either named on the command line used to
hang wnlint or fill the machine's memory. Only regular files are read, and
no more than :data:`MAX_SOURCE_BYTES`, a size no source file reaches; the
rest is an ``OSError`` whose ``strerror`` says why (reported as WN002).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Hashable, Iterator
from typing import Any, BinaryIO, TypeVar

#: The suffix of the one kind of file that is not Python source: a
#: Jupyter notebook, whose code cells are checked.
NOTEBOOK_SUFFIX = ".ipynb"

#: 256 MiB: far above the largest generated Python modules.
MAX_SOURCE_BYTES = 256 * 1024 * 1024

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _too_large(size: int) -> OSError:
    limit = MAX_SOURCE_BYTES // (1024 * 1024)
    return OSError(errno.EFBIG, f"larger than {limit} MiB ({size} bytes or more)")


def read_source(path: str) -> bytes:
    """The bytes of the regular file ``path``; raises ``OSError`` for
    anything else (without blocking on a FIFO or reading a device)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, f"not a regular file ({_kind(mode)})")
    # O_NONBLOCK: if the path became a FIFO since the stat, opening it
    # must not wait for a writer; it changes nothing for a regular file.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > MAX_SOURCE_BYTES:
            raise _too_large(info.st_size)
        return _bounded(handle, info.st_size + 1)


def shown_path(path: str, start: str | None = None) -> str:
    """``path`` as the messages name it: relative to ``start`` (the working
    directory) where it lies under it, else as it is."""
    relative = os.path.relpath(path, start)
    return path if relative.startswith(os.pardir) else relative


def encoding_of(data: bytes) -> str:
    """The encoding Python reads ``data`` in: its coding line or byte-order
    mark, else UTF-8 (raises ``SyntaxError`` for a bad declaration)."""
    import io
    import tokenize  # only where source is decoded: most files never are

    return tokenize.detect_encoding(io.BytesIO(data).readline)[0]


def read_stream(stream: BinaryIO) -> bytes:
    """All of ``stream`` (stdin), up to the same bound."""
    return _bounded(stream, 64 * 1024)


def _bounded(stream: BinaryIO, first: int) -> bytes:
    """Read in chunks (the first of ``first`` bytes, a file's size): one
    read of the whole bound would allocate it, which an address-space
    limit refuses."""
    parts: list[bytes] = []
    total = 0
    size = first
    while True:
        chunk = stream.read(min(size, MAX_SOURCE_BYTES + 1 - total))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
        if total > MAX_SOURCE_BYTES:
            raise _too_large(total)
        size = max(size, 1024 * 1024)


# -- what a file's analysis read besides the file ----------------------------------

_RECORDING: list[set[str]] = []


@contextlib.contextmanager
def recording() -> Iterator[set[str]]:
    """Collect the paths (read, or looked for) that the analysis of one
    file depends on: sibling modules it followed, and the files a module
    name could have been. The cache (:mod:`wnlint.cli.cache`) keys a file's
    findings on their versions too."""
    paths: set[str] = set()
    _RECORDING.append(paths)
    try:
        yield paths
    finally:
        _RECORDING.pop()


def depend(path: str) -> None:
    """The file being analysed depends on ``path`` (existing or not)."""
    if _RECORDING:
        _RECORDING[-1].add(path)


# -- the file system as one run sees it ----------------------------------------------

#: path -> its ``os.stat`` (None: absent), while :func:`one_run` holds.
_STATS: dict[str, os.stat_result | None] | None = None
#: key -> (value, the paths its computation depended on), likewise.
_ONCE: dict[Hashable, tuple[Any, tuple[str, ...]]] | None = None

_T = TypeVar("_T")


@contextlib.contextmanager
def one_run() -> Iterator[None]:
    """Within a ``check`` run, each path is looked at once: the files of a
    package import the same siblings, and asking the file system again for
    each (tens of thousands of calls on a large code base) was a tenth of
    the run. Outside a run (an editor's flake8, the tests) every question
    asks the file system, so a long-lived process never reads a stale
    answer."""
    global _STATS, _ONCE
    outer = _STATS, _ONCE
    if _STATS is None:
        _STATS, _ONCE = {}, {}
    try:
        yield
    finally:
        _STATS, _ONCE = outer


def stat_once(path: str) -> os.stat_result | None:
    """``os.stat(path)``, None where it fails; once per run (:func:`one_run`)."""
    memo = _STATS
    if memo is not None and path in memo:
        return memo[path]
    try:
        found: os.stat_result | None = os.stat(path)
    except OSError:
        found = None
    if memo is not None:
        memo[path] = found
    return found


def once_per_run(key: Hashable, compute: Callable[[], _T]) -> _T:
    """``compute()``, once per run (:func:`one_run`) for ``key``; the paths
    it depended on (:func:`depend`) are recorded again on every use, so the
    cache keys each file on all it read."""
    memo = _ONCE
    if memo is None:
        return compute()
    hit = memo.get(key)
    if hit is None:
        with recording() as paths:
            value = compute()
        hit = memo[key] = (value, tuple(paths))
    if _RECORDING:
        _RECORDING[-1].update(hit[1])
    return hit[0]
