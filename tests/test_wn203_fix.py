"""WN203's fix without torch: what it rewrites, what it declines and why,
the repaired arms read back as plain-module code, and the edit of an init
helper that lives in a sibling module of the run (``fixing.elsewhere``).
The pair ``fixtures/fix/wn203_*.py`` is checked by ``test_fix_pairs.py``
and in torch by ``test_runtime_wn203_fix.py``."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from conftest import FIXTURES, run_cli

from wnlint.engine.linter import Linter, select_rules
from wnlint.fixing.elsewhere import _made_already, _relocated
from wnlint.fixing.fixer import fix_bytes
from wnlint.rules.fixes import Edit, Source

HEAD = """\
import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import weight_norm
from torch.nn.utils import weight_norm as legacy_weight_norm
"""


def findings(body: str, code: str = "WN203") -> list[int]:
    source = HEAD + textwrap.dedent(body)
    found = Linter(select_rules([code])).lint_bytes(source.encode(), "m.py")
    return [d.line - HEAD.count("\n") for d in found]


def only_finding(body: str):
    """The one WN203 finding ``check`` reports in ``body``."""
    source = HEAD + textwrap.dedent(body)
    (found,) = Linter(select_rules(["WN203"])).lint_bytes(source.encode(), "m.py")
    return found


def fixed(body: str, select: str = "WN203"):
    source = HEAD + textwrap.dedent(body)
    linter = Linter(select_rules([select]))
    result = fix_bytes(source.encode(), "m.py", linter, unsafe=True)
    return result.fixed.decode()[len(HEAD) :], result


# -- the arms a repair writes are plain-module code -----------------------------


@pytest.mark.parametrize(
    "test",
    [
        'not torch.nn.utils.parametrize.is_parametrized(conv, "weight")',
        "not torch.nn.utils.parametrize.is_parametrized(conv)",
        '"weight" not in getattr(conv, "parametrizations", ())',
        'not hasattr(conv, "parametrizations")',
    ],
)
def test_a_write_for_modules_the_new_api_did_not_norm_is_not_reported(test):
    body = f"""\
    conv = weight_norm(nn.Conv1d(2, 2, 1))
    if {test}:
        nn.init.normal_(conv.weight)
    """
    assert findings(body) == []


def test_a_test_for_one_api_leaves_the_other_reported():
    body = """\
    conv = weight_norm(nn.Conv1d(2, 2, 1))
    if not hasattr(conv, "weight_g"):
        nn.init.normal_(conv.weight)
    old = legacy_weight_norm(nn.Conv1d(2, 2, 1))
    if not torch.nn.utils.parametrize.is_parametrized(old, "weight"):
        nn.init.normal_(old.weight)
    """
    assert findings(body) == [3, 6]


def test_a_test_on_another_module_says_nothing_of_this_one():
    body = """\
    conv = weight_norm(nn.Conv1d(2, 2, 1))
    other = nn.Conv1d(2, 2, 1)
    if not torch.nn.utils.parametrize.is_parametrized(other, "weight"):
        nn.init.normal_(conv.weight)
    """
    assert findings(body) == [4]


def test_a_hook_whose_write_is_for_plain_modules_is_not_reported():
    body = """\
    def init(m):
        if isinstance(m, nn.Conv1d):
            if torch.nn.utils.parametrize.is_parametrized(m, "weight"):
                m.weight = nn.init.normal_(m.weight.detach().clone())
            elif hasattr(m, "weight_g"):
                nn.init.normal_(m.weight_v.data)
            else:
                nn.init.normal_(m.weight)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = weight_norm(nn.Conv1d(2, 2, 1))
            self.b = legacy_weight_norm(nn.Conv1d(2, 2, 1))
            self.apply(init)
    """
    assert findings(body) == []


# -- what the fix writes and declines --------------------------------------------


def test_the_new_api_alone_gets_one_arm():
    body = """\
    conv = weight_norm(nn.Conv1d(2, 2, 1))
    conv.weight.data.uniform_(-0.1, 0.1)
    """
    text, result = fixed(body)
    assert text == textwrap.dedent(
        """\
        conv = weight_norm(nn.Conv1d(2, 2, 1))
        if torch.nn.utils.parametrize.is_parametrized(conv, "weight"):
            conv.weight = conv.weight.detach().clone().uniform_(-0.1, 0.1)
        else:
            conv.weight.data.uniform_(-0.1, 0.1)
        """
    )
    assert result.remaining == []


def test_the_legacy_api_gets_both_arms_and_the_norm_of_its_dimension():
    body = """\
    conv = legacy_weight_norm(nn.Conv1d(2, 2, 1))
    conv.weight.data.div_(4)
    """
    text, _ = fixed(body)
    assert 'elif hasattr(conv, "weight_g"):\n    conv.weight_g.data.div_(4)' in text
    assert "conv.parametrizations.weight.original0.data.div_(4)" in text


@pytest.mark.parametrize(
    ("write", "reason", "from_the_tree"),
    [
        ("conv.weight.data = conv.weight.data.renorm(2, 0, 1.0)", "stale weight", 1),
        ("conv.weight.data.add_(1.0)", "reads the stale weight", 1),
        ("x = conv.weight.data.normal_()", "result is used", 1),
        ("y = 1; conv.weight.data.normal_()", "shares its line", 0),
    ],
)
def test_writes_that_cannot_be_repaired_honestly_are_declined(
    write, reason, from_the_tree
):
    body = f"""\
    conv = weight_norm(nn.Conv1d(2, 2, 1))
    {write}
    """
    text, result = fixed(body)
    assert text == textwrap.dedent(body)
    assert any(reason in note for note in result.notes), result.notes
    assert [d.code for d in result.remaining] == ["WN203"]
    # What the tree decides, `check` knows: no `[*]`. A line shared with
    # other code is known only from the text the fix is built on.
    found = only_finding(body)
    assert found.unfixable == bool(from_the_tree)


def test_a_write_inside_a_helper_the_init_calls_is_declined():
    body = """\
    def careful_normal_(tensor, std=0.02):
        if not getattr(tensor, "_loaded", False):
            nn.init.normal_(tensor, std=std)
        return tensor

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = weight_norm(nn.Conv1d(2, 2, 1))
            self.apply(self._init)

        def _init(self, m):
            if isinstance(m, M):
                careful_normal_(m.conv.weight)
    """
    text, result = fixed(body)
    assert text == textwrap.dedent(body)
    reason = "written inside `careful_normal_`, which may skip it"
    assert any(reason in n for n in result.notes), result.notes
    # `check` knows it without building the fix: no `[*]`, not counted.
    found = only_finding(body)
    assert found.unfixable


def test_a_write_by_torchs_init_is_counted_fixable():
    body = """\
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = weight_norm(nn.Conv1d(2, 2, 1))
            nn.init.normal_(self.conv.weight, std=0.02)
    """
    found = only_finding(body)
    assert not found.unfixable


def test_a_later_migration_of_a_repaired_legacy_file_says_why_it_declines():
    """Repaired with WN203 alone, a legacy file holds both arms: its
    ``weight_g`` reads may then belong to either API, so a later migration
    is left to the user, with the reason (in one run with WN301, the
    migration goes first and only the new API's arm is written: below)."""
    body = """\
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = legacy_weight_norm(nn.Conv1d(2, 2, 1))
            nn.init.normal_(self.conv.weight)
    """
    once, _ = fixed(body)  # WN203 alone: both arms
    assert 'elif hasattr(self.conv, "weight_g"):' in once
    source = (HEAD + once).encode()
    result = fix_bytes(source, "m.py", Linter(select_rules()), unsafe=True)
    assert [d.code for d in result.remaining] == ["WN301"]
    assert any("weight_g/weight_v reads" in note for note in result.notes)
    assert findings(once) == []


def test_with_the_migration_in_the_run_the_new_api_arm_alone_is_written():
    body = """\
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = legacy_weight_norm(nn.Conv1d(2, 2, 1))
            nn.init.normal_(self.conv.weight)
    """
    source = (HEAD + textwrap.dedent(body)).encode()
    result = fix_bytes(source, "m.py", Linter(select_rules()), unsafe=True)
    text = result.fixed.decode()
    assert "weight_g" not in text and "is_parametrized(self.conv" in text
    assert result.remaining == []


def test_the_fix_is_unsafe_only():
    body = """\
    conv = weight_norm(nn.Conv1d(2, 2, 1))
    nn.init.zeros_(conv.weight)
    """
    source = (HEAD + textwrap.dedent(body)).encode()
    result = fix_bytes(source, "m.py", Linter(select_rules(["WN203"])), unsafe=False)
    assert result.fixed == source and result.hidden == 1


# -- an init helper in a sibling module -------------------------------------------


@pytest.fixture
def package(tmp_path):
    # model.py imports wn203_package.layers by that name
    shutil.copytree(FIXTURES / "wn203_package", tmp_path / "wn203_package")
    return tmp_path / "wn203_package"


def test_the_helper_in_a_sibling_is_edited_when_the_run_holds_it(package):
    utils = (package / "utils.py").read_text()
    model = (package / "model.py").read_text()
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=package)
    assert result.returncode == 0, result.stderr
    assert "model.py: WN203 on line 33 fixed in utils.py" in result.stderr
    assert (package / "model.py").read_text() == model
    assert (
        utils
        != (package / "utils.py").read_text()
        == textwrap.dedent(
            '''\
        """The init function the model applies to every submodule."""

        import torch.nn as nn


        def init_weights(m):
            if isinstance(m, nn.Conv1d):
                if "weight" in getattr(m, "parametrizations", ()):
                    m.weight = nn.init.trunc_normal_(m.weight.detach().clone(), std=0.02)
                else:
                    nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.constant_(m.bias, 0)
        '''
        )
    )
    check = run_cli("check", "--no-cache", ".", cwd=package)
    assert check.returncode == 0 and check.stdout == ""
    again = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=package)
    assert again.stdout == ""


