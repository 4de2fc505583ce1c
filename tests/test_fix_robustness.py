"""``fix`` under hostile input and odd file systems: a failure costs one
file (a note, the file byte-identical, the others still fixed, the summary
printed), internal errors exit 2, and writes never damage what they touch:
symlinks, hard links, owners, read-only files, line endings."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, as_user, run_cli, unprivileged_user

import wnlint.fixing.fixer as fixmod
import wnlint.fixing.runner as fix_runner
from wnlint.engine.linter import Linter, select_rules

LEGACY = (
    "import torch.nn as nn\n"
    "from torch.nn.utils import weight_norm\n"
    "\n"
    "\n"
    "def build():\n"
    "    return weight_norm(nn.Conv1d(1, 1, 3))\n"
)
MIGRATED = "parametrizations.weight_norm(nn.Conv1d(1, 1, 3))"


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def _fix(*paths: Path, diff: bool = False) -> subprocess.CompletedProcess:
    args = ["fix", "--unsafe-fixes", *(["--diff"] if diff else []), *map(str, paths)]
    return run_cli(*args)


# -- per-file failures are notes ---------------------------------------------


def test_a_file_that_does_not_parse_whole_is_declined_and_the_run_goes_on(
    tmp_path,
):
    # The file does not parse whole (a Python 2 part outside the
    # weight-norm code): it is one WN001, as flake8 sees it, and nothing in
    # it is rewritten; the other file is still fixed.
    broken = _write(tmp_path / "a_py2.py", LEGACY + '\n\ndef old():\n    print "x"\n')
    good = _write(tmp_path / "b_good.py", LEGACY)
    before = broken.read_bytes()
    result = _fix(tmp_path)
    assert "Traceback" not in result.stderr
    assert broken.read_bytes() == before
    assert MIGRATED in good.read_text()
    assert f"{broken}:10:" in result.stdout and "WN001 cannot parse" in result.stdout
    assert "WN301" not in result.stdout
    assert "wnlint: fixed 1 findings in 1 files, 1 remaining" in result.stderr
    assert result.returncode == 1  # a finding remains; nothing failed


def test_syntax_of_a_newer_python_is_declined_on_an_older_one(tmp_path):
    path = _write(
        tmp_path / "m.py", LEGACY + "\n\ndef ident[T](x: T) -> T:\n    return x\n"
    )
    result = _fix(path)
    assert "Traceback" not in result.stderr
    if sys.version_info >= (3, 12):
        assert MIGRATED in path.read_text()
        assert result.returncode == 0
    else:  # one WN001 where this Python's parser stops, nothing rewritten
        assert "WN001 cannot parse" in result.stdout and "WN301" not in result.stdout
        assert path.read_text().endswith("return x\n")
        assert result.returncode == 1


DEEP = {
    "a 400-term sum": "x = " + " + ".join(["a"] * 400) + "\n",
    "190 nested calls": "x = " + "f(" * 190 + "1" + ")" * 190 + "\n",
    "a 1,000-long attribute chain": "x = a" + ".b" * 1000 + "\n",
}


@pytest.mark.parametrize("tail", DEEP.values(), ids=DEEP.keys())
def test_deeply_nested_code_is_fixed_like_any_other(tmp_path, tail):
    path = _write(tmp_path / "m.py", LEGACY + "\n" + tail)
    result = _fix(path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert MIGRATED in path.read_text()
    assert path.read_text().endswith(tail)


def test_an_internal_error_is_a_note_and_exit_2(tmp_path, monkeypatch):
    victim = _write(tmp_path / "a.py", LEGACY)
    other = _write(tmp_path / "b.py", LEGACY.replace("Conv1d", "Conv2d"))
    real = fixmod.fix_source

    def flaky(original, path, *args, **kwargs):
        if path.endswith("a.py"):
            raise RuntimeError("boom")
        return real(original, path, *args, **kwargs)

    monkeypatch.setattr(fixmod, "fix_source", flaky)
    before = victim.read_bytes()
    result = _fix(tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{victim}: not fixed: internal error (RuntimeError: boom)" in result.stderr
    assert victim.read_bytes() == before
    assert "parametrizations.weight_norm(nn.Conv2d" in other.read_text()
    assert "wnlint: fixed 1 findings in 1 files, 1 remaining" in result.stderr


def test_check_exits_2_on_an_internal_error(tmp_path, monkeypatch):
    from wnlint.rules import RULES_BY_CODE

    def explode(self, analysis):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    monkeypatch.setattr(RULES_BY_CODE["WN301"], "check", explode)
    path = _write(tmp_path / "m.py", LEGACY)
    result = run_cli("check", str(path))
    assert "WN003 internal error in WN301: RuntimeError: boom" in result.stdout
    assert result.returncode == 2
    assert run_cli("check", "--exit-zero", str(path)).returncode == 2
    # fix --exit-zero forgives findings, never an internal error.
    assert run_cli("fix", "--exit-zero", str(path)).returncode == 2


def test_a_path_that_is_not_utf8_prints_without_a_traceback(tmp_path):
    name = os.fsencode(tmp_path) + b"/caf\xe9.py"
    with open(name, "wb") as handle:
        handle.write(LEGACY.encode())
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(ROOT)}
    for args in (["check"], ["fix", "--unsafe-fixes", "--diff"]):
        proc = subprocess.run(
            [sys.executable, "-m", "wnlint", *args, str(tmp_path)],
            capture_output=True,
            env=env,
        )
        assert b"Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 1
        assert b"caf\xe9.py" in proc.stdout + proc.stderr


# -- writes ------------------------------------------------------------------


def test_a_symlink_is_written_through_to_its_target_once(tmp_path):
    target = _write(tmp_path / "target.py", LEGACY)
    link = tmp_path / "link.py"
    link.symlink_to(target.name)
    result = _fix(tmp_path)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "target.py"
    assert MIGRATED in target.read_text()
    assert "fixed 1 findings in 1 files" in result.stderr  # not twice
    # Named on its own, the link still leads to the fix of its target.
    _write(target, LEGACY)
    assert _fix(link).returncode == 0
    assert link.is_symlink() and MIGRATED in target.read_text()


def test_hard_links_and_the_inode_are_kept(tmp_path):
    first = _write(tmp_path / "first.py", LEGACY)
    second = tmp_path / "second.txt"  # not a .py: only `first` is fixed
    os.link(first, second)
    inode = first.stat().st_ino
    assert _fix(first).returncode == 0
    assert first.stat().st_ino == inode == second.stat().st_ino
    assert MIGRATED in second.read_text()


def test_a_read_only_file_is_refused_with_a_note(tmp_path):
    path = _write(tmp_path / "m.py", LEGACY)
    path.chmod(0o444)
    before = path.read_bytes()
    result = _fix(path)
    assert result.returncode == 2
    assert f"{path}: not fixed: cannot write: the file is read-only" in result.stderr
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert "1 remaining" in result.stderr


def test_mode_and_owner_are_kept(tmp_path):
    path = _write(tmp_path / "m.py", LEGACY)
    path.chmod(0o751)
    owner = (path.stat().st_uid, path.stat().st_gid)
    assert _fix(path).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert (path.stat().st_uid, path.stat().st_gid) == owner


def test_a_file_changed_on_disk_while_fixed_is_left_alone(tmp_path, monkeypatch):
    path = _write(tmp_path / "m.py", LEGACY)
    real = fixmod.fix_source

    def racing(original, *args, **kwargs):
        result = real(original, *args, **kwargs)
        path.write_bytes(original + b"# an editor saved meanwhile\n")
        return result

    monkeypatch.setattr(fixmod, "fix_source", racing)
    result = _fix(path)
    assert result.returncode == 2
    assert "changed on disk while it was fixed; left alone" in result.stderr
    assert path.read_text() == LEGACY + "# an editor saved meanwhile\n"


def test_no_temporary_file_is_left_behind_when_a_write_fails(tmp_path, monkeypatch):
    path = _write(tmp_path / "m.py", LEGACY)

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    result = _fix(path)
    assert result.returncode == 2
    assert "cannot write: No space left on device" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.py"]
    assert path.read_text() == LEGACY


ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


@pytest.mark.parametrize("ending", ENDINGS.values(), ids=ENDINGS.keys())
@pytest.mark.parametrize("final", [True, False], ids=["final", "no-final"])
def test_line_endings_survive_exactly(tmp_path, ending, final):
    text = LEGACY.replace("\n", ending)
    if not final:
        text = text[: -len(ending)]
    path = tmp_path / "m.py"
    path.write_bytes(text.encode())
    assert _fix(path).returncode == 0
    expected = text.replace("weight_norm\r", "parametrizations\r").replace(
        "weight_norm\n", "parametrizations\n"
    )
    expected = expected.replace(
        "return weight_norm(", "return parametrizations.weight_norm("
    )
    assert path.read_bytes() == expected.encode()


def test_mixed_line_endings_survive_exactly(tmp_path):
    text = LEGACY.replace("\n", "\r\n", 2).replace("\n\n", "\n\r")
    path = tmp_path / "m.py"
    path.write_bytes(text.encode())
    assert _fix(path).returncode == 0
    after = path.read_bytes().decode()
    assert [line[len(line.rstrip("\r\n")) :] for line in after.splitlines(True)] == [
        line[len(line.rstrip("\r\n")) :] for line in text.splitlines(True)
    ]
    assert MIGRATED in after


# -- as a user who is not root ----------------------------------------------


def _shared_dir(tmp_path: Path, mode: int) -> Path:
    """A directory ``nobody`` can reach: pytest's own are private to root."""
    base = Path("/tmp") / f"wnlint-perm-{os.getpid()}-{tmp_path.name}"
    base.mkdir(mode=0o755)
    base.chmod(mode)
    return base


