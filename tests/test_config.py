"""``[tool.wnlint]``: discovery, validation, rule and file selection, and
the command-line flags that override it."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from conftest import (
    IN_FORWARD_SNIPPET,
    LEGACY_SNIPPET,
    UNKNOWN_CODE,
    UNKNOWN_PREFIX,
    run_cli,
)

from wnlint.cli import selection
from wnlint.cli.config import ConfigError, read_pyproject
from wnlint.cli.selection import Resolver

# Snippets with known findings, not the rule fixtures: a fixture that gains
# a finding must not change what these tests expect.
LEGACY = LEGACY_SNIPPET
#: Every finding fixable, with --unsafe-fixes.
MIGRATABLE = LEGACY_SNIPPET
IN_FORWARD = IN_FORWARD_SNIPPET


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def codes_by_file(stdout: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in stdout.splitlines():
        path, _, _, rest = line.split(":", 3)
        found.setdefault(os.path.normpath(path), set()).add(rest.split()[0])
    return found


# -- discovery -------------------------------------------------------------


def test_nearest_table_wins_a_pyproject_without_one_is_passed_over(tmp_path):
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.wnlint]\nignore = ["WN301"]\n',
            "a/pyproject.toml": "[project]\nname = 'a'\n",  # no [tool.wnlint]
            "a/m.py": LEGACY,
            "b/pyproject.toml": '[tool.wnlint]\nignore = ["WN106"]\n',
            "b/m.py": LEGACY + IN_FORWARD,
        },
    )
    result = run_cli("check", ".", cwd=tmp_path)
    found = codes_by_file(result.stdout)
    # a/ walks past its table-less pyproject to the root's: WN301 ignored.
    assert "a/m.py" not in found
    # b/ has its own table, not merged with the root's: WN301 is back.
    assert found["b/m.py"] == {"WN301"}


def test_a_file_outside_any_configuration_uses_the_working_directorys(tmp_path):
    project, outside = tmp_path / "project", tmp_path / "outside"
    write(project, {"pyproject.toml": '[tool.wnlint]\nignore = ["WN301"]\n'})
    write(outside, {"m.py": LEGACY})
    assert run_cli("check", str(outside / "m.py"), cwd=project).returncode == 0
    assert run_cli("check", str(outside / "m.py"), cwd=tmp_path).returncode == 1


def test_each_pyproject_is_read_once_per_run(tmp_path, monkeypatch):
    files = {f"pkg/sub{i}/m{j}.py": LEGACY for i in range(3) for j in range(3)}
    files["pyproject.toml"] = '[tool.wnlint]\nignore = ["WN302"]\n'
    write(tmp_path, files)
    reads: list[str] = []
    real = selection.read_pyproject

    def counting(path, **kwargs):
        reads.append(path)
        return real(path, **kwargs)

    monkeypatch.setattr(selection, "read_pyproject", counting)
    resolver = Resolver(cwd=str(tmp_path))
    found = list(resolver.files([str(tmp_path)]))
    assert len(found) == 9
    for path in found:
        resolver.linter_for(path)
    assert reads == [str(tmp_path / "pyproject.toml")]
    # Files with the same codes share one linter.
    assert len({id(resolver.linter_for(p)) for p in found}) == 1


# -- validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('selekt = ["WN3"]', "unknown key 'tool.wnlint.selekt'"),
        ('select = "WN3"', "tool.wnlint.select: expected a list of strings"),
        (
            f'ignore = ["{UNKNOWN_CODE}"]',
            f"unknown rule code or prefix: '{UNKNOWN_CODE}'",
        ),
        ("respect-gitignore = 'yes'", "tool.wnlint.respect-gitignore: expected"),
        ("jobs = 0", "tool.wnlint.jobs: expected a whole number"),
        ("unsafe-fixes = 1", "tool.wnlint.unsafe-fixes: expected true or false"),
        ('per-file-ignores = ["x"]', "tool.wnlint.per-file-ignores: expected a"),
        ('[tool.wnlint.per-file-ignores]\n"t/*" = ["XY1"]', "'XY1'"),
        ("select = [", "invalid TOML"),
        ("select = []", "select '' selects no rule"),
        ('select = ["WN001"]', "selects no rule"),
    ],
)
def test_a_broken_configuration_is_a_usage_error_naming_file_and_key(
    tmp_path, table, message
):
    if not table.startswith("["):
        table = "[tool.wnlint]\n" + table
    write(tmp_path, {"pyproject.toml": table + "\n", "m.py": LEGACY})
    result = run_cli("check", "m.py", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert str(tmp_path / "pyproject.toml") in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_broken_nested_configuration_met_while_walking_is_a_usage_error(tmp_path):
    write(tmp_path, {"deep/pyproject.toml": "[tool.wnlint]\nnope = 1\n"})
    write(tmp_path, {"deep/m.py": LEGACY})
    result = run_cli("check", "-j", "2", ".", cwd=tmp_path)
    assert result.returncode == 2
    assert "deep/pyproject.toml: unknown key 'tool.wnlint.nope'" in result.stderr


def test_read_pyproject_without_a_table():
    assert read_pyproject(str(Path(__file__).parent.parent / "pyproject.toml")) is None
    with pytest.raises(ConfigError, match=r"no \[tool\.wnlint\] table"):
        read_pyproject(
            str(Path(__file__).parent.parent / "pyproject.toml"), required=True
        )


# -- rule selection --------------------------------------------------------

BOTH = LEGACY + IN_FORWARD


@pytest.mark.parametrize(
    ("table", "flags", "codes"),
    [
        ("", [], {"WN301", "WN106"}),
        ('select = ["WN3"]', [], {"WN301"}),
        ('select = ["WN3"]', ["--select", "WN1"], {"WN106"}),  # replaces
        ('select = ["WN3"]', ["--extend-select", "WN1"], {"WN301", "WN106"}),
        ('ignore = ["WN3"]', ["--ignore", "WN1"], set()),  # adds up
        ('extend-ignore = ["WN106"]', [], {"WN301"}),
        ('ignore = ["WN3"]', ["--select", "WN"], {"WN301", "WN106"}),
        ('select = ["WN3"]\nextend-select = ["WN106"]', [], {"WN301", "WN106"}),
        ("", ["--select", "WN301", "--extend-ignore", "WN301"], set()),
    ],
)
def test_the_command_line_overrides_the_file_level_by_level(
    tmp_path, table, flags, codes
):
    write(tmp_path, {"pyproject.toml": f"[tool.wnlint]\n{table}\n", "m.py": BOTH})
    result = run_cli("check", *flags, "m.py", cwd=tmp_path)
    assert set(codes_by_file(result.stdout).get("m.py", set())) == codes


def test_a_select_that_selects_no_rule_is_a_usage_error(tmp_path):
    write(tmp_path, {"m.py": LEGACY})
    for select in ("", "WN001", " , "):
        result = run_cli("check", "--select", select, "m.py", cwd=tmp_path)
        assert result.returncode == 2
        assert "selects no rule" in result.stderr
        assert result.stdout == ""
    result = run_cli("fix", "--select", "", "m.py", cwd=tmp_path)
    assert result.returncode == 2 and "selects no rule" in result.stderr


def test_unknown_codes_on_the_command_line_name_the_flag(tmp_path):
    for flag in ("--extend-select", "--extend-ignore"):
        result = run_cli("check", flag, UNKNOWN_PREFIX, ".", cwd=tmp_path)
        assert result.returncode == 2
        needle = f"unknown rule code or prefix: '{UNKNOWN_PREFIX}' ({flag})"
        assert needle in result.stderr


def test_per_file_ignores_globs_negation_and_system_codes(tmp_path):
    write(
        tmp_path,
        {
            "pyproject.toml": """\
                [tool.wnlint.per-file-ignores]
                "tests/*" = ["WN106"]
                "!src/*" = ["WN301"]
                "broken_*.py" = ["WN001"]
            """,
            "src/m.py": BOTH,
            "src/deep/er/m.py": BOTH,
            "tests/t.py": BOTH,
            "other/o.py": BOTH,
            "other/broken_1.py": LEGACY + "\ndef (:\n",
        },
    )
    found = codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout)
    assert found["src/m.py"] == {"WN301", "WN106"}
    assert found["src/deep/er/m.py"] == {"WN301", "WN106"}  # `*` crosses `/`
    assert "tests/t.py" not in found  # WN106 by its glob, WN301 by "!src/*"
    assert found["other/o.py"] == {"WN106"}
    assert "other/broken_1.py" not in found  # the engine's WN001 ignored


def test_per_file_ignores_hold_in_worker_processes(tmp_path, monkeypatch):
    from wnlint.engine import runner

    monkeypatch.setattr(runner, "PARALLEL_MIN_FILES", 2)
    files = {f"src/m{i}.py": BOTH for i in range(6)}
    files.update({f"tests/t{i}.py": BOTH for i in range(6)})
    files["pyproject.toml"] = '[tool.wnlint.per-file-ignores]\n"tests/*" = ["WN"]\n'
    write(tmp_path, files)
    serial = run_cli("check", "-j", "1", ".", cwd=tmp_path)
    parallel = run_cli("check", "-j", "3", ".", cwd=tmp_path)
    assert parallel.stdout == serial.stdout
    assert set(codes_by_file(serial.stdout)) == {f"src/m{i}.py" for i in range(6)}


# -- files -----------------------------------------------------------------


def test_exclude_replaces_the_defaults_and_extend_exclude_adds(tmp_path):
    write(
        tmp_path,
        {
            "build/m.py": LEGACY,
            "gen/m.py": LEGACY,
            "src/m.py": LEGACY,
            "src/skip_me.py": LEGACY,
        },
    )
    checked = set(codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout))
    assert checked == {"gen/m.py", "src/m.py", "src/skip_me.py"}  # build/ default

    write(tmp_path, {"pyproject.toml": '[tool.wnlint]\nexclude = ["gen"]\n'})
    checked = set(codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout))
    assert checked == {"build/m.py", "src/m.py", "src/skip_me.py"}

    write(
        tmp_path,
        {"pyproject.toml": '[tool.wnlint]\nextend-exclude = ["src/skip_*.py"]\n'},
    )
    checked = set(codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout))
    assert checked == {"gen/m.py", "src/m.py"}

    result = run_cli("check", "--exclude", "src", ".", cwd=tmp_path)
    assert set(codes_by_file(result.stdout)) == {"build/m.py", "gen/m.py"}
    result = run_cli("check", "--extend-exclude", "gen,build", ".", cwd=tmp_path)
    assert set(codes_by_file(result.stdout)) == {"src/m.py"}


def test_named_files_are_checked_unless_force_exclude(tmp_path):
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.wnlint]\nextend-exclude = ["gen"]\n',
            "gen/m.py": LEGACY,
        },
    )
    assert run_cli("check", "gen/m.py", cwd=tmp_path).returncode == 1
    result = run_cli("check", "--force-exclude", "gen/m.py", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""


def test_gitignore_is_respected_in_a_repository_unless_turned_off(tmp_path):
    write(
        tmp_path,
        {
            ".gitignore": "generated/\n/top_only.py\n",
            "generated/m.py": LEGACY,
            "top_only.py": LEGACY,
            "sub/top_only.py": LEGACY,
            "sub/.gitignore": "local_*.py\n!local_keep.py\n",
            "sub/local_a.py": LEGACY,
            "sub/local_keep.py": LEGACY,
        },
    )
    everything = {
        "generated/m.py",
        "top_only.py",
        "sub/top_only.py",
        "sub/local_a.py",
        "sub/local_keep.py",
    }
    # Not a git repository: .gitignore files do not count (as in git and ruff).
    assert set(codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout)) == (
        everything
    )
    (tmp_path / ".git").mkdir()
    checked = set(codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout))
    assert checked == {"sub/top_only.py", "sub/local_keep.py"}
    result = run_cli("check", "--no-respect-gitignore", ".", cwd=tmp_path)
    assert set(codes_by_file(result.stdout)) == everything
    write(tmp_path, {"pyproject.toml": "[tool.wnlint]\nrespect-gitignore = false\n"})
    assert set(codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout)) == (
        everything
    )
    result = run_cli("check", "--respect-gitignore", ".", cwd=tmp_path)
    assert set(codes_by_file(result.stdout)) == checked
    # Named explicitly: checked all the same, though git ignores it.
    result = run_cli("check", "--respect-gitignore", "top_only.py", cwd=tmp_path)
    assert result.returncode == 1


# -- --config and --isolated ----------------------------------------------


def test_config_flag_uses_one_file_with_globs_relative_to_the_working_dir(
    tmp_path,
):
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.wnlint]\nignore = ["WN301"]\n',
            "conf/other.toml": '[tool.wnlint]\nextend-exclude = ["skip"]\n',
            "skip/m.py": LEGACY,
            "m.py": LEGACY,
        },
    )
    assert run_cli("check", ".", cwd=tmp_path).returncode == 0
    result = run_cli("check", "--config", "conf/other.toml", ".", cwd=tmp_path)
    assert set(codes_by_file(result.stdout)) == {"m.py"}
    result = run_cli("check", "--isolated", ".", cwd=tmp_path)
    assert set(codes_by_file(result.stdout)) == {"m.py", "skip/m.py"}
    result = run_cli("check", "--config", "missing.toml", ".", cwd=tmp_path)
    assert result.returncode == 2 and "missing.toml: cannot read" in result.stderr
    result = run_cli("check", "--config", "pyproject.toml", "--isolated", ".")
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_jobs_come_from_the_configuration_unless_given(tmp_path, monkeypatch):
    from wnlint.cli import commands

    seen: list[int] = []

    def fake(linter, files, jobs=1):
        seen.append(jobs)
        return commands.Report(files_checked=len(files))

    from wnlint.cli import cache

    monkeypatch.setattr(commands, "lint_files", fake)  # --no-cache
    monkeypatch.setattr(cache, "lint_files", fake)  # the cache's misses
    write(tmp_path, {"pyproject.toml": "[tool.wnlint]\njobs = 3\n", "m.py": ""})
    run_cli("check", ".", cwd=tmp_path)
    run_cli("check", "-j", "5", ".", cwd=tmp_path)
    assert seen == [3, 5]


def test_unsafe_fixes_from_the_configuration(tmp_path):
    write(tmp_path, {"m.py": MIGRATABLE})
    before = (tmp_path / "m.py").read_bytes()
    run_cli("fix", "m.py", cwd=tmp_path)
    assert (tmp_path / "m.py").read_bytes() == before  # WN301's fix is unsafe
    write(tmp_path, {"pyproject.toml": "[tool.wnlint]\nunsafe-fixes = true\n"})
    run_cli("fix", "--no-unsafe-fixes", "m.py", cwd=tmp_path)
    assert (tmp_path / "m.py").read_bytes() == before
    run_cli("fix", "m.py", cwd=tmp_path)
    assert (tmp_path / "m.py").read_bytes() != before
    assert run_cli("check", "--select", "WN301", "m.py", cwd=tmp_path).returncode == 0


def test_fix_uses_each_files_own_rules(tmp_path):
    write(
        tmp_path,
        {
            "pyproject.toml": """\
                [tool.wnlint]
                unsafe-fixes = true
                [tool.wnlint.per-file-ignores]
                "keep/*" = ["WN301", "WN302"]
            """,
            "keep/m.py": MIGRATABLE,
            "src/m.py": MIGRATABLE,
        },
    )
    kept = (tmp_path / "keep/m.py").read_bytes()
    result = run_cli("fix", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "keep/m.py").read_bytes() == kept
    assert (tmp_path / "src/m.py").read_bytes() != kept


# -- smaller gaps ----------------------------------------------------------


def test_short_version_flag():
    from wnlint import __version__

    for flag in ("-V", "--version"):
        result = run_cli(flag)
        assert result.returncode == 0
        assert result.stdout.strip() == f"wnlint {__version__}"


def test_fix_exit_zero(tmp_path):
    write(tmp_path, {"m.py": IN_FORWARD})  # WN106 has no fix: findings remain
    assert run_cli("fix", "m.py", cwd=tmp_path).returncode == 1
    result = run_cli("fix", "--exit-zero", "m.py", cwd=tmp_path)
    assert result.returncode == 0 and "WN106" in result.stdout
    write(tmp_path, {"n.py": MIGRATABLE})
    args = ("fix", "--diff", "--unsafe-fixes", "n.py")
    assert run_cli(*args, cwd=tmp_path).returncode == 1
    result = run_cli(*args, "--exit-zero", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("---")


def test_unreadable_directories_are_reported_on_stderr(tmp_path, monkeypatch):
    write(tmp_path, {"ok/m.py": LEGACY, "locked/m.py": LEGACY})
    real = os.scandir
    locked = str(tmp_path / "locked")

    def scandir(path):
        if os.fspath(path).rstrip("/") == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = run_cli("check", str(tmp_path))
    assert result.returncode == 1
    assert (
        f"wnlint: warning: {locked}: cannot read directory: Permission denied "
        "(skipped)" in result.stderr
    )
    assert "ok/m.py" in result.stdout and "locked" not in result.stdout


def test_symlink_loops_are_reported_on_stderr(tmp_path):
    write(tmp_path, {"m.py": LEGACY})
    (tmp_path / "loop.py").symlink_to("loop.py")
    (tmp_path / "a.py").symlink_to("b.py")
    (tmp_path / "b.py").symlink_to("a.py")
    result = run_cli("check", ".", cwd=tmp_path)
    assert result.returncode == 1
    for name in ("loop.py", "a.py", "b.py"):
        assert f"warning: ./{name}: cannot examine: symlink loop" in result.stderr
    assert "1 files checked" in result.stderr or "of 1 files" in result.stderr


def test_gitignore_double_star_info_exclude_and_dir_only(tmp_path):
    from wnlint.cli.gitignore import GitIgnore

    write(
        tmp_path,
        {
            ".git/info/exclude": "local.py\n",
            ".gitignore": "**/cache/**\ndocs/**/gen_*.py\nout/\na/b.py\n",
        },
    )
    ignore = GitIgnore()

    def ignored(name: str, is_dir: bool = False) -> bool:
        return ignore.ignored(str(tmp_path / name), is_dir)

    assert ignored("local.py") and ignored("deep/local.py")
    assert ignored("x/cache/m.py") and ignored("cache/m.py")
    assert ignored("docs/gen_a.py") and ignored("docs/x/y/gen_a.py")
    assert not ignored("docs/x/keep.py")
    assert ignored("out", is_dir=True) and not ignored("out")  # directories only
    assert ignored("a/b.py") and not ignored("z/a/b.py")  # anchored by its `/`


# -- what the checks above leave open -----------------------------------------


def test_the_walk_up_passes_a_table_less_pyproject_even_outside_the_cwd(tmp_path):
    # Run from outside the project: only the walk up from the file's own
    # directory can find the project's table (the working directory has none).
    write(
        tmp_path,
        {
            "project/pyproject.toml": '[tool.wnlint]\nignore = ["WN301"]\n',
            # Mentions wnlint, so it is parsed: still no table, still passed over.
            "project/a/pyproject.toml": "[project]\nname = 'uses-wnlint'\n",
            "project/a/m.py": LEGACY + IN_FORWARD,
        },
    )
    result = run_cli("check", "project", cwd=tmp_path)
    assert codes_by_file(result.stdout) == {"project/a/m.py": {"WN106"}}


def test_globs_are_relative_to_the_directory_of_the_declaring_file(tmp_path):
    # Checked from above the project: patterns with a `/` must be anchored at
    # project/, where the pyproject.toml is, not at the working directory.
    write(
        tmp_path,
        {
            "project/pyproject.toml": """\
                [tool.wnlint]
                extend-exclude = ["gen/*"]
                [tool.wnlint.per-file-ignores]
                "tests/*" = ["WN301"]
            """,
            "project/gen/m.py": LEGACY,
            "project/tests/t.py": LEGACY,
            "project/src/m.py": LEGACY,
            # Same relative paths under the working directory: not matched.
            "gen/m.py": LEGACY,
            "tests/t.py": LEGACY,
        },
    )
    found = codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout)
    assert set(found) == {"gen/m.py", "tests/t.py", "project/src/m.py"}
    write(tmp_path, {"project/pyproject.toml": '[tool.wnlint]\nexclude = ["src/*"]\n'})
    found = codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout)
    assert "project/src/m.py" not in found and "project/gen/m.py" in found


def test_config_flag_globs_with_a_slash_are_relative_to_the_working_dir(tmp_path):
    write(
        tmp_path,
        {
            "conf/other.toml": '[tool.wnlint]\nextend-exclude = ["skip/*"]\n',
            "skip/m.py": LEGACY,
            "conf/skip/m.py": LEGACY,
        },
    )
    result = run_cli("check", "--config", "conf/other.toml", ".", cwd=tmp_path)
    assert set(codes_by_file(result.stdout)) == {"conf/skip/m.py"}


def test_the_engine_codes_stay_on_when_a_selection_is_given(tmp_path):
    write(tmp_path, {"m.py": LEGACY + "\ndef (:\n"})
    for args in (["--select", "WN301"], ["--extend-select", "WN3"]):
        result = run_cli("check", *args, "m.py", cwd=tmp_path)
        assert codes_by_file(result.stdout) == {"m.py": {"WN001"}}, args
    write(tmp_path, {"pyproject.toml": '[tool.wnlint]\nselect = ["WN3"]\n'})
    result = run_cli("check", "m.py", cwd=tmp_path)
    assert codes_by_file(result.stdout) == {"m.py": {"WN001"}}


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        # An engine code alone selects no rule, but extend-select adds some.
        ('select = ["WN001"]\nextend-select = ["WN3"]', {"WN301"}),
        # Codes are read as the command line reads them, in any case.
        ('ignore = ["wn3"]', {"WN106"}),
    ],
)
def test_selection_edge_cases(tmp_path, table, codes):
    write(tmp_path, {"pyproject.toml": f"[tool.wnlint]\n{table}\n", "m.py": BOTH})
    result = run_cli("check", "m.py", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert codes_by_file(result.stdout)["m.py"] == codes


def test_per_file_ignores_of_two_configurations_do_not_mix(tmp_path):
    # The same glob in two files, ignoring different codes.
    write(
        tmp_path,
        {
            "a/pyproject.toml": '[tool.wnlint.per-file-ignores]\n"x_*.py" = ["WN301"]\n',
            "b/pyproject.toml": '[tool.wnlint.per-file-ignores]\n"x_*.py" = ["WN106"]\n',
            "a/x_1.py": BOTH,
            "b/x_1.py": BOTH,
        },
    )
    found = codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout)
    assert found == {"a/x_1.py": {"WN106"}, "b/x_1.py": {"WN301"}}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("jobs = true", "tool.wnlint.jobs: expected a whole number"),
        ('extend-exclude = "gen"', "tool.wnlint.extend-exclude: expected a list"),
        ('exclude = ["gen", 1]', "tool.wnlint.exclude: expected a list of strings"),
        ("[tool]\nwnlint = 1", "tool.wnlint must be a table"),
    ],
)
def test_more_broken_values_are_usage_errors(tmp_path, table, message):
    if not table.startswith("["):
        table = "[tool.wnlint]\n" + table
    write(tmp_path, {"pyproject.toml": table + "\n", "m.py": LEGACY})
    result = run_cli("check", "m.py", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{tmp_path / 'pyproject.toml'}: {message}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_nested_configuration_in_a_parallel_run(tmp_path, monkeypatch):
    """Read before the workers start: a usage error, never a worker's crash."""
    from wnlint.engine import runner

    monkeypatch.setattr(runner, "PARALLEL_MIN_FILES", 2)
    files = {f"m{i}.py": LEGACY for i in range(4)}
    files.update({f"deep/m{i}.py": LEGACY for i in range(4)})
    files["deep/pyproject.toml"] = "[tool.wnlint]\nnope = 1\n"
    write(tmp_path, files)
    # Named, not walked: no walk reads deep/'s configuration first.
    named = sorted(name for name in files if name.endswith(".py"))
    for args in (["."], named):
        result = run_cli("check", "-j", "2", *args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "deep/pyproject.toml: unknown key 'tool.wnlint.nope'" in result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr


def test_named_files_that_are_excluded_themselves(tmp_path):
    """A named file is checked even when its own name is excluded or git
    ignores it; --force-exclude skips it then."""
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.wnlint]\nextend-exclude = ["skip_*.py"]\n',
            ".gitignore": "ignored.py\n",
            "skip_me.py": LEGACY,
            "ignored.py": LEGACY,
        },
    )
    (tmp_path / ".git").mkdir()
    assert set(codes_by_file(run_cli("check", ".", cwd=tmp_path).stdout)) == set()
    for name in ("skip_me.py", "ignored.py"):
        assert run_cli("check", name, cwd=tmp_path).returncode == 1, name
        result = run_cli("check", "--force-exclude", name, cwd=tmp_path)
        assert (result.returncode, result.stdout) == (0, ""), name