def test_the_notes_name_the_line_check_reports(tmp_path):
    """The model's own migration merges two import lines into one: the
    notes still give the finding's line as ``check`` reports it, not its
    line in the migrated text (AcademiCodec's ``models.py``)."""
    (tmp_path / "utils.py").write_text(
        "import torch.nn as nn\n\n\ndef init_weights(m):\n"
        "    if isinstance(m, nn.Conv1d):\n        nn.init.normal_(m.weight, 0.0, 0.01)\n"
    )
    (tmp_path / "model.py").write_text(
        "import torch.nn as nn\n"
        "from torch.nn.utils import remove_weight_norm\n"
        "from torch.nn.utils import weight_norm\n\n"
        "from utils import init_weights\n\n\n"
        "class Model(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = weight_norm(nn.Conv1d(2, 2, 3))\n"
        "        self.conv.apply(init_weights)\n\n"
        "    def remove(self):\n"
        "        remove_weight_norm(self.conv)\n"
    )
    check = run_cli("check", "--no-cache", "model.py", cwd=tmp_path)
    assert "model.py:12:9: WN203" in check.stdout
    alone = run_cli("fix", "--unsafe-fixes", "--diff", "model.py", cwd=tmp_path)
    assert "WN203 on line 12 is fixed in utils.py, which this run" in alone.stderr
    for mode in (["--diff"], []):
        result = run_cli("fix", "--unsafe-fixes", *mode, ".", cwd=tmp_path)
        assert "model.py: WN203 on line 12 fixed in utils.py" in result.stderr


