"""Writing a fixed file so that nothing is ever lost.

Whatever stops a write (a full disk, a file size limit, ``kill -9``, a
signal, an editor saving at the same moment), the file holds either its old
bytes or its new ones, or a complete copy of the old ones lies beside it
that the next run reports:

* Replacing (the usual path): the new bytes go to a temporary file beside
  the target, which gets the target's mode, owner and extended attributes,
  and is renamed over it in one step. Killed before the rename, the target
  is untouched and the temporary file is a leftover (new bytes).
* Rewriting in place (other hard links, an owner this process cannot give a
  new file, a directory it cannot write): a copy of the original bytes is
  written beside the file first (in the system's temporary directory when
  the file's own cannot be written), then the file's own inode. A failed
  write puts the original bytes back; only a copy that could not be used
  is left, and said.
* The file is compared with the bytes the fix started from again just
  before the rename (or the rewrite): an edit saved meanwhile is a note,
  never overwritten.

Leftovers are named ``.<file>.<random>.wnlint-tmp`` (new bytes; the file
was not replaced) and ``.<file>.<random>.wnlint-orig`` (the original bytes
of a file being rewritten in place). :func:`leftovers` finds them beside the
files of a run; :func:`settle` restores or removes them.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from typing import NamedTuple

TEMP = ".wnlint-tmp"
ORIGINAL = ".wnlint-orig"
_LEFTOVER = re.compile(
    r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}(?P<kind>\.wnlint-(?:tmp|orig))$"
)


class WriteRefused(Exception):
    """The fixed file was not written; the message says why."""


def write_fixed(path: str, original: bytes, data: bytes) -> list[str]:
    """Replace the bytes of the file at ``path`` (``original``, as read) with
    ``data``, or raise :class:`WriteRefused` and leave it as it is. Returns
    notes on what of the file could not be kept (extended attributes the
    replacement could not be given).

    A symlink is written through to its target. A file the user may not
    write (its mode, or its owner's) is refused, whatever the directory
    allows. A file that changed since it was read is left alone.
    """
    target = os.path.realpath(path)
    try:
        info = os.stat(target)
    except OSError as exc:
        raise WriteRefused(f"cannot write: {exc.strerror or exc}") from None
    if not _may(target, os.W_OK) or not info.st_mode & 0o222:
        raise WriteRefused("cannot write: the file is read-only for this user")
    _unchanged(target, original)
    try:
        if _can_replace(target, info):
            lost = _replace(target, info, data, original)
        else:
            _overwrite(target, data, original)
            lost = []
    except OSError as exc:
        raise WriteRefused(f"cannot write: {exc.strerror or exc}") from None
    if not lost:
        return []
    return [f"written without its extended attributes {', '.join(lost)}"]


def _unchanged(target: str, original: bytes) -> None:
    """Raise :class:`WriteRefused` unless ``target`` still holds ``original``."""
    try:
        with open(target, "rb") as handle:
            current = handle.read()
    except OSError as exc:
        raise WriteRefused(f"cannot write: {exc.strerror or exc}") from None
    if current != original:
        raise WriteRefused("the file changed on disk while it was fixed; left alone")


def _can_replace(target: str, info: os.stat_result) -> bool:
    """A new file can stand in for ``target`` without anyone noticing: one
    link, an owner and group this process can give it, a writable
    directory."""
    if info.st_nlink != 1 or not stat.S_ISREG(info.st_mode):
        return False
    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    ours = uid == 0 or (
        info.st_uid == uid and info.st_gid in (os.getegid(), *os.getgroups())
    )
    return ours and _may(os.path.dirname(target) or ".", os.W_OK | os.X_OK)


def _may(path: str, mode: int) -> bool:
    """``os.access`` for the ids this process acts with (they differ from
    its real ids under ``sudo -E``-like setups and setuid wrappers)."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, mode, effective_ids=effective)


def _sidecar(target: str, kind: str, directory: str | None = None) -> tuple[int, str]:
    """A new file named for ``target``, beside it (or in ``directory``)."""
    import tempfile

    folder = directory or os.path.dirname(target) or "."
    name = os.path.basename(target)
    return tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=kind)


