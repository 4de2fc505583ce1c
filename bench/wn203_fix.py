#!/usr/bin/env python3
"""Check on released code that WN203's fix makes the init land on the weight.

WN203 flags an init that runs after weight norm was applied to a module, such
as HiFi-GAN's ``init_weights`` (``m.weight.data.normal_(0.0, 0.01)``, through
``.apply(init_weights)``) after ``weight_norm(Conv1d(...))``: the write goes
to a tensor that weight norm recomputes, so the layer keeps torch's default
init (kaiming-uniform, whose std, 1/sqrt(3 * fan_in), depends on the layer's
shape). ``wnlint fix --unsafe-fixes`` rewrites each such write so that it
reaches the effective weight, and migrates the legacy weight norm to
``torch.nn.utils.parametrizations.weight_norm`` (WN301). This script measures,
on six released projects, what a model's weight-normed layers hold after
construction before and after the fix:

    python bench/wn203_fix.py [CORPUS]

``CORPUS`` holds the unpacked wheels of ``python bench/corpus.py DIR``, one
directory per distribution; by default ``$WNLINT_CORPUS``, else ``../corpus``
beside this checkout. It is never written. For each project:

1. Its package tree is copied twice into a temporary directory, ``original/``
   and ``fixed/``, and ``python -m wnlint fix --unsafe-fixes fixed/<package>``
   runs on the second copy (the whole package, so an init helper in a sibling
   module is fixed too); its summary line (stderr) is printed.
2. For each model in ``MODELS``, three subprocesses build it with
   ``torch.manual_seed(0)`` and small constructor arguments: from
   ``original/``, from ``fixed/``, and from ``original/`` with both weight
   norm functions replaced by the identity (the "no-WN" build: the init as
   its author meant it; weight norm draws no random numbers, so the random
   stream is the same). The fixed build also loads the original build's
   ``state_dict()`` with ``strict=True`` (legacy ``weight_g``/``weight_v``
   keys are converted by the load hook of torch's parametrized weight norm)
   and must then hold the original build's weights.
3. The layers checked are the weight-normed convolutions the WN203 findings
   name (``ups``, ``convs1``, ``convs2``, ``convs``, ``conv_post``, DAC's
   every ``nn.Conv1d``, ConvNeXt's ``proj_down``). Their effective weight is
   ``layer.weight`` for a parametrized layer and the legacy ``WeightNorm``
   hook's ``compute_weight(layer)`` otherwise. Per group of layers the script
   prints the mean and std of the original build, the std of torch's default
   init for those shapes, and the mean and std of the fixed build.

A model passes when, in the fixed build, every checked layer is weight-normed
and equal (allclose) to the no-WN build; the pooled std over its checked
layers is within 10% of the std the init asks for (0.01 for
``normal_(0.0, 0.01)``, 0.02 for ``trunc_normal_(std=0.02)``) and the pooled
mean within 5 standard errors (std/sqrt(N)) of 0, or every weight is exactly
0 for the zero init; and the strict load succeeds with the original weights.
The sample std of N normal draws has a relative standard error of
1/sqrt(2N); each pooled sample has at least 2,000 weights (checked), so 10%
is more than 6 standard errors, while torch's default std for these small
layers is several times the intended one. A group of few weights (a
``conv_post``) is printed but judged only within the pool and by the exact
comparison with the no-WN build. Exit status: 0 when every model passes, 1
otherwise or when the corpus directory is missing.

The projects import third-party modules that are not installed (librosa,
scipy, audiotools, einops, coqpit, loguru, ...), almost all of them for code
that construction never runs. Rather than install them, each build installs
a ``sys.meta_path`` finder, last in line, that hands the project's own files
a stub module for any top-level module that cannot be found and is neither
torch, numpy nor in the standard library (see ``_Stub``). An installed
package always wins, and imports made by installed libraries (such as
transformers probing for optional packages) still fail as usual. One
function that construction calls is answered by a working stand-in
(``scipy.signal.get_window``, for an STFT window buffer; see ``STAND_INS``).
Stubs hold no parameters and are the same for the three builds, so they
cannot hide a difference between them. No build touches the network (the
Hugging Face libraries are also told to stay offline).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.machinery
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 600  # seconds, per subprocess
STD_TOLERANCE = 0.10  # relative, on the pooled std of the fixed build
MEAN_TOLERANCE = 5.0  # standard errors, on the pooled mean of the fixed build
MIN_SAMPLES = 2000  # weights pooled per model, for the tolerances above
HIFIGAN_GROUPS = ("ups", "convs1", "convs2", "convs", "conv_post")
# FreeVC's conv_post has no weight norm and no init.
FREEVC_GROUPS = ("ups", "convs1", "convs2", "convs")

# --------------------------------------------------------------------------
# The models: what is built from each copy, and which layers are checked.


def _bigvgan(module: Any, resblock: str) -> torch.nn.Module:
    dilations = [[1, 3, 5], [1, 3, 5]] if resblock == "1" else [[1, 3], [1, 3]]
    h = module.AttrDict(
        resblock=resblock,
        num_mels=16,
        upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8],
        upsample_initial_channel=64,
        resblock_kernel_sizes=[3, 7],
        resblock_dilation_sizes=dilations,
        activation="snakebeta",
        snake_logscale=True,
    )
    return module.BigVGAN(h, use_cuda_kernel=False)


def _styletts2_hifigan(module: Any) -> torch.nn.Module:
    return module.Generator(
        style_dim=16,
        resblock_kernel_sizes=[3, 7],
        upsample_rates=[4, 4],
        upsample_initial_channel=64,
        resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]],
        upsample_kernel_sizes=[8, 8],
    )


def _istftnet(module: Any) -> torch.nn.Module:
    return module.Generator(
        style_dim=16,
        resblock_kernel_sizes=[3, 7],
        upsample_rates=[4, 4],
        upsample_initial_channel=64,
        resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]],
        upsample_kernel_sizes=[8, 8],
        gen_istft_n_fft=16,
        gen_istft_hop_size=4,
    )


def _dac(module: Any) -> torch.nn.Module:
    return module.DAC(
        encoder_dim=8,
        encoder_rates=[2, 4],
        decoder_dim=64,
        decoder_rates=[4, 2],
        n_codebooks=2,
        codebook_size=16,
        codebook_dim=4,
    )


def _freevc(module: Any, resblock: str) -> torch.nn.Module:
    dilations = [[1, 3, 5], [1, 3, 5]] if resblock == "1" else [[1, 3], [1, 3]]
    return module.Generator(
        initial_channel=16,
        resblock=resblock,
        resblock_kernel_sizes=[3, 7],
        resblock_dilation_sizes=dilations,
        upsample_rates=[4, 4],
        upsample_initial_channel=64,
        upsample_kernel_sizes=[8, 8],
    )


def _convnext(module: Any) -> torch.nn.Module:
    return module.ConvNeXtEncoder(
        in_channels=2,
        channels=16,
        latent_dim=8,
        c_mults=[1, 2],
        strides=[2, 2],
        num_blocks=[2, 2],
    )


@dataclass(frozen=True)
class Model:
    """One model built from each copy of a project."""

    key: str
    project: str  # directory under the corpus
    package: str  # import package, copied and fixed
    module: str  # where the class lives
    label: str  # the table's "class" column
    build: Callable[[Any], torch.nn.Module]  # from the imported module
    init: str  # the init WN203 flags, as written
    intended_std: float
    # Name components that select the checked convolutions (the attributes
    # the WN203 findings name); empty: every nn.Conv1d, as DAC's
    # init_weights does through self.apply.
    groups: tuple[str, ...] = HIFIGAN_GROUPS


HIFIGAN_INIT = "m.weight.data.normal_(0.0, 0.01)"
MODELS = (
    Model(
        "bigvgan-amp1",
        "bigvgan",
        "bigvgan",
        "bigvgan.bigvgan",
        "BigVGAN (AMPBlock1)",
        lambda m: _bigvgan(m, "1"),
        HIFIGAN_INIT,
        0.01,
    ),
    Model(
        "bigvgan-amp2",
        "bigvgan",
        "bigvgan",
        "bigvgan.bigvgan",
        "BigVGAN (AMPBlock2)",
        lambda m: _bigvgan(m, "2"),
        HIFIGAN_INIT,
        0.01,
    ),
    Model(
        "styletts2-hifigan",
        "styletts2",
        "styletts2",
        "styletts2.Modules.hifigan",
        "hifigan.Generator",
        _styletts2_hifigan,
        HIFIGAN_INIT,
        0.01,
    ),
    Model(
        "styletts2-istftnet",
        "styletts2",
        "styletts2",
        "styletts2.Modules.istftnet",
        "istftnet.Generator",
        _istftnet,
        HIFIGAN_INIT,
        0.01,
    ),
    Model(
        "kokoro",
        "kokoro",
        "kokoro",
        "kokoro.istftnet",
        "istftnet.Generator",
        _istftnet,
        HIFIGAN_INIT,
        0.01,
    ),
    Model(
        "dac",
        "descript-audio-codec",
        "dac",
        "dac.model.dac",
        "DAC",
        _dac,
        "nn.init.trunc_normal_(m.weight, std=0.02)",
        0.02,
        groups=(),
    ),
    Model(
        "freevc-1",
        "TTS",
        "TTS",
        "TTS.vc.models.freevc",
        "FreeVC Generator (ResBlock1)",
        lambda m: _freevc(m, "1"),
        HIFIGAN_INIT,
        0.01,
        groups=FREEVC_GROUPS,
    ),
    Model(
        "freevc-2",
        "TTS",
        "TTS",
        "TTS.vc.models.freevc",
        "FreeVC Generator (ResBlock2)",
        lambda m: _freevc(m, "2"),
        HIFIGAN_INIT,
        0.01,
        groups=FREEVC_GROUPS,
    ),
    Model(
        "convnext",
        "stable-audio-tools",
        "stable_audio_tools",
        "stable_audio_tools.models.convnext",
        "ConvNeXtEncoder",
        _convnext,
        "nn.init.zeros_(self.proj_down.weight)",
        0.0,
        groups=("proj_down",),
    ),
)

# --------------------------------------------------------------------------
# Stubs for the modules a project imports that are not installed.


class _Stub:
    """What a missing module hands out for any name.

    An attribute is another stub; a call returns a stub, except that a stub
    called on a lone function returns it (a decorator, ``@argbind.bind``);
    ``+=`` leaves it as it is (``audiotools.ml.BaseModel.INTERN += [...]``).
    As a base class (through ``__mro_entries__``) it stands for an empty
    ``torch.nn.Module``, as DAC needs of ``audiotools.ml.BaseModel``, or for
    an empty mixin when another base already is a module (a mixin after
    ``torch.nn.Module``); either ignores constructor and class keyword
    arguments.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"<stub {self._name}>"

    def __getattr__(self, name: str) -> _Stub:
        if name.startswith("__"):
            raise AttributeError(name)
        value = _Stub(f"{self._name}.{name}")
        setattr(self, name, value)
        return value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]):
            return args[0]
        return _Stub(f"{self._name}()")

    def __iadd__(self, other: Any) -> _Stub:
        return self

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        module = any(
            isinstance(b, type) and issubclass(b, torch.nn.Module) for b in bases
        )
        return (_StubMixin,) if module else (_StubModule,)


