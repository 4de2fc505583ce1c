"""``check``'s cache: a warm run gives exactly what a cold one gives, and an
edit anywhere the analysis looked (the file, a sibling module a rule
followed, a module that did not exist yet, the settings) is seen on the
next run; a corrupt, foreign or unwritable cache, or two runs at once, is
never a wrong result or a crash."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, as_user, run_cli, unprivileged_user
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from wnlint.cli import cache as cache_module
from wnlint.cli.cache import MAGIC, CachingLinter
from wnlint.cli.selection import Resolver

PACKAGE = FIXTURES / "wn203_package"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A git project with the WN203 package (a helper in a sibling module)
    and a legacy-API file; the cache at the project root."""
    monkeypatch.delenv("WNLINT_CACHE_DIR")
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".git").mkdir()
    shutil.copytree(PACKAGE, root / PACKAGE.name)
    shutil.copy(FIXTURES / "wn301_legacy_weight_norm.py", root / "legacy.py")
    return root


def _check(root, *args: str):
    return run_cli("check", *args, ".", cwd=root)


def _linting_spy(monkeypatch) -> list[str]:
    """The files the engine really lints (the cache's misses)."""
    linted: list[str] = []
    real = Resolver.lint_file

    def spy(self, path):
        linted.append(os.path.basename(path))
        return real(self, path)

    monkeypatch.setattr(Resolver, "lint_file", spy)
    return linted


def test_a_warm_run_answers_from_the_cache_with_the_same_report(project, monkeypatch):
    cold = _check(project, "--no-cache")
    assert not (project / ".wnlint_cache").exists()  # --no-cache writes nothing
    first = _check(project)
    assert (project / ".wnlint_cache").is_dir()
    linted = _linting_spy(monkeypatch)
    warm = _check(project)
    assert linted == []
    assert warm.stdout == first.stdout == cold.stdout
    assert warm.returncode == cold.returncode == 1
    assert "WN203" in warm.stdout and "WN301" in warm.stdout
    for fmt in ("json", "sarif", "full"):
        assert (
            _check(project, "--output-format", fmt).stdout
            == _check(project, "--no-cache", "--output-format", fmt).stdout
        )


def test_the_cache_key_covers_every_module_of_every_layer():
    """An edit to any module of the package (a rule, a fact, the engine) may
    change a finding, so each is part of the key a cache entry is under."""
    covered = set(cache_module.engine_files())
    package = ROOT / "wnlint"
    every = {str(p.relative_to(package)) for p in package.rglob("*.py")}
    assert covered == every
    assert {"rules/base.py", "facts/analysis.py", "engine/linter.py"} <= covered