def test_line_before_maps_a_fixed_line_to_the_original():
    from wnlint.fixing.diff import line_before

    original = b"a\nb\nc\nd\n"
    assert [line_before(original, b"a\nx\nd\n", n) for n in (1, 2, 3)] == [1, 2, 4]
    assert [line_before(original, b"a\nb\nnew\nc\nd\n", n) for n in (3, 4)] == [3, 3]
    assert line_before(b"a\rb\r\nc\n", b"a\rc\n", 2) == 3  # a lone \r ends a line
    assert line_before(original, original, 3) == 3


def test_a_sibling_outside_the_run_is_never_edited(package):
    utils = (package / "utils.py").read_text()
    result = run_cli("fix", "--unsafe-fixes", "model.py", cwd=package)
    assert (package / "utils.py").read_text() == utils
    assert "which this run does not fix: name it too" in result.stderr
    assert "1 remaining" in result.stderr


def test_diff_shows_the_sibling_and_writes_nothing(package):
    before = {p.name: p.read_bytes() for p in package.glob("*.py")}
    result = run_cli("fix", "--unsafe-fixes", "--diff", ".", cwd=package)
    assert "+++ b/utils.py" in result.stdout
    assert {p.name: p.read_bytes() for p in package.glob("*.py")} == before


def test_the_sibling_is_edited_after_its_own_fixes_moved_it(package):
    """``utils.py`` also applies the legacy API (bigvgan's layout): its own
    migration runs first, and the helper's edit lands where the lines went."""
    utils = package / "utils.py"
    utils.write_text(
        '"""Helpers."""\n\nimport torch.nn as nn\n'
        "from torch.nn.utils import weight_norm\n\n\n"
        "def wn_conv(*args):\n    return weight_norm(nn.Conv1d(*args))\n\n\n"
        + utils.read_text().split("\n\n\n", 1)[1]
    )
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=package)
    assert "fixed in utils.py" in result.stderr, result.stderr
    text = utils.read_text()
    assert "weight_norm(nn.Conv1d" in text and "import parametrizations" in text
    assert '"weight" in getattr(m, "parametrizations", ())' in text  # no torch
    assert run_cli("check", "--no-cache", ".", cwd=package).stdout == ""