needs_root = pytest.mark.skipif(
    unprivileged_user() is None,
    reason="needs root to act as the unprivileged user 'nobody'",
)


@needs_root
def test_unprivileged_user_file_writable_in_a_read_only_directory(tmp_path):
    user = unprivileged_user()
    assert user is not None
    directory = _shared_dir(tmp_path, 0o755)  # root's, not writable by nobody
    try:
        path = _write(directory / "m.py", LEGACY)
        os.chown(path, user.pw_uid, user.pw_gid)
        linter = Linter(select_rules())
        with as_user(user):
            (result,) = fix_runner.fix_paths([str(path)], linter, True, write=True)
        assert not result.failed, result.notes
        assert MIGRATED in path.read_text()
        assert (path.stat().st_uid, path.stat().st_gid) == (user.pw_uid, user.pw_gid)
        assert sorted(p.name for p in directory.iterdir()) == ["m.py"]
    finally:
        subprocess.run(["rm", "-rf", str(directory)], check=True)


@needs_root
def test_unprivileged_user_cannot_rewrite_another_users_file(tmp_path):
    user = unprivileged_user()
    assert user is not None
    directory = _shared_dir(tmp_path, 0o777)  # anyone may create files here
    try:
        theirs = _write(directory / "theirs.py", LEGACY)  # root's, mode 644
        theirs.chmod(0o644)
        shared = _write(directory / "shared.py", LEGACY)  # root's, mode 666
        shared.chmod(0o666)
        linter = Linter(select_rules())
        with as_user(user):
            results = fix_runner.fix_paths([str(directory)], linter, True, write=True)
        by_name = {Path(r.path).name: r for r in results}
        assert by_name["theirs.py"].failed
        assert "read-only for this user" in by_name["theirs.py"].notes[0]
        assert theirs.read_text() == LEGACY
        # Writable by anyone: fixed in place, so root still owns it.
        assert not by_name["shared.py"].failed
        assert MIGRATED in shared.read_text()
        assert shared.stat().st_uid == 0
        assert stat.S_IMODE(shared.stat().st_mode) == 0o666
        assert not [p for p in directory.iterdir() if p.name.startswith(".wnlint-")]
    finally:
        subprocess.run(["rm", "-rf", str(directory)], check=True)