class _StubMixin:
    """A stub as a base class beside ``torch.nn.Module``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__()


class _StubModule(_StubMixin, torch.nn.Module):
    """A stub as the only module base class: an empty ``torch.nn.Module``."""


def _get_window(window: str, nx: int, fftbins: bool = True) -> Any:
    """``scipy.signal.get_window`` for the Hann window StyleTTS2's STFT asks
    for while it is built (a buffer, not a parameter)."""
    if window != "hann":
        raise NotImplementedError(f"stub get_window: {window!r}")
    return torch.hann_window(nx, periodic=fftbins, dtype=torch.float64).numpy()


#: Names a stub module answers with a working function instead of a stub.
STAND_INS: dict[str, Callable[..., Any]] = {"scipy.signal.get_window": _get_window}


class _StubModuleType(types.ModuleType):
    """A missing module (a package, so that its submodules import too)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__path__: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = STAND_INS.get(f"{self.__name__}.{name}") or _Stub(
            f"{self.__name__}.{name}"
        )
        setattr(self, name, value)
        return value


class _MissingModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on ``sys.meta_path``: a stub for what the project cannot import."""

    def __init__(self, root: Path, package: str) -> None:
        self._root = str(root) + os.sep
        stdlib = getattr(sys, "stdlib_module_names", sys.builtin_module_names)
        self._never = {*stdlib, "torch", "numpy", package}
        self._machinery = os.path.dirname(importlib.__file__)
        self.stubbed: set[str] = set()

    def _importer(self) -> str:
        """The file of the code that asked for the import."""
        frame: types.FrameType | None = sys._getframe(2)
        while frame is not None:
            file = frame.f_code.co_filename
            if not (file.startswith("<frozen") or file.startswith(self._machinery)):
                return file
            frame = frame.f_back
        return ""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top not in self.stubbed:
            if "." in fullname or top in self._never:
                return None
            if not self._importer().startswith(self._root):
                return None
            self.stubbed.add(top)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _StubModuleType(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


# --------------------------------------------------------------------------
# Subprocess side: import from one copy, build, save what the parent compares.


def _no_weight_norm(module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
    return module


def _weight_normed(layer: torch.nn.Module) -> str:
    """How ``layer``'s weight is normed: "new" (parametrizations), "legacy"
    (the WeightNorm hook) or "" (not at all)."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.weight_norm import WeightNorm

    if parametrize.is_parametrized(layer, "weight"):
        return "new"
    hooks = layer._forward_pre_hooks.values()
    if any(isinstance(h, WeightNorm) and h.name == "weight" for h in hooks):
        return "legacy"
    return ""