def test_a_helper_its_own_file_repairs_counts_for_the_sibling_too(package):
    """``utils.py`` applies ``init_weights`` after weight norm itself
    (whisper-vits-svc's ``bigv.py``): its own fix repairs the helper, which
    repairs ``model.py``'s finding too; the run says so, and nothing is left
    to fix again."""
    utils = package / "utils.py"
    utils.write_text(
        utils.read_text() + "\n\nclass Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(2, 2, 3))\n"
        "        self.apply(init_weights)\n"
    )
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=package)
    assert "model.py: WN203 on line 33 fixed in utils.py" in result.stderr
    assert "not fixed" not in result.stderr and "0 remaining" in result.stderr
    assert run_cli("check", "--no-cache", ".", cwd=package).stdout == ""


def test_an_edit_made_already_is_its_repair_where_the_old_line_was():
    base = Source("def f(m):\n    m.w.normal_()\n")
    edit = Edit(10, 28, "    if p:\n        m.w.normal_()\n", (2, 0, 2, 17), True)
    repaired = Source("import y\ndef f(m):\n    if p:\n        m.w.normal_()\n")
    assert _made_already(edit, base, repaired)
    assert not _made_already(edit, base, base)
    again = Source(repaired.text + "def g(m):\n    m.w.normal_()\n")
    assert not _made_already(edit, base, again)  # an unrepaired copy is left


def test_relocation_finds_the_lines_again_or_gives_up():
    base = Source("a = 1\nx.weight.data.normal_()\n")
    edit = Edit(6, 24, "NEW\n", (2, 0, 2, 23), whole_lines=True)
    moved = _relocated(edit, base, Source("import y\na = 1\nx.weight.data.normal_()\n"))
    assert moved is not None and (moved.start, moved.end) == (15, 39)
    assert _relocated(edit, base, Source("a = 2\n")) is None
    twice = Source("x.weight.data.normal_()\nb = 1\nc = 1\nx.weight.data.normal_()\n")
    assert _relocated(edit, base, twice) is None  # neither at line 2 nor once


def test_machine_formats_show_no_edits_that_are_to_another_file(package):
    result = run_cli("check", "--output-format", "json", "model.py", cwd=package)
    (finding,) = json.loads(result.stdout)
    assert finding["code"] == "WN203" and finding["fix"] is None


def test_a_repaired_hook_beside_a_migrated_module_is_not_taken_for_a_name(tmp_path):
    """descript-audio-codec's layout: the hook's file is fixed (and written)
    while the layers it reaches are still legacy, so it gets both arms; the
    layers are migrated next. Its ``hasattr(m, "weight_g")`` is no
    state-dict key by name: no migration warning."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "layers.py").write_text(
        "import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n\n\n"
        "def WNConv1d(*args):\n    return weight_norm(nn.Conv1d(*args))\n"
    )
    (tmp_path / "pkg" / "a_model.py").write_text(  # fixed before layers.py
        textwrap.dedent(
            """\
            import torch
            import torch.nn as nn

            from .layers import WNConv1d


            def init_weights(m):
                if isinstance(m, nn.Conv1d):
                    nn.init.trunc_normal_(m.weight, std=0.02)


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = WNConv1d(2, 2, 1)
                    self.apply(init_weights)
            """
        )
    )
    result = run_cli("fix", "--unsafe-fixes", "--jobs", "1", "pkg", cwd=tmp_path)
    assert "named as strings" not in result.stderr, result.stderr
    assert "0 remaining" in result.stderr
    assert (
        'elif hasattr(m, "weight_g"):' in (tmp_path / "pkg" / "a_model.py").read_text()
    )
    assert "parametrizations" in (tmp_path / "pkg" / "layers.py").read_text()


@pytest.mark.parametrize(
    ("imports", "torch", "added"),
    [
        ("import torch as th\n", "th", False),
        ("import torch.nn.functional as F\n", "torch", True),
    ],
)
def test_the_legacy_arm_spells_torch_as_the_file_binds_it(imports, torch, added):
    source = imports + textwrap.dedent(
        """\
        import torch.nn as nn
        from torch.nn.utils import weight_norm

        conv = weight_norm(nn.Conv1d(2, 2, 1))  # noqa: WN301
        conv.weight.data.normal_()
        """
    )
    linter = Linter(select_rules(["WN203", "WN301"]))
    text = fix_bytes(source.encode(), "m.py", linter, unsafe=True).fixed.decode()
    assert f"{torch}.norm_except_dim(conv.weight_v.data" in text
    assert text.startswith("import torch\n") is added
