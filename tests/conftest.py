"""Shared test helpers: the fixture files, their inline markers, the CLI run
in this process, a device.

Fixture markers are trailing comments on the line a finding is (or would
be) reported on; tests read them with ``markers``:

``# expect: WN301`` or ``# expect: WN202, WN301``
    ``wnlint check`` reports these codes on this line, and nothing is
    reported on a line without a marker.
``# todo-expect: WN101``
    a known gap: a real bug that the rule's "Known problems" admits it
    misses. It must stay silent; once the rule catches it, the marker
    becomes ``expect``.
``WN301 (unfixed: REASON)``, as a code inside an ``expect`` marker
    ``wnlint fix --unsafe-fixes`` leaves this finding on purpose; REASON
    says why (no parentheses in it). Findings of codes with a fix and no
    such mark must be fixed.

A comment that names one of these markers but does not follow this
grammar raises ``ValueError``, so a typo cannot silently drop an
expectation.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import pwd
import re
import subprocess
import sys
import tokenize
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
#: A code and a prefix that no code can have, for the tests of unknown
#: ones: rule codes are WN[1-9]NN and the engine's own WN00N
#: (``test_registry.py`` checks both, and that these stay unknown).
UNKNOWN_CODE = "WN099"
UNKNOWN_PREFIX = "WN09"

_REASON = r" \(unfixed: [^()\s][^()]*\)"
_CODE = rf"WN\d{{3}}(?:{_REASON})?"
_MARKER = re.compile(rf"(?P<kind>todo-expect|expect): (?P<codes>{_CODE}(?:, {_CODE})*)")
_ITEM = re.compile(rf"(?P<code>WN\d{{3}})(?P<unfixed>{_REASON})?")
_MENTION = re.compile(r"\b(?:todo-expect|expect|unfixed)\b", re.IGNORECASE)
KINDS = ("expect", "todo-expect", "unfixed")


def run_module(
    module: str, *args: str, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """``python -m <module> <args>`` in ``cwd``, output captured as text.

    A new interpreter costs about half a second: keep this for the tests of
    real entry points, and use ``run_cli`` for the command's behaviour.
    """
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``wnlint <args>`` run in this process, in ``cwd``, output captured.

    The result reads like ``run_module``'s; argparse's own exits
    (``--help``, ``--version``) become the return code. The working
    directory is restored however the call ends.
    """
    from wnlint.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(bool(exc.code))
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(
        ["wnlint", *args], code, out.getvalue(), err.getvalue()
    )


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*.py"))


def markers(path: Path, kind: str = "expect") -> Counter:
    """(line, code) pairs of one kind of marker in a fixture's comments:
    ``expect``, ``todo-expect``, or ``unfixed`` (the expected findings that
    carry ``(unfixed: ...)``); see the module docstring.

    Comments are read with ``tokenize``, so a docstring that mentions the
    marker syntax is not a marker.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown marker kind: {kind!r}")
    found: Counter = Counter()
    source = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        for part in tok.string.split("#")[1:]:
            if not _MENTION.search(part):
                continue
            match = _MARKER.fullmatch(part.strip())
            if match is None or (
                match["kind"] == "todo-expect" and "(unfixed:" in match["codes"]
            ):
                raise ValueError(f"{path}:{tok.start[0]}: malformed marker: #{part}")
            for item in _ITEM.finditer(match["codes"]):
                if kind == match["kind"] or (kind == "unfixed" and item["unfixed"]):
                    found[(tok.start[0], item["code"])] += 1
    return found


@contextlib.contextmanager
def imported_from(directory: Path, module: str, tops: tuple[str, ...]):
    """``module`` imported with ``directory`` first on ``sys.path``, as a
    script run there (or a package under it) imports it; the top-level
    modules ``tops`` are forgotten afterwards (runtime tests)."""
    sys.path.insert(0, str(directory))
    try:
        yield importlib.import_module(module)
    finally:
        sys.path.remove(str(directory))
        for name in [n for n in sys.modules if n.split(".")[0] in tops]:
            del sys.modules[name]


def load_fixture(name: str) -> ModuleType:
    """Import ``fixtures/<name>.py`` (``name`` may be ``fix/wn101_after``) as
    a module (runtime tests)."""
    path = FIXTURES / f"{name}.py"
    module_name = "wnlint_fixture_" + name.replace("/", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _have_torch() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


HAVE_TORCH = _have_torch()
NO_TORCH_REASON = (
    "torch is not installed: the runtime tests need it "
    "(pip install torch, then pip install -e '.[test]')"
)


def _imports_torch(path: Path) -> bool:
    """Whether a test module imports torch at its top level."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(name.split(".")[0] == "torch" for name in names):
            return True
    return False


class _SkippedWithoutTorch(pytest.Module):
    """A test module that needs torch, collected as one skip with a reason
    instead of an ImportError at collection."""

    def collect(self):
        pytest.skip(f"{self.path.name}: {NO_TORCH_REASON}", allow_module_level=True)


