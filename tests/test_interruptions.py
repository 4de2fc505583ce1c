"""A fix that is interrupted, fails half-way, or races an editor loses
nothing: the file holds its old bytes or its new ones, or a complete copy of
the old ones lies beside it and the next run reports it (and restores or
removes it when asked). Failures are injected with resource limits, patched
functions in a child process that kills itself at a chosen point, and
signals sent to a real ``fix``."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, as_user, run_cli, unprivileged_user

from wnlint.fixing import safe_write

LEGACY = (FIXTURES / "fix" / "legacy_api_before.py").read_bytes()
FIXED = (FIXTURES / "fix" / "legacy_api_after.py").read_bytes()


def _python(*args: str, cwd, **kwargs) -> subprocess.CompletedProcess:
    """This checkout's Python with ``args``, output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        **kwargs,
    )


def _wnlint(*args: str, cwd, **kwargs) -> subprocess.CompletedProcess:
    return _python("-m", "wnlint", *args, cwd=cwd, **kwargs)


def _fix_dying(tmp_path, patch: str) -> subprocess.CompletedProcess:
    """``wnlint fix --unsafe-fixes m.py`` in a child whose ``patch`` (code
    run after ``import os, signal`` and ``from wnlint import safe_write``)
    makes it die by SIGKILL at a chosen point."""
    code = textwrap.dedent(
        """
        import os, signal, sys
        from wnlint.fixing import safe_write
        from wnlint.cli.main import main
        def die(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        {patch}
        sys.exit(main(["fix", "--unsafe-fixes", "m.py"]))
        """
    ).format(patch=patch)
    return _python("-c", code, cwd=tmp_path)


def _sidecars(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if ".wnlint-" in p.name)


# -- 1. a failed in-place write ---------------------------------------------------


def test_a_failed_in_place_write_keeps_the_files_bytes(tmp_path):
    """A second hard link forces the in-place path; a file size limit
    between the old size and the new one makes the write fail part-way."""
    path = tmp_path / "m.py"
    path.write_bytes(LEGACY)
    os.link(path, tmp_path / "other-name.py")
    assert len(FIXED) > len(LEGACY)
    limit = (len(LEGACY) + len(FIXED)) // 2

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = _wnlint("fix", "--unsafe-fixes", "m.py", cwd=tmp_path, preexec_fn=cap)
    assert result.returncode == 2
    assert "m.py: not fixed: cannot write: File too large" in result.stderr
    assert path.read_bytes() == LEGACY  # not half new, half old
    assert os.stat(path).st_nlink == 2
    assert _sidecars(tmp_path) == []  # the copy is gone once the bytes are back


def test_a_copy_that_could_not_be_used_is_named(tmp_path, monkeypatch):
    """When even putting the original bytes back fails, the note names the
    complete copy beside the file."""
    path = tmp_path / "m.py"
    path.write_bytes(LEGACY)
    os.link(path, tmp_path / "other.py")

    def failing(target, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safe_write, "_rewrite", failing)
    with pytest.raises(
        safe_write.WriteRefused, match=r"original bytes are in .*wnlint-orig"
    ):
        safe_write.write_fixed(str(path), LEGACY, FIXED)
    (copy,) = _sidecars(tmp_path)
    assert (tmp_path / copy).read_bytes() == LEGACY


# -- 2. kill -9 during an in-place write -------------------------------------------


def test_kill_during_an_in_place_write_leaves_a_complete_copy(tmp_path):
    path = tmp_path / "m.py"
    shorter = LEGACY + b"# " + b"x" * 4000 + b"\n"  # the fix makes it shorter
    path.write_bytes(shorter)
    os.link(path, tmp_path / "other.py")
    patch = textwrap.dedent(
        """
        def _rewrite(target, data):
            with open(target, "r+b") as handle:
                handle.write(data)
                handle.flush()
                die()  # between the write and the truncate
        safe_write._rewrite = _rewrite
        """
    )
    child = _fix_dying(tmp_path, patch)
    assert child.returncode == -signal.SIGKILL
    damaged = path.read_bytes()
    assert damaged not in (shorter,) and not damaged.endswith(b"parametrizations\n")
    (copy,) = _sidecars(tmp_path)
    assert copy.startswith(".m.py.") and copy.endswith(".wnlint-orig")
    assert (tmp_path / copy).read_bytes() == shorter

    check = _wnlint("check", "m.py", cwd=tmp_path)  # names as given
    assert f"wnlint: warning: {copy}: the original bytes of m.py" in check.stderr
    restored = _wnlint("fix", "--diff", "--leftovers", "restore", "m.py", cwd=tmp_path)
    assert f"wnlint: {path}: restored from {tmp_path / copy}" in restored.stderr
    assert path.read_bytes() == shorter
    assert os.stat(path).st_nlink == 2  # the same inode, its links kept
    assert _sidecars(tmp_path) == []


# -- 3. kill -9 while the temporary file is written --------------------------------


