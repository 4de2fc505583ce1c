"""WN203 through script-layout imports (``from utils import init_weights``
in a repository run as scripts, HiFi-GAN's and VITS's layout): an absolute
import is resolved as Python does for a script in the file's directory
(that directory first on ``sys.path``), then from each directory above
it up to the project's root (the nearest directory above with
``pyproject.toml``, ``setup.py``, ``setup.cfg`` or ``.git``). Nothing under ``site-packages`` is followed, nothing is
imported or run."""

from __future__ import annotations

import textwrap
from collections import Counter

import pytest
from conftest import FIXTURES, markers, run_cli

from wnlint.engine.linter import Linter, select_rules

SCRIPTS = FIXTURES / "wn203_scripts"

INIT = """\
import torch.nn as nn


def init_weights(m):
    if isinstance(m, nn.Conv1d):
        nn.init.normal_(m.weight, 0.0, 0.01)
"""

PLAIN_INIT = """\
def init_weights(m):
    pass
"""

SCRIPT = """\
import torch.nn as nn
from torch.nn.utils.parametrizations import weight_norm
from utils import init_weights


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(2, 2, 1))
        self.conv.apply(init_weights)
"""


def wn203(path) -> list[int]:
    return [d.line for d in Linter(select_rules(["WN203"])).lint_file(str(path))]


def test_the_fixture_findings_are_its_markers():
    found = Linter(select_rules()).lint_file(str(SCRIPTS / "models.py"))
    assert Counter((d.line, d.code) for d in found) == markers(SCRIPTS / "models.py")
    assert markers(SCRIPTS / "models.py")
    assert Linter(select_rules()).lint_file(str(SCRIPTS / "utils.py")) == []


def write(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_a_module_beside_the_script(tmp_path):
    write(tmp_path, {"utils.py": INIT, "train.py": SCRIPT})
    assert wn203(tmp_path / "train.py") == [10]


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.py", "setup.cfg", ".git"])
def test_a_module_at_the_project_root(tmp_path, marker):
    write(tmp_path, {"utils.py": INIT, "models/gen.py": SCRIPT})
    assert wn203(tmp_path / "models" / "gen.py") == []  # no root: not found
    (tmp_path / marker).mkdir() if marker == ".git" else (tmp_path / marker).touch()
    assert wn203(tmp_path / "models" / "gen.py") == [10]


def test_the_module_beside_the_script_comes_first(tmp_path):
    """Python finds ``utils`` in the script's directory before the root's."""
    write(
        tmp_path,
        {
            "pyproject.toml": "",
            "utils.py": INIT,
            "models/utils.py": PLAIN_INIT,
            "models/gen.py": SCRIPT,
        },
    )
    assert wn203(tmp_path / "models" / "gen.py") == []
    (tmp_path / "models" / "utils.py").unlink()
    assert wn203(tmp_path / "models" / "gen.py") == [10]


def test_a_module_in_a_directory_between_the_file_and_the_root(tmp_path):
    """A monorepo whose models are run as scripts from their own directory
    (DeepLearningExamples' ``HiFiGAN/`` with ``common/utils.py``, imported
    as ``common.utils`` from ``HiFiGAN/hifigan/models.py``): the nearest
    directory above that holds the module is where Python finds it."""
    script = SCRIPT.replace("from utils import", "from common.utils import")
    write(
        tmp_path,
        {
            "Speech/App/common/__init__.py": "",
            "Speech/App/common/utils.py": INIT,
            "Speech/App/vocoder/models.py": script,
            "Speech/common/utils.py": PLAIN_INIT,  # farther up: not the one
            "Other/common/utils.py": INIT,  # not above the file
        },
    )
    models = tmp_path / "Speech" / "App" / "vocoder" / "models.py"
    assert wn203(models) == []  # no root: only beside the file
    (tmp_path / ".git").mkdir()
    assert wn203(models) == [10]
    (tmp_path / "Speech" / "App" / "common" / "utils.py").unlink()
    assert wn203(models) == []  # Speech/common/utils.py's init writes nothing
    (tmp_path / "Speech" / "common" / "utils.py").unlink()
    assert wn203(models) == []  # Other/ is no directory above the file
    result = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    assert result.stdout == ""


def test_nothing_under_site_packages_is_followed(tmp_path):
    site = tmp_path / "lib" / "site-packages"
    write(site, {"utils.py": INIT, "train.py": SCRIPT})
    assert wn203(site / "train.py") == []


def test_a_module_that_does_not_exist_is_no_finding(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "train.py": SCRIPT})
    assert wn203(tmp_path / "train.py") == []


def test_a_script_without_weight_norm_is_read_through_its_layers(tmp_path):
    """The prefilter and the analysis resolve the import alike: a script that
    neither applies weight norm nor imports from a package (only ``from
    layers import WNConv1d``) is still read."""
    write(
        tmp_path,
        {
            "layers.py": """\
                import torch.nn as nn
                from torch.nn.utils.parametrizations import weight_norm


                def WNConv1d(*args):
                    return weight_norm(nn.Conv1d(*args))
                """,
            "utils.py": INIT,
            "train.py": """\
                import torch.nn as nn
                from layers import WNConv1d
                from utils import init_weights


                class Net(nn.Module):
                    def __init__(self):
                        super().__init__()
                        self.conv = WNConv1d(2, 2, 1)
                        self.apply(init_weights)
                """,
        },
    )
    assert wn203(tmp_path / "train.py") == [10]
    result = run_cli("check", "--no-cache", "train.py", cwd=tmp_path)
    assert "train.py:10:9: WN203" in result.stdout


def test_fix_repairs_the_helper_beside_the_scripts(tmp_path):
    write(tmp_path, {"utils.py": INIT, "train.py": SCRIPT})
    result = run_cli("fix", "--unsafe-fixes", ".", cwd=tmp_path)
    assert "fixed in utils.py" in result.stderr, result.stderr
    assert 'getattr(m, "parametrizations", ())' in (tmp_path / "utils.py").read_text()
    assert run_cli("check", "--no-cache", ".", cwd=tmp_path).stdout == ""


HELPER_SCRIPT = """\
import torch.nn as nn
from torch.nn.utils.parametrizations import weight_norm
from nets import prepare


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(2, 2, 1))
        prepare(self)
"""


@pytest.mark.parametrize(
    ("helper", "found"),
    [
        # pix2pix's init helper: what it is handed runs `.apply(init_func)`.
        (
            """\
            import torch.nn as nn


            def prepare(net):
                def init_func(m):
                    if hasattr(m, "weight"):
                        nn.init.normal_(m.weight.data, 0.0, 0.02)

                net.apply(init_func)
            """,
            [10],
        ),
        # Writes `.data`, but never `.apply(`: not the helper looked for.
        (
            """\
            def prepare(net):
                net.cache.data = None
            """,
            [],
        ),
    ],
    ids=["applies", "no apply"],
)
def test_a_sibling_helper_is_parsed_only_when_it_can_apply(tmp_path, helper, found):
    from wnlint.facts import definitions

    write(
        tmp_path, {"pyproject.toml": "", "nets.py": helper, "train.py": HELPER_SCRIPT}
    )
    assert wn203(tmp_path / "train.py") == found
    loaded = str((tmp_path / "nets.py").resolve()) in definitions._FILES
    assert loaded == bool(found)