def pytest_pycollect_makemodule(module_path, parent):
    """Without torch, the runtime tests (``test_runtime_*.py``) and any test
    module that imports torch are skipped; the static suite still runs."""
    if HAVE_TORCH:
        return None
    if module_path.name.startswith("test_runtime_") or _imports_torch(module_path):
        return _SkippedWithoutTorch.from_parent(parent, path=module_path)
    return None


@pytest.fixture(scope="session")
def device():
    """CUDA when this machine has it, otherwise the CPU."""
    if not HAVE_TORCH:
        pytest.skip(NO_TORCH_REASON)
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pytest_addoption(parser):
    parser.addoption(
        "--update-fixtures",
        action="store_true",
        help="rewrite fixtures/fix/*_after.py from their *_before.py with "
        "`wnlint fix --unsafe-fixes` (review the diff before committing)",
    )


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory, monkeypatch):
    """Each test gets a cache of its own (``check`` caches by default):
    results never leak from one test into another, and runs inside one test
    still go through the cache. The cache's own tests set their own."""
    monkeypatch.setenv("WNLINT_CACHE_DIR", str(tmp_path_factory.mktemp("wnlint-cache")))


def unprivileged_user() -> pwd.struct_passwd | None:
    """``nobody``, when this process is root and can act as it."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


@contextlib.contextmanager
def as_user(user: pwd.struct_passwd):
    """Run the block with ``user``'s effective ids (root keeps its real id,
    so it can switch back)."""
    os.setegid(user.pw_gid)
    os.seteuid(user.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


#: One legacy-API finding (WN301, a warning with an unsafe fix).
LEGACY_SNIPPET = (
    "import torch.nn as nn\nconv = nn.utils.weight_norm(nn.Conv1d(1, 1, 1))\n"
)
#: One bug finding (WN106, a parameter created in forward), an error.
IN_FORWARD_SNIPPET = (
    "import torch.nn as nn\n\n"
    "class M(nn.Module):\n"
    "    def forward(self, x):\n"
    "        self.w = nn.Parameter(x)\n"
    "        return x\n"
)


#: VITS' ``load_checkpoint`` as its descendants copy it (MeloTTS, RVC,
#: GPT-SoVITS, HierSpeech++): every key of the model filled from the
#: checkpoint, the model's own value standing in for a missing one.
VITS_LOADER = """\
import torch


def load_checkpoint(checkpoint_path, model):
    saved_state_dict = torch.load(checkpoint_path, map_location="cpu")["model"]
    if hasattr(model, "module"):
        state_dict = model.module.state_dict()
    else:
        state_dict = model.state_dict()
    new_state_dict = {}
    for k, v in state_dict.items():
        try:
            new_state_dict[k] = saved_state_dict[k]
        except KeyError:
            new_state_dict[k] = v
    if hasattr(model, "module"):
        model.module.load_state_dict(new_state_dict, strict=False)
    else:
        model.load_state_dict(new_state_dict)
"""


#: A file that removes legacy weight norm and applies none (VALL-E's
#: tokenizer removes it from EnCodec's modules, which keep the legacy API).
#: A model that reshapes each checkpoint entry to its own tensor's shape
#: in a ``load_state_dict`` override (DeepLearningExamples' HiFi-GAN): it
#: reads its own state by each checkpoint key, in a loop and in a
#: comprehension; the reads after a test of the key are near misses.
KEYED_OVERRIDE = """\
import torch.nn as nn
from torch.nn.utils import weight_norm


class Vocoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = weight_norm(nn.Conv1d(2, 2, 3))

    def forward(self, x):
        return self.conv(x)

    def load_state_dict(self, state_dict, strict=True):
        current = self.state_dict()
        fixed = {}
        for key in state_dict:
            fixed[key] = state_dict[key].reshape(current[key].shape)
        return super().load_state_dict(fixed, strict=strict)


class Reshaped(Vocoder):
    def load_state_dict(self, state_dict, strict=True):
        own = self.state_dict()
        sd = {k: v.view(own[k].shape) for k, v in state_dict.items()}
        return super().load_state_dict(sd, strict=strict)


class Tested(Vocoder):
    def load_state_dict(self, state_dict, strict=True):
        own = self.state_dict()
        for key in state_dict:
            if key in own and own[key].dim() != state_dict[key].dim():
                state_dict[key] = state_dict[key].view(own[key].shape)
        return super().load_state_dict(state_dict, strict=strict)


def load_some(model, state_dict):
    own = model.state_dict()
    biases = [k for k in state_dict if "bias" in k]
    for k in biases:
        state_dict[k] = state_dict[k].view(own[k].shape)
    model.load_state_dict(state_dict)
"""


REMOVER_ONLY = (
    "from torch.nn.utils import remove_weight_norm\n\n\n"
    "def strip(model):\n"
    "    for layer in model.layers:\n"
    "        remove_weight_norm(layer)\n"
)