def effective_weight(layer: torch.nn.Module) -> torch.Tensor:
    """The weight ``layer`` computes with on its next forward."""
    from torch.nn.utils.weight_norm import WeightNorm

    for hook in layer._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == "weight":
            return hook.compute_weight(layer).detach().clone()
    weight = layer.weight  # recomputed here if parametrized
    assert isinstance(weight, torch.Tensor)
    return weight.detach().clone()


def checked_layers(model: Model, net: torch.nn.Module) -> dict[str, str]:
    """The checked convolutions of ``net``: name -> group."""
    chosen = {}
    for name, layer in net.named_modules():
        if not model.groups:
            if isinstance(layer, torch.nn.Conv1d):
                chosen[name] = "Conv1d"
            continue
        if not isinstance(layer, torch.nn.modules.conv._ConvNd):
            continue
        parts = name.split(".")
        group = next((g for g in model.groups if g in parts), None)
        if group is not None:
            chosen[name] = group
    return chosen


def build_child(
    model: Model, variant: str, root: Path, out: Path, state: Path | None
) -> None:
    """Build ``model`` from the copy under ``root`` and save, to ``out``, the
    checked layers' effective weights (and for the original build its
    ``state_dict()``; for the fixed build the outcome of loading ``state``)."""
    sys.path[0] = str(root)  # was this script's directory
    finder = _MissingModuleFinder(root / model.package, model.package)
    sys.meta_path.append(finder)
    if variant == "no-wn":
        torch.nn.utils.weight_norm = _no_weight_norm
        torch.nn.utils.parametrizations.weight_norm = _no_weight_norm
        legacy: Any = importlib.import_module("torch.nn.utils.weight_norm")
        legacy.weight_norm = _no_weight_norm  # its own module, for `from ... import`
    module = importlib.import_module(model.module)
    torch.manual_seed(0)
    net = model.build(module)
    layers = {}
    for name, group in checked_layers(model, net).items():
        layer = net.get_submodule(name)
        layers[name] = {
            "group": group,
            "normed": _weight_normed(layer),
            "weight": effective_weight(layer),
        }
    result: dict[str, Any] = {"layers": layers, "stubs": sorted(finder.stubbed)}
    if variant == "original":
        result["state_dict"] = net.state_dict()
    if state is not None:
        try:
            net.load_state_dict(torch.load(state)["state_dict"], strict=True)
            result["load"] = ""
            result["loaded"] = {
                n: {"weight": effective_weight(net.get_submodule(n))} for n in layers
            }
        except Exception as error:  # any failure is the result
            result["load"] = f"{type(error).__name__}: {error}".splitlines()[0]
    torch.save(result, out)