def test_gitignore_precedence_and_syntax(tmp_path):
    from wnlint.cli.gitignore import GitIgnore

    write(
        tmp_path,
        {
            ".git/info/exclude": "excluded.py\nkept_by_gitignore.py\n",
            ".gitignore": (
                "# a comment line, not a pattern\n"
                "gen_*.py\n"
                "!kept_by_gitignore.py\n"
                "build/\n"
                "cache/**\n"
                "docs/*.py\n"
                "\\!bang.py\n"
                "\\#hash.py\n"
            ),
            "sub/.gitignore": "!gen_keep.py\n",
        },
    )
    ignore = GitIgnore()

    def ignored(name: str, is_dir: bool = False) -> bool:
        return ignore.ignored(str(tmp_path / name), is_dir)

    assert ignored("excluded.py") and not ignored("kept_by_gitignore.py")
    # A deeper .gitignore takes precedence over the root's.
    assert ignored("sub/gen_x.py") and not ignored("sub/gen_keep.py")
    # Directory-only in a file that also has negations.
    assert ignored("build", is_dir=True) and not ignored("build")
    # A trailing `**` matches everything inside, at any depth.
    assert ignored("cache/a/b/c.py") and not ignored("cache", is_dir=True)
    # Git's `*` stays within one path component.
    assert ignored("docs/a.py") and not ignored("docs/x/a.py")
    # Comments are not patterns; `\!` and `\#` are literal.
    assert not ignored("# a comment line, not a pattern")
    assert ignored("!bang.py") and not ignored("bang.py")
    assert ignored("#hash.py")