def test_kill_while_the_temporary_file_is_written_is_reported_and_removable(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(LEGACY)
    child = _fix_dying(tmp_path, "safe_write._copy_xattrs = die")
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == LEGACY  # never replaced
    (temp,) = _sidecars(tmp_path)
    assert temp.startswith(".m.py.") and temp.endswith(".wnlint-tmp")

    again = _wnlint("fix", "--diff", "m.py", cwd=tmp_path)
    assert (
        f"wnlint: warning: {tmp_path / temp}: a temporary file of an interrupted"
        in (again.stderr)
    )
    removed = _wnlint("fix", "--diff", "--leftovers", "remove", "m.py", cwd=tmp_path)
    assert f"wnlint: {tmp_path / temp}: removed" in removed.stderr
    assert _sidecars(tmp_path) == [] and path.read_bytes() == LEGACY
    quiet = _wnlint("check", "m.py", cwd=tmp_path)
    assert "warning" not in quiet.stderr


# -- 4. stopping a parallel fix ----------------------------------------------------


def _many(tmp_path, count: int):
    folder = tmp_path / "pkg"
    folder.mkdir()
    for i in range(count):
        (folder / f"m{i:04d}.py").write_bytes(LEGACY)
    return folder


def _fixed_count(folder) -> int:
    """Fixed files (not the temporary files a worker may be writing)."""
    return sum(b"parametrizations" in p.read_bytes() for p in folder.glob("m*.py"))


def _start(folder) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wnlint",
            "fix",
            "--unsafe-fixes",
            "--jobs",
            "2",
            str(folder),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_for_workers(folder, proc) -> None:
    """Until the run has started its worker processes (it writes nothing
    before every file is fixed)."""
    deadline = time.monotonic() + 60
    while len(_workers_of(folder)) < 2:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _workers_of(folder) -> list[int]:
    """Processes still running a fix over ``folder``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if str(folder).encode() in cmdline and b"wnlint" in cmdline:
            found.append(int(pid))
    return found


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="fork pools and /proc")


@linux_only
@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)]
)
def test_a_stopped_parallel_fix_stops_its_workers(tmp_path, sig, status):
    """Stopped while its workers fix: no worker is left, and no file was
    written (the run writes only once every file is fixed)."""
    folder = _many(tmp_path, 640)
    proc = _start(folder)
    _wait_for_workers(folder, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert "Traceback" not in err, err
    assert _workers_of(folder) == []
    time.sleep(1.0)
    assert _fixed_count(folder) == 0  # nothing written, before or after the exit


@linux_only
def test_workers_stop_when_the_run_is_killed(tmp_path):
    folder = _many(tmp_path, 640)  # chunks of 10 files per worker task
    proc = _start(folder)
    _wait_for_workers(folder, proc)
    proc.kill()
    proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while _workers_of(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _workers_of(folder) == []
    assert _fixed_count(folder) == 0  # workers write nothing


# -- 5. an editor's save between the check and the rename --------------------------


def test_an_edit_saved_just_before_the_rename_is_kept(tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(LEGACY)
    saved = LEGACY + b"# saved by an editor at the last moment\n"
    patch = textwrap.dedent(
        f"""
        real = safe_write._copy_xattrs
        def racing(source, dest):
            with open(source, "wb") as handle:
                handle.write({saved!r})
            return real(source, dest)
        safe_write._copy_xattrs = racing
        """
    )
    child = _fix_dying(tmp_path, patch)
    assert child.returncode == 2
    assert "changed on disk while it was fixed; left alone" in child.stderr
    assert path.read_bytes() == saved
    assert _sidecars(tmp_path) == []


def test_a_copy_kept_elsewhere_is_found_by_the_next_run(tmp_path, monkeypatch):
    """In a directory this user cannot write, the copy of the original goes
    to a private directory of the temporary directory, with a note of its
    file; killed mid-write, the next run still reports it and restores it.
    (As ``nobody`` when root; the kill is a forked child's ``_exit``.)"""
    user = unprivileged_user()
    # As nobody, no new module can be imported from root's Python: load now
    # what the runs below use.
    import hashlib  # noqa: F401
    import multiprocessing  # noqa: F401

    base = tmp_path if user is None else Path("/tmp") / f"wnlint-ro-{os.getpid()}"
    folder = base / "project"
    folder.mkdir(parents=True)
    path = folder / "m.py"
    path.write_bytes(LEGACY)
    os.link(path, folder / "other.py")  # the in-place path
    if user is not None:
        base.chmod(0o755)
        os.chown(path, user.pw_uid, user.pw_gid)
    folder.chmod(0o555)  # nobody (or this user) may not create files here
    temp = base / "temp"  # the temporary directory, writable by everyone
    temp.mkdir(mode=0o777)
    temp.chmod(0o777)
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv("TMPDIR", str(temp))
    try:
        pid = os.fork()
        if pid == 0:  # the run that is killed between write and truncate
            try:
                if user is not None:
                    os.setegid(user.pw_gid)
                    os.seteuid(user.pw_uid)

                def dying(target, data):
                    with open(target, "r+b") as handle:
                        handle.write(b"# half written\n" + data[:100])
                        handle.flush()
                    os._exit(9)

                safe_write._rewrite = dying
                safe_write.write_fixed(str(path), LEGACY, FIXED)
            except BaseException as exc:
                (temp / "child-error").write_text(repr(exc))
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        error = temp / "child-error"
        assert os.waitstatus_to_exitcode(status) == 9, (
            error.read_text() if error.exists() else status
        )
        assert path.read_bytes() != LEGACY  # damaged: new bytes over old ones
        assert _sidecars(folder) == []  # nothing could be written beside it
        with as_user(user) if user is not None else contextlib.nullcontext():
            report = run_cli("check", str(path), cwd=folder)
            assert (
                "the original bytes of" in report.stderr and str(path) in report.stderr
            )
            restored = run_cli(
                "fix", "--diff", "--leftovers", "restore", str(path), cwd=folder
            )
        assert f"{path}: restored from" in restored.stderr
        assert path.read_bytes() == LEGACY
        assert os.stat(path).st_nlink == 2
        kept = list(temp.glob("wnlint-leftovers-*"))  # the copy was kept there
        assert kept and all(not any(folder.iterdir()) for folder in kept)
    finally:
        folder.chmod(0o755)
        if user is not None:
            shutil.rmtree(base)
