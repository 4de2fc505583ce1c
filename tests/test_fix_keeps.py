"""``fix`` keeps what it does not mean to change: a diff carries the file's
own bytes in any ASCII-compatible encoding (``git apply`` gives exactly what
``fix`` writes), and a fixed file keeps its extended attributes and POSIX
ACL entries."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys

import pytest
from conftest import ROOT

from wnlint.fixing import safe_write

SOURCE = (
    '"""Mod\u00e8le \u65e5\u672c: caf\u00e9."""\n'
    "import torch.nn as nn\n"
    "from torch.nn.utils import weight_norm\n"
    "\n"
    "conv = weight_norm(nn.Conv1d(1, 1, 1))  # \u00e9t\u00e9 \u65e5\u672c\n"
)

ENCODINGS = {
    "latin-1": SOURCE.replace(" \u65e5\u672c", ""),  # Latin-1 has no kanji
    "cp1252": SOURCE.replace(" \u65e5\u672c", ""),
    "shift_jis": SOURCE.replace("\u00e8", "e").replace("\u00e9", "e"),
}


def _wnlint(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wnlint", *args],
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _git(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, timeout=60, check=False
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_a_diff_in_the_files_encoding_applies_to_what_fix_writes(encoding, tmp_path):
    text = f"# -*- coding: {encoding} -*-\n" + ENCODINGS[encoding]
    data = text.encode(encoding)
    assert data != text.encode("utf-8")  # the point: not UTF-8 bytes
    (tmp_path / "m.py").write_bytes(data)
    assert _git("init", "-q", cwd=tmp_path).returncode == 0
    diff = _wnlint("fix", "--unsafe-fixes", "--diff", "m.py", cwd=tmp_path)
    assert diff.returncode == 1, diff.stderr  # --diff: 1 when there is one
    assert b"+from torch.nn.utils import parametrizations" in diff.stdout
    assert b"\xef\xbf\xbd" not in diff.stdout  # no U+FFFD
    (tmp_path / "fix.diff").write_bytes(diff.stdout)
    applied = _git("apply", "fix.diff", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    by_patch = (tmp_path / "m.py").read_bytes()
    (tmp_path / "m.py").write_bytes(data)
    written = _wnlint("fix", "--unsafe-fixes", "m.py", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "m.py").read_bytes() == by_patch
    assert by_patch.decode(encoding).count("parametrizations") == 2


def _acl(uid: int) -> bytes:
    """A POSIX access ACL (the kernel's xattr form) granting user ``uid``
    read and write: owner rw, that user rw, group r, mask rw, other r."""
    entries = [(0x01, 6, 0xFFFFFFFF), (0x02, 6, uid), (0x04, 4, 0xFFFFFFFF)]
    entries += [(0x10, 6, 0xFFFFFFFF), (0x20, 4, 0xFFFFFFFF)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


def _give_attributes(path) -> None:
    if not hasattr(os, "setxattr"):
        pytest.skip("no extended attributes on this system")
    try:
        os.setxattr(path, "user.wnlint-test", b"kept")
    except OSError as exc:
        pytest.skip(f"the test directory's file system has no user xattrs: {exc}")
    try:
        os.setxattr(path, "system.posix_acl_access", _acl(4321))
    except OSError as exc:
        pytest.skip(f"the test directory's file system has no POSIX ACLs: {exc}")


def test_fix_keeps_extended_attributes_and_acl_entries(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    _give_attributes(path)
    acl = os.getxattr(path, "system.posix_acl_access")
    inode = os.stat(path).st_ino
    result = _wnlint("fix", "--unsafe-fixes", "m.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "parametrizations" in path.read_text()
    assert os.stat(path).st_ino != inode  # replaced, not rewritten in place
    assert os.getxattr(path, "user.wnlint-test") == b"kept"
    assert os.getxattr(path, "system.posix_acl_access") == acl
    assert b"written without" not in result.stderr


def test_an_attribute_that_cannot_be_copied_is_said(tmp_path, monkeypatch):
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    _give_attributes(path)
    real = os.setxattr

    def refuse_user(target, name, value, *args, **kwargs):
        if name.startswith("user."):
            raise OSError(95, "Operation not supported")
        return real(target, name, value, *args, **kwargs)

    monkeypatch.setattr(os, "setxattr", refuse_user)
    original = path.read_bytes()
    notes = safe_write.write_fixed(str(path), original, original + b"# fixed\n")
    assert notes == ["written without its extended attributes user.wnlint-test"]
    assert path.read_bytes().endswith(b"# fixed\n")