# -- output and parallel runs -------------------------------------------------


def test_parallel_fix_matches_serial_fix(tmp_path):
    from conftest import fixture_files

    sources = [p.read_bytes() for p in fixture_files()]
    for i in range(fix_runner._PARALLEL_MIN_FILES):
        (tmp_path / f"m{i:03d}.py").write_bytes(sources[i % len(sources)])
    linter = Linter(select_rules())

    def summary(jobs: int) -> list:
        results = fix_runner.fix_paths([str(tmp_path)], linter, True, False, jobs=jobs)
        return [(r.path, r.diff(), r.notes, r.remaining, r.applied) for r in results]

    serial = summary(1)
    assert any(diff for _, diff, *_ in serial)
    assert summary(2) == serial


_NORMED_LAYERS = """\
import torch.nn as nn
from torch.nn.utils import weight_norm


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(2, 2, 3))
"""
#: An init over the sibling's layers, right for parametrized modules only:
#: WN203 while the sibling is legacy, none once it is migrated.
_INIT_OVER_THEM = """\
import torch
import torch.nn as nn

from pkg.a_layers import Block


def init_weights(m):
    if isinstance(m, nn.Conv1d):
        if torch.nn.utils.parametrize.is_parametrized(m, "weight"):
            m.weight = nn.init.trunc_normal_(m.weight.detach().clone(), std=0.02)
        else:
            nn.init.trunc_normal_(m.weight, std=0.02)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.apply(init_weights)
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_fix_writes_what_fix_diff_shows(tmp_path, jobs):
    """Every file is fixed against the tree as the run found it, before any
    is written: the init's fix does not depend on whether its sibling was
    migrated (and written) first, by the order of the files or the timing
    of the workers. It used to be dropped when written in place, though
    ``--diff`` showed it."""
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "a_layers.py").write_text(_NORMED_LAYERS)
    (root / "pkg" / "b_model.py").write_text(_INIT_OVER_THEM)
    for i in range(fix_runner._PARALLEL_MIN_FILES):  # enough for processes
        (root / f"plain{i:02d}.py").write_text("x = 1\n")
    shown = run_cli("fix", "--unsafe-fixes", "--diff", "-j", jobs, ".", cwd=root)
    assert "pkg/b_model.py: WN203 x1" in shown.stderr
    linter = Linter(select_rules())
    would = {  # what the diff shows, as whole files
        Path(r.path).name: r.fixed
        for r in fix_runner.fix_paths([str(root)], linter, True, False, jobs=int(jobs))
        if r.changed
    }
    assert sorted(would) == ["a_layers.py", "b_model.py"]
    assert all(f"+++ b/pkg/{name}" in shown.stdout for name in would)
    written = run_cli("fix", "--unsafe-fixes", "-j", jobs, ".", cwd=root)
    assert "fixed 2 findings in 2 files, 0 remaining" in written.stderr
    for name, fixed in would.items():
        assert (root / "pkg" / name).read_bytes() == fixed
    assert b"weight_g" in would["b_model.py"]


@pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")
def test_the_diff_applies_with_git_apply(tmp_path):
    from conftest import fixture_files

    repo = tmp_path / "repo"
    repo.mkdir()
    for source in fixture_files()[:4]:
        shutil.copy(source, repo / source.name)
    # A last line without a line break must survive the round trip too.
    _write(repo / "no_newline.py", LEGACY.rstrip("\n"))
    expected = tmp_path / "expected"
    shutil.copytree(repo, expected)
    assert _fix(expected).returncode in (0, 1)
    run = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=repo)
    assert "--- a/no_newline.py\n+++ b/no_newline.py\n" in run.stdout
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(
        ["git", "apply", "-"], cwd=repo, input=run.stdout.encode(), check=True
    )
    for path in expected.iterdir():
        assert (repo / path.name).read_bytes() == path.read_bytes(), path.name