def test_the_cache_directory_is_ignored_and_tagged(project):
    _check(project)
    folder = project / ".wnlint_cache"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (
        (folder / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def test_an_edit_to_the_file_is_seen(project, monkeypatch):
    _check(project)
    legacy = project / "legacy.py"
    legacy.write_text(legacy.read_text().replace("nn.utils.weight_norm(", "id(", 1))
    linted = _linting_spy(monkeypatch)
    after = _check(project)
    assert linted == ["legacy.py"]
    assert after.stdout == _check(project, "--no-cache").stdout


def test_an_edit_with_the_same_size_and_mtime_is_seen(project):
    """A clock-tick race or ``touch -d``: the change time and the hash of
    the bytes still tell."""
    _check(project)
    legacy = project / "legacy.py"
    before = os.stat(legacy)
    text = legacy.read_bytes()
    edited = text.replace(b"nn.utils.weight_norm(", b"nn.utils.xeight_norm(", 1)
    assert len(edited) == len(text)
    legacy.write_bytes(edited)
    os.utime(legacy, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert _check(project).stdout == _check(project, "--no-cache").stdout


def test_an_edit_to_a_sibling_helper_changes_the_finding_next_run(project, monkeypatch):
    """WN203 in model.py follows init_weights into utils.py: a fix there
    must clear the finding in model.py, which did not change."""
    before = _check(project)
    assert f"{PACKAGE.name}/model.py" in before.stdout and "WN203" in before.stdout
    (project / PACKAGE.name / "utils.py").write_text("def init_weights(m):\n    pass\n")
    linted = _linting_spy(monkeypatch)
    after = _check(project)
    assert "model.py" in linted
    assert f"{PACKAGE.name}/model.py" not in after.stdout
    assert after.stdout == _check(project, "--no-cache").stdout


def test_an_edit_two_modules_away_changes_the_finding_next_run(project, monkeypatch):
    """codec.py reaches layers.py's weight norm through quantize.py, which
    never spells it (the prefilter's second step): layers.py written plain,
    then normed again, must reach codec.py's entry both ways."""
    layers = project / PACKAGE.name / "layers.py"
    normed = layers.read_text()
    layers.write_text(normed.replace("return weight_norm(", "return ("))
    plain = _check(project)
    assert "codec.py" not in plain.stdout
    layers.write_text(normed)
    linted = _linting_spy(monkeypatch)
    after = _check(project)
    assert "codec.py" in linted
    assert f"{PACKAGE.name}/codec.py" in after.stdout
    assert after.stdout == _check(project, "--no-cache").stdout


def test_a_lookup_made_once_per_run_is_a_dependency_of_every_file(project):
    """Within a run, where a module is and what a sibling says are looked up
    once (``sources.one_run``); each file that asks still records what the
    answer depended on, or the cache would miss an edit for the second."""
    from wnlint.facts import siblings, sources

    package = str(project / PACKAGE.name)
    asked = []
    with sources.one_run():
        for _ in range(2):
            with sources.recording() as paths:
                found = siblings.module_path(package, ".utils")
            asked.append(paths)
    assert found == os.path.realpath(os.path.join(package, "utils.py"))
    assert asked[0] == asked[1]
    assert os.path.join(package, "utils.py") in asked[1]


def test_a_module_that_appears_changes_the_finding(project):
    """Removing the helper module, then creating it again: an absent file is
    a dependency too."""
    helper = project / PACKAGE.name / "utils.py"
    text = helper.read_text()
    helper.unlink()
    assert f"{PACKAGE.name}/model.py" not in _check(project).stdout
    helper.write_text(text)
    again = _check(project)
    assert f"{PACKAGE.name}/model.py" in again.stdout
    assert again.stdout == _check(project, "--no-cache").stdout


def test_other_settings_are_other_entries(project):
    _check(project)
    only = _check(project, "--select", "WN301")
    assert "WN203" not in only.stdout and "WN301" in only.stdout
    assert only.stdout == _check(project, "--no-cache", "--select", "WN301").stdout
    assert _check(project).stdout == _check(project, "--no-cache").stdout


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage", MAGIC + b"\x00\x01broken", MAGIC + b"\xe9marshal of a str"],
    ids=["empty", "foreign", "broken", "wrong-shape"],
)
def test_a_corrupt_or_foreign_cache_is_rebuilt(project, content):
    expected = _check(project, "--no-cache").stdout
    _check(project)
    (cache_file,) = (project / ".wnlint_cache").glob("*.cache")
    cache_file.write_bytes(content)
    assert _check(project).stdout == expected
    assert cache_file.read_bytes().startswith(MAGIC)
    assert _check(project).stdout == expected


def test_entries_of_the_wrong_shape_are_misses(project, monkeypatch):
    _check(project)
    resolver = Resolver(cwd=str(project))
    linter = CachingLinter(resolver, str(project / ".wnlint_cache"))
    for path in list(linter.entries):
        linter.entries[path] = ("x",)
    linted = _linting_spy(monkeypatch)
    assert linter.lint_file(str(project / "legacy.py"))
    assert linted == ["legacy.py"]


def test_a_read_only_project_is_checked_without_a_cache(project):
    """A project this user cannot write (run as ``nobody`` when root, who
    writes anywhere): the run is right, and says nothing of the cache."""
    expected = _check(project, "--no-cache").stdout
    user = unprivileged_user()
    if user is None:
        project.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            result = _check(project)
        finally:
            project.chmod(stat.S_IRWXU)
    else:
        shared = Path("/tmp") / f"wnlint-readonly-{os.getpid()}"
        shutil.copytree(project, shared)
        try:
            shared.chmod(0o755)  # root's: readable, not writable, by nobody
            with as_user(user):
                result = _check(shared)
            assert not (shared / ".wnlint_cache").exists()
        finally:
            shutil.rmtree(shared)
    assert result.stdout == expected, result.stderr
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_an_unwritable_cache_directory_is_no_error(project, monkeypatch):
    expected = _check(project, "--no-cache").stdout
    blocker = project / "blocked"
    blocker.write_text("a file where the cache directory would be\n")
    result = _check(project, "--cache-dir", str(blocker / "cache"))
    assert result.stdout == expected and result.returncode == 1
    assert "Traceback" not in result.stderr


def test_concurrent_runs_stay_right(project):
    """Several processes filling one cache at once."""
    command = [sys.executable, "-m", "wnlint", "check", "."]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("WNLINT_CACHE_DIR", None)
    expected = _check(project, "--no-cache").stdout
    procs = [
        subprocess.Popen(
            command, cwd=project, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(out == expected for out in outputs)
    assert _check(project).stdout == expected
    assert [p.name for p in (project / ".wnlint_cache").glob("*.tmp")] == []


def test_where_the_cache_goes(project, tmp_path, monkeypatch):
    (project / "pyproject.toml").write_text('[tool.wnlint]\ncache-dir = "build/c"\n')
    _check(project)
    assert (project / "build" / "c").is_dir()
    monkeypatch.setenv("WNLINT_CACHE_DIR", str(tmp_path / "env"))
    _check(project)
    assert (tmp_path / "env").is_dir()
    _check(project, "--cache-dir", str(tmp_path / "flag"))
    assert (tmp_path / "flag").is_dir()


def test_clean_removes_the_cache(project):
    _check(project)
    assert (project / ".wnlint_cache").is_dir()
    result = run_cli("clean", cwd=project)
    assert result.returncode == 0
    assert f"wnlint: removed {project / '.wnlint_cache'}" in result.stderr
    assert not (project / ".wnlint_cache").exists()
    assert run_cli("clean", cwd=project).returncode == 0  # nothing to remove


def test_findings_that_may_not_recur_are_not_cached(project, monkeypatch):
    """A file that could not be read (WN002) is read again next time."""
    (project / "unreadable.py").write_text("x = 1\n")
    linted = _linting_spy(monkeypatch)
    monkeypatch.setattr(cache_module, "_UNCACHED", (*cache_module._UNCACHED, "WN301"))
    _check(project)
    _check(project)
    assert linted.count("legacy.py") == 2  # its WN301 findings are not cached
    assert linted.count("unreadable.py") == 1


# -- any sequence of edits ---------------------------------------------------------

#: Versions of the project's files, each a real-code shape: the helper that
#: writes weights (or does not), the model that applies it after weight
#: norm (or before), and a legacy call (or none).
HELPERS = [
    "import torch.nn as nn\n\n\ndef init_weights(m):\n"
    "    if isinstance(m, nn.Conv1d):\n        nn.init.normal_(m.weight, 0.0, 0.01)\n",
    "def init_weights(m):\n    pass\n",
    "import torch.nn as nn\n\n\ndef init_weights(m):\n"
    "    nn.init.zeros_(m.weight.data)\n",
    None,  # the module does not exist
]
MODELS = [
    "import torch.nn as nn\nfrom torch.nn.utils.parametrizations import weight_norm\n"
    "\nfrom .helpers import init_weights\n\n\nclass M(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n"
    "        self.convs = nn.ModuleList([weight_norm(nn.Conv1d(1, 1, 1))])\n"
    "        self.convs.apply(init_weights)\n",
    "import torch.nn as nn\nfrom torch.nn.utils.parametrizations import weight_norm\n"
    "\nfrom .helpers import init_weights\n\n\nclass M(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n"
    "        self.convs = nn.ModuleList([nn.Conv1d(1, 1, 1)])\n"
    "        self.convs.apply(init_weights)\n",
    "import torch.nn as nn\n\nm = nn.utils.weight_norm(nn.Linear(1, 1))\n",
]
SELECTIONS = [(), ("--select", "WN2"), ("--ignore", "WN301")]

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("helper"), st.sampled_from(range(len(HELPERS)))),
        st.tuples(st.just("model"), st.sampled_from(range(len(MODELS)))),
        st.tuples(st.just("select"), st.sampled_from(range(len(SELECTIONS)))),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=STEPS)
def test_after_any_edits_the_cache_answers_as_a_fresh_run(tmp_path, steps):
    """Edits to a file, to the sibling module its finding depends on (also
    removing and recreating it), and to the selection, in any order: each
    cached run prints exactly what a run without the cache prints."""
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
        root = Path(folder)
        package = root / "pkg"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (root / ".git").mkdir()
        cache = str(root / "cache")
        selection: tuple[str, ...] = ()
        for kind, index in [("model", 0), ("helper", 0), *steps]:
            if kind == "helper":
                helper = package / "helpers.py"
                if HELPERS[index] is None:
                    helper.unlink(missing_ok=True)
                else:
                    helper.write_text(HELPERS[index])
            elif kind == "model":
                (package / "model.py").write_text(MODELS[index])
            else:
                selection = SELECTIONS[index]
            cached = run_cli("check", "--cache-dir", cache, *selection, ".", cwd=root)
            fresh = run_cli("check", "--no-cache", *selection, ".", cwd=root)
            assert cached.stdout == fresh.stdout, (steps, kind, index)
            assert cached.returncode == fresh.returncode