# --------------------------------------------------------------------------
# Parent side.


@dataclass
class Stats:
    """Pooled statistics of some weights."""

    n: int
    mean: float
    std: float
    max_abs: float

    @classmethod
    def of(cls, weights: list[torch.Tensor]) -> Stats:
        flat = torch.cat([w.double().flatten() for w in weights])
        return cls(
            flat.numel(),
            flat.mean().item(),
            flat.std().item(),
            flat.abs().max().item(),
        )


def default_std(weights: list[torch.Tensor]) -> float:
    """The pooled std of torch's default init (kaiming-uniform, a=sqrt(5):
    uniform on +-1/sqrt(fan_in)) for tensors of these shapes."""
    total = 0.0
    count = 0
    for w in weights:
        fan_in = w.shape[1] * math.prod(w.shape[2:])
        total += w.numel() / (3 * fan_in)
        count += w.numel()
    return math.sqrt(total / count)


@dataclass
class Row:
    """One line of the final table."""

    model: Model
    layers: int = 0
    original: Stats | None = None
    fixed: Stats | None = None
    matches_no_wn: bool = False
    load: str = "not run"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def run_fix(package_dir: Path) -> tuple[int, str]:
    """``wnlint fix --unsafe-fixes`` on one copy: exit status, summary line."""
    command = [sys.executable, "-m", "wnlint", "fix", "--unsafe-fixes"]
    try:
        done = subprocess.run(
            [*command, str(package_dir)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TIMEOUT} s"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    summary = next(
        (line for line in reversed(lines) if line.startswith("wnlint:")),
        lines[-1] if lines else "(nothing on stderr)",
    )
    return done.returncode, summary