def _replace(
    target: str, info: os.stat_result, data: bytes, original: bytes
) -> list[str]:
    fd, tmp = _sidecar(target, TEMP)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(info.st_mode))
        if hasattr(os, "chown") and (info.st_uid, info.st_gid) != _owner(tmp):
            os.chown(tmp, info.st_uid, info.st_gid)
        # After chown, which may clear some: user.* attributes, an ACL
        # (system.posix_acl_access), an SELinux label, as editors keep them.
        lost = _copy_xattrs(target, tmp)
        _unchanged(target, original)  # as late as it can be: an editor's save
        os.replace(tmp, target)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return lost


def _copy_xattrs(source: str, dest: str) -> list[str]:
    """Give ``dest`` every extended attribute of ``source``; the names of
    those it could not be given (none where the system has no xattrs)."""
    if not hasattr(os, "listxattr"):
        return []
    try:
        names = os.listxattr(source)
    except OSError:
        return []  # the file system has none
    lost = []
    for name in names:
        try:
            value = os.getxattr(source, name)
            if name not in os.listxattr(dest) or os.getxattr(dest, name) != value:
                os.setxattr(dest, name, value)
        except OSError:
            lost.append(name)
    return lost


def _owner(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_uid, info.st_gid


def _overwrite(target: str, data: bytes, original: bytes) -> None:
    """Rewrite ``target``'s own bytes (its inode, links and owner stay),
    with a complete copy of ``original`` beside it until the new bytes are
    all on disk; a failure puts the original bytes back."""
    backup = _backup(target, original)
    _unchanged(target, original)
    try:
        _rewrite(target, data)
    except BaseException as exc:
        try:
            _rewrite(target, original)
        except BaseException:
            if isinstance(exc, OSError):
                raise OSError(
                    exc.errno,
                    f"{exc.strerror}; the file may be damaged: its original "
                    f"bytes are in {backup}",
                ) from None
            raise
        _discard(backup)
        raise
    _discard(backup)


def _backup(target: str, original: bytes) -> str:
    """A complete, synced copy of ``original`` beside ``target``, or, when
    ``target``'s directory cannot be written, in :func:`elsewhere` with a
    note of the file it belongs to (so the next run finds it too)."""
    try:
        fd, path = _sidecar(target, ORIGINAL)
        pointer = None
    except OSError:
        fd, path = _sidecar(target, ORIGINAL, elsewhere(create=True))
        pointer = path + POINTER
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(original)
            handle.flush()
            os.fsync(handle.fileno())
        if pointer is not None:
            with open(pointer, "w", encoding="utf-8", errors="surrogateescape") as note:
                note.write(os.path.abspath(target))
    except BaseException:
        _discard(path)
        raise
    return path


#: Beside a copy kept in :func:`elsewhere`: the path of the file it is of.
POINTER = ".target"


def elsewhere(create: bool = False) -> str:
    """Where copies go whose file's directory cannot be written: a private
    directory of this user's in the system's temporary directory."""
    import tempfile

    folder = os.path.join(tempfile.gettempdir(), _ELSEWHERE)
    if create:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder


_ELSEWHERE = f"wnlint-leftovers-{os.geteuid() if hasattr(os, 'geteuid') else 0}"


def _elsewhere_folders() -> list[str]:
    """Each place :func:`elsewhere` can be: in every directory the system's
    temporary directory may be (``tempfile``'s candidates), so that
    ``check`` looks without importing ``tempfile`` (or creating anything)."""
    places = [os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")]
    places += ["/tmp", "/var/tmp", "/usr/tmp"]
    found = []
    for place in places:
        if place:
            folder = os.path.join(os.path.realpath(place), _ELSEWHERE)
            if folder not in found:
                found.append(folder)
    return found


def _discard(path: str) -> None:
    """Remove a copy (and its note, for one kept elsewhere)."""
    for name in (path, path + POINTER):
        if os.path.lexists(name):
            os.unlink(name)


def _rewrite(target: str, data: bytes) -> None:
    with open(target, "r+b") as handle:
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


# -- leftovers of interrupted runs --------------------------------------------------


class Leftover(NamedTuple):
    """A file an interrupted ``fix`` left beside ``target``."""

    path: str
    target: str
    #: :data:`TEMP` (new bytes, the target was not replaced) or
    #: :data:`ORIGINAL` (the target's bytes before an in-place rewrite).
    kind: str

    def describe(self) -> str:
        if self.kind == TEMP:
            return (
                f"{self.path}: a temporary file of an interrupted `wnlint fix` "
                f"({self.target} was not replaced and is intact); "
                "`wnlint fix --leftovers remove` deletes it"
            )
        return (
            f"{self.path}: the original bytes of {self.target}, kept by a "
            "`wnlint fix` interrupted while rewriting it in place; "
            "`wnlint fix --leftovers restore` puts them back, "
            "`--leftovers remove` deletes them"
        )


def leftovers(files: Iterable[str], follow_links: bool = True) -> list[Leftover]:
    """Leftovers beside ``files`` (one listing per directory), sorted.
    A fix writes beside the file a symlink points to; ``follow_links=False``
    (``check``) looks beside the files as named only, which is cheaper."""
    files = list(files)
    folders = {os.path.dirname(f) or "." for f in files}
    if follow_links:
        folders = {os.path.realpath(folder) for folder in folders}
        folders |= {
            os.path.dirname(os.path.realpath(f)) for f in files if os.path.islink(f)
        }
    paths = []
    for folder in sorted(folders):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        paths += [_beside(folder, name) for name in names if ".wnlint-" in name]
    return sorted(
        leftovers_among(paths) + kept_elsewhere(files), key=lambda item: item.path
    )


def kept_elsewhere(files: list[str]) -> list[Leftover]:
    """Copies in :func:`elsewhere` of the files of this run (or of files in
    their directories)."""
    here: set[str] | None = None
    found = []
    for folder in _elsewhere_folders():
        try:
            names = [n for n in os.listdir(folder) if n.endswith(ORIGINAL + POINTER)]
        except OSError:
            continue  # the usual case: nothing was ever kept there
        if names and here is None:
            here = {os.path.dirname(os.path.realpath(f)) for f in files}
        found += _kept_in(folder, names, here or set())
    return found


def _kept_in(folder: str, names: list[str], here: set[str]) -> list[Leftover]:
    """The copies whose notes ``names`` are, of files in ``here``."""
    found = []
    for name in names:
        copy = os.path.join(folder, name[: -len(POINTER)])
        try:
            with open(
                copy + POINTER, encoding="utf-8", errors="surrogateescape"
            ) as note:
                target = note.read()
        except OSError:
            continue
        if os.path.exists(copy) and os.path.dirname(target) in here:
            found.append(Leftover(copy, target, ORIGINAL))
    return found


def leftovers_among(paths: Iterable[str]) -> list[Leftover]:
    """The leftovers among ``paths`` (what a walk saw), sorted."""
    found = []
    for path in paths:
        folder, name = os.path.split(path)
        match = _LEFTOVER.match(name)
        if match is not None:
            target = _beside(folder or ".", match["name"])
            found.append(Leftover(path, target, match["kind"]))
    return sorted(found, key=lambda item: item.path)


def _beside(folder: str, name: str) -> str:
    return name if folder == "." else os.path.join(folder, name)


def settle(item: Leftover, action: str) -> str:
    """``restore`` (an original's bytes back into its file, in place) or
    ``remove`` a leftover; returns what was done, for the user."""
    if action == "restore" and item.kind == ORIGINAL:
        with open(item.path, "rb") as handle:
            original = handle.read()
        if os.path.exists(item.target):
            _rewrite(item.target, original)
        else:
            with open(item.target, "wb") as handle:
                handle.write(original)
        _discard(item.path)
        return f"{item.target}: restored from {item.path}"
    _discard(item.path)
    return f"{item.path}: removed"
