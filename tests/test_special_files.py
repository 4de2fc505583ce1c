"""Special files and tight limits get a clear answer, never a hang or a
traceback: a FIFO or a device named on the command line is a WN002 while the
other files are still checked, a file past the size bound is a WN002, and
``fix`` works under an address-space limit where ``check`` does. Each runs
in a subprocess under a time limit, so a regression fails instead of
hanging."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT

from wnlint.facts import sources

LEGACY = FIXTURES / "fix" / "legacy_api_before.py"


def _wnlint(*args: str, limit: str = "", stdin: bytes | None = None):
    """``wnlint ARGS`` in a subprocess, under ``ulimit LIMIT`` if given."""
    command = [sys.executable, "-m", "wnlint", *args]
    if limit:
        quoted = " ".join(f"'{part}'" for part in command)
        command = ["bash", "-c", f"ulimit {limit} && exec {quoted}"]
    return subprocess.run(
        command,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("command", ["check", "fix"])
def test_a_fifo_beside_a_real_file(command, tmp_path):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    real = tmp_path / "real.py"
    shutil.copy(LEGACY, real)
    args = [command, str(fifo), str(real)]
    if command == "fix":
        args = [command, "--unsafe-fixes", "--diff", str(fifo), str(real)]
    proc = _wnlint(*args)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "Traceback" not in err
    if command == "check":
        assert f"{fifo}:1:1: WN002 cannot read: not a regular file (a FIFO)" in out
        assert f"{real}:" in out and "WN301" in out  # the real file is checked
    else:
        assert f"{fifo}: not fixed: cannot read: not a regular file (a FIFO)" in err
        assert "+++ b/" in out  # the real file's fix
    # a file that cannot be read is a finding to check, a failure to fix
    assert proc.returncode == (1 if command == "check" else 2)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_character_device_under_a_memory_limit():
    proc = _wnlint("check", "/dev/zero", str(LEGACY), limit="-v 1000000")
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "Traceback" not in err and "MemoryError" not in err
    assert (
        "/dev/zero:1:1: WN002 cannot read: not a regular file (a character device)"
        in out
    )
    assert "WN301" in out
    assert proc.returncode == 1


def test_a_file_past_the_size_bound_is_wn002(tmp_path, monkeypatch):
    big = tmp_path / "big.py"
    with open(big, "wb") as handle:  # sparse: nothing is written
        handle.truncate(sources.MAX_SOURCE_BYTES + 1)
    proc = _wnlint("check", str(big))
    assert f"{big}:1:1: WN002 cannot read: larger than 256 MiB" in proc.stdout.decode()
    assert proc.returncode == 1


def test_stdin_is_bounded_too(monkeypatch):
    monkeypatch.setattr(sources, "MAX_SOURCE_BYTES", 10)
    assert sources.read_stream(io.BytesIO(b"x = 1\n")) == b"x = 1\n"
    with pytest.raises(OSError, match="larger than"):
        sources.read_stream(io.BytesIO(b"x = 1\ny = 2\n"))


def test_stdin_past_the_bound_is_an_error_not_a_traceback():
    """``check - < /dev/zero`` reads no more than the bound, then says so."""
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(
            [sys.executable, "-m", "wnlint", "check", "-"],
            cwd=ROOT,
            stdin=zero,
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 2
    assert b"wnlint: error: cannot read stdin: larger than 256 MiB" in proc.stderr


def test_read_source_names_what_it_refuses(tmp_path):
    with pytest.raises(OSError, match=r"not a regular file \(a directory\)"):
        sources.read_source(str(tmp_path))
    path = tmp_path / "m.py"
    path.write_bytes(b"x = 1\n")
    assert sources.read_source(str(path)) == b"x = 1\n"
    assert stat.S_ISREG(os.stat(path).st_mode)


@pytest.mark.skipif(sys.platform != "linux", reason="ulimit -v as on Linux")
def test_fix_works_under_an_address_space_limit_where_check_does(tmp_path):
    """A 512 MiB thread stack cannot be had under ``ulimit -v 400000``: the
    deep-stack runner asks for less instead of failing every file."""
    target = tmp_path / "legacy.py"
    shutil.copy(LEGACY, target)
    check = _wnlint("check", str(target), limit="-v 400000")
    assert check.returncode == 1, check.stderr.decode()
    fixed = _wnlint("fix", "--unsafe-fixes", "--diff", str(target), limit="-v 400000")
    err = fixed.stderr.decode()
    assert "internal error" not in err and "can't start new thread" not in err, err
    assert "would fix 7 findings in 1 files, 0 remaining" in err
    assert "parametrizations.weight_norm" in fixed.stdout.decode()