def run_child(
    model: Model, variant: str, root: Path, out: Path, state: Path | None = None
) -> dict[str, Any]:
    """One build in a fresh interpreter; what it saved."""
    command = [sys.executable, __file__, "--child", model.key, variant]
    command += [str(root), str(out), str(state or "")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, env=env
    )
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(f"{variant} build failed: {tail[-1] if tail else '?'}")
    return torch.load(out)


def _fmt(value: float) -> str:
    return f"{value:.4f}" if value else "0"


def print_groups(
    model: Model, names: list[str], original: dict[str, Any], fixed: dict[str, Any]
) -> tuple[Stats, Stats]:
    """Print the statistics per group of layers; the pooled ones."""
    layers = original["layers"]
    legacy = sum(layers[n]["normed"] == "legacy" for n in names)
    print(
        f"  {model.label}: {len(names)} layers ({legacy} on the legacy API in "
        f"the original); init {model.init}; stubs: "
        f"{', '.join(original['stubs']) or 'none'}"
    )
    print(
        f"    {'group':<10}{'layers':>7}{'weights':>9}  {'original mean/std':>18}"
        f"{'default std':>13}  {'fixed mean/std':>16}{'intended std':>14}"
    )
    groups = dict.fromkeys(layers[n]["group"] for n in names)
    for group in [*groups, "all"]:
        chosen = [n for n in names if group in ("all", layers[n]["group"])]
        before = [layers[n]["weight"] for n in chosen]
        o = Stats.of(before)
        f = Stats.of([fixed["layers"][n]["weight"] for n in chosen])
        print(
            f"    {group:<10}{len(chosen):>7}{o.n:>9}  "
            f"{o.mean:>9.4f}/{o.std:<8.4f}{default_std(before):>13.4f}  "
            f"{f.mean:>8.4f}/{_fmt(f.std):<7}{_fmt(model.intended_std):>14}"
        )
    return o, f  # the last group: all of them


def judge(row: Row) -> None:
    """Add to ``row.problems`` what keeps the fixed build from the intent."""
    stats, want = row.fixed, row.model.intended_std
    if not row.matches_no_wn:
        row.problems.append("fixed build differs from the no-WN build")
    if row.load != "ok":
        row.problems.append(f"strict load: {row.load}")
    if stats is None:
        return
    if want == 0:
        if stats.max_abs != 0:
            row.problems.append(f"max |w| {stats.max_abs:.3g}, want exactly 0")
        return
    if stats.n < MIN_SAMPLES:
        row.problems.append(f"only {stats.n} weights pooled")
    if abs(stats.std / want - 1) > STD_TOLERANCE:
        row.problems.append(f"std {stats.std:.4f}, want {want} +-10%")
    if abs(stats.mean) > MEAN_TOLERANCE * want / math.sqrt(stats.n):
        row.problems.append(f"mean {stats.mean:.2g} off 0")


def _same(a: dict[str, Any], b: dict[str, Any], names: list[str]) -> bool:
    """Whether the layers ``names`` have the same weights in ``a`` and ``b``
    (up to float rounding: g * v / ||v|| is not bitwise v)."""
    return all(
        torch.allclose(a[n]["weight"], b[n]["weight"], rtol=1e-5, atol=1e-7)
        for n in names
    )


def compare(model: Model, root: Path) -> Row:
    """Build ``model`` three ways and judge the fixed build."""
    row = Row(model)
    outs = root / "out"
    outs.mkdir(exist_ok=True)
    state = outs / f"{model.key}-original.pt"
    try:
        original = run_child(model, "original", root / "original", state)
        fixed = run_child(
            model, "fixed", root / "fixed", outs / f"{model.key}-fixed.pt", state
        )
        no_wn = run_child(
            model, "no-wn", root / "original", outs / f"{model.key}-no-wn.pt"
        )
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        row.problems.append(str(error))
        print(f"  {model.label}: {error}")
        return row

    names = list(original["layers"])
    row.layers = len(names)
    if not names or names != list(fixed["layers"]) or names != list(no_wn["layers"]):
        row.problems.append("no layer to check, or not the same in the three builds")
        return row
    for side, built in (("original", original), ("fixed", fixed)):
        plain = [n for n in names if not built["layers"][n]["normed"]]
        if plain:
            row.problems.append(f"{len(plain)} layers not weight-normed ({side})")
    if any(no_wn["layers"][n]["normed"] for n in names):
        row.problems.append("weight norm left on in the no-WN build")
    row.original, row.fixed = print_groups(model, names, original, fixed)
    row.matches_no_wn = _same(fixed["layers"], no_wn["layers"], names)
    row.load = fixed["load"] or "ok"
    if row.load == "ok" and not _same(fixed["loaded"], original["layers"], names):
        row.load = "loaded, but the weights differ from the original build's"
    judge(row)
    return row


def print_table(rows: list[Row]) -> None:
    header = (
        "project",
        "class",
        "layers",
        "original std",
        "fixed std",
        "intended std",
        "= no-WN",
        "strict load",
        "result",
    )
    body = [
        (
            r.model.project,
            r.model.label,
            str(r.layers),
            f"{r.original.std:.4f}" if r.original else "-",
            _fmt(r.fixed.std) if r.fixed else "-",
            _fmt(r.model.intended_std),
            "yes" if r.matches_no_wn else "no",
            "ok" if r.load == "ok" else "FAILED" if r.load != "not run" else "-",
            "ok" if r.ok else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    for line in (header, tuple("-" * w for w in widths), *body):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())


def default_corpus() -> Path:
    env = os.environ.get("WNLINT_CORPUS")
    return Path(env) if env else REPO.parent / "corpus"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=None,
        help="unpacked wheels (default: $WNLINT_CORPUS, else ../corpus)",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        key, variant, root, out, state = args.child
        model = next(m for m in MODELS if m.key == key)
        build_child(
            model, variant, Path(root), Path(out), Path(state) if state else None
        )
        return 0

    corpus = (args.corpus or default_corpus()).resolve()
    if not corpus.is_dir():
        print(
            f"error: corpus directory {corpus} does not exist; unpack it with "
            f"`python bench/corpus.py {corpus}`",
            file=sys.stderr,
        )
        return 1
    missing = [
        f"{m.project}/{m.package}"
        for m in MODELS
        if not (corpus / m.project / m.package).is_dir()
    ]
    if missing:
        print(
            f"error: corpus directory {corpus} lacks "
            f"{', '.join(dict.fromkeys(missing))}; unpack it with "
            f"`python bench/corpus.py {corpus}`",
            file=sys.stderr,
        )
        return 1

    started = time.perf_counter()
    rows = []
    projects = dict.fromkeys((m.project, m.package) for m in MODELS)
    for project, package in projects:
        print(f"{project} ({package})")
        with tempfile.TemporaryDirectory(prefix="wn203-") as tmp:
            root = Path(tmp)
            for copy in ("original", "fixed"):
                shutil.copytree(corpus / project / package, root / copy / package)
            status, summary = run_fix(root / "fixed" / package)
            print(f"  fix (exit {status}): {summary}")
            for model in MODELS:
                if model.project == project:
                    rows.append(compare(model, root))
        print()

    print_table(rows)
    failed = [r for r in rows if not r.ok]
    for row in failed:
        print(f"FAIL {row.model.project} {row.model.label}: {'; '.join(row.problems)}")
    elapsed = time.perf_counter() - started
    print(f"\n{len(rows) - len(failed)} of {len(rows)} models pass ({elapsed:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
