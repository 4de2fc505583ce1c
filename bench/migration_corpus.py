#!/usr/bin/env python3
"""Prove on released code that the WN301/WN302 migration keeps checkpoints working.

``wnlint fix --unsafe-fixes`` rewrites ``torch.nn.utils.weight_norm`` into
``torch.nn.utils.parametrizations.weight_norm`` and ``remove_weight_norm``
into ``torch.nn.utils.parametrize.remove_parametrizations``. That renames
entries of the ``state_dict``: ``conv.weight_g``/``conv.weight_v`` become
``conv.parametrizations.weight.original0``/``original1``. torch's
parametrized weight norm registers a load hook that renames the legacy keys,
so a checkpoint saved before the migration should load with ``strict=True``
into the migrated model, which should then compute exactly what the original
model computed. This script checks that on the released source of three
audio packages (not on fixtures), and checks two places where a migration
must not break anything silently.

    python bench/migration_corpus.py                       # --corpus ../corpus
    python bench/migration_corpus.py --corpus DIR --keep /tmp/mc   # keep the copies

``--corpus`` holds unpacked wheels, one directory per distribution:
``bigvgan`` (2.4.1), ``vocos`` (0.1.0), ``descript-audio-codec`` (1.0.0),
``stable-audio-tools`` (0.0.19) and ``espnet`` (202511). It is never written:

1. The import packages are copied twice into a temporary directory,
   ``original/`` and ``fixed/``; ``python -m wnlint fix --unsafe-fixes -q
   fixed/`` runs from the repository root (so this checkout's wnlint runs),
   and its exit status, notes (stderr) and remaining findings (stdout) are
   kept. "migrated files" are the files the fix changed.
2. For every model below, a subprocess imports the package from
   ``original/``, builds the model with seed 0, saves its ``state_dict()``
   (the "original checkpoint", with legacy ``weight_g``/``weight_v`` keys),
   and runs a fixed small input; a second subprocess imports the package from
   ``fixed/``, builds the model with seed 1 (so its weights differ before
   loading: the "pre-load diff" in the notes shows they do), loads the
   original checkpoint with ``load_state_dict(sd, strict=True)`` and runs the
   same input. Both run in eval mode on one CPU thread; each also back-
   propagates ``sum(mean(out**2))`` over its outputs. The parent compares the
   outputs, the gradients with respect to the inputs, and the parameter
   gradients (parametrized names mapped back to ``weight_g``/``weight_v``):
   max abs difference, and whether they are bitwise identical.

   * BigVGAN: ``bigvgan.bigvgan.BigVGAN``, tiny configs with AMPBlock1 +
     SnakeBeta and AMPBlock2 + Snake.
   * Vocos: ``VocosResNetBackbone`` followed by ``ISTFTHead`` (the backbone is
     the one that uses weight norm; ``VocosBackbone`` and the heads do not),
     ``MultiPeriodDiscriminator`` and ``MultiResolutionDiscriminator``.
   * DAC: ``dac.model.dac.DAC`` (tiny config, quantizer included) and
     ``dac.model.discriminator.Discriminator`` with one sub-discriminator of
     each kind: MPD, MSD (at rate 1, where audiotools' resampling is the
     identity) and MRD.

   A file wnlint declines to fix is listed as "declined" in the table, and
   the notes give how many weight-normed modules each side built with each
   API, so a model left on the legacy API shows as such rather than failing.

3. Two checks of things the migration must not break silently:

   (a) stable-audio-tools' ``models/utils.py`` ``copy_state_dict(model,
       state_dict)`` copies only the keys the model already has and loads
       with ``strict=False``: once the models are migrated, the legacy
       ``weight_g``/``weight_v`` keys of old checkpoints are dropped there and
       those layers keep their random weights, without an error. The check
       builds a small ``ConvNeXtEncoder`` (``models/convnext.py``, weight norm
       on every convolution) from each copy, loads the original checkpoint
       into the fixed model through the fixed ``copy_state_dict`` and reports
       the max difference; it passes when that path is unchanged (difference
       0) or when wnlint printed a note naming ``utils.py`` with "strict" or
       "checkpoint". The same model loaded with ``strict=True`` is an ordinary
       model check.
   (b) espnet's ``espnet/nets/pytorch_backend/transformer/embedding.py`` has
       an explicit ``weight_norm="legacy"`` mode beside the parametrizations
       one. The check reports whether the fix changed the file (with the
       diff) and what wnlint printed for it; it passes when the file is
       unchanged or a note names it.

The result is a Markdown table (package | model | migrated files | load
strict | outputs identical (max diff) | notes; the notes name the stubs each
package imported), followed by wnlint's notes, the diff of (b) if any and
the tracebacks of any errors. Exit status: 0 when every model check loads
with ``strict=True`` and is bitwise identical (outputs and gradients),
neither (a) nor (b) is silent, and wnlint neither crashed nor timed out
(its own exit status, 1 or 2 for findings left or files declined, is only
reported); 1 otherwise; 2 when the corpus is missing.

Requirements. The parent uses only torch and the standard library. The
subprocesses import the packages, so they need what those import and this
script does not stub: numpy, einops (small and pure Python: ``pip install
einops``), tqdm, pyyaml, huggingface_hub and safetensors. Everything else the
packages import at module level is replaced by a stub (see ``STUBS``): a
directory of small modules appended to the END of ``sys.path`` in the
subprocesses, so an installed real package always wins. The stubs hold no
parameters and are the same code for the original and the fixed model, so
they cannot hide a difference between the two; the ones that compute
(``torchaudio.transforms.Spectrogram`` and ``audiotools.AudioSignal.stft``)
reproduce what the real libraries compute for the arguments these models
pass. The rest are inert (``matplotlib.use``, ``argbind.bind``, audiotools'
``BaseModel`` base class without its save/load) or raise when called.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent
#: The unpacked wheels, by default beside the checkout.
DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "corpus"
TIMEOUT = 600  # seconds, per subprocess
SEEDS = {"original": 0, "fixed": 1}
INPUT_SEED = 1234

# --------------------------------------------------------------------------
# What is copied and checked.


@dataclass(frozen=True)
class Package:
    """A distribution unpacked under ``--corpus``: its directory and packages."""

    dist: str  # directory under --corpus
    version: str  # the version this script was written against
    packages: tuple[str, ...]  # import packages copied (and fixed)


PACKAGES = (
    Package("bigvgan", "2.4.1", ("bigvgan",)),
    Package("vocos", "0.1.0", ("vocos",)),
    Package("descript-audio-codec", "1.0.0", ("dac",)),
    Package("stable-audio-tools", "0.0.19", ("stable_audio_tools",)),
    Package("espnet", "202511", ("espnet",)),
)


@dataclass(frozen=True)
class Case:
    """One model: built on both sides, compared after loading."""

    key: str
    dist: str
    model: str  # the table's label
    load: str = "strict"  # or "copy_state_dict": stable-audio-tools' loader


CASES = (
    Case("bigvgan-amp1", "bigvgan", "BigVGAN (AMPBlock1, snakebeta)"),
    Case("bigvgan-amp2", "bigvgan", "BigVGAN (AMPBlock2, snake)"),
    Case("vocos-generator", "vocos", "VocosResNetBackbone + ISTFTHead"),
    Case("vocos-mpd", "vocos", "MultiPeriodDiscriminator"),
    Case("vocos-mrd", "vocos", "MultiResolutionDiscriminator"),
    Case("dac", "descript-audio-codec", "DAC (tiny, with quantizer)"),
    Case("dac-disc", "descript-audio-codec", "Discriminator (MPD+MSD+MRD)"),
    Case("sat-convnext", "stable-audio-tools", "ConvNeXtEncoder"),
    Case(
        "sat-copy",
        "stable-audio-tools",
        "ConvNeXtEncoder via copy_state_dict",
        load="copy_state_dict",
    ),
)

SAT_UTILS = "stable_audio_tools/models/utils.py"
SAT_CONVNEXT = "stable_audio_tools/models/convnext.py"
ESPNET_EMBEDDING = "espnet/nets/pytorch_backend/transformer/embedding.py"

# --------------------------------------------------------------------------
# Stubs: modules the packages import at module level that are not installed
# (and mostly cannot be: torchaudio has no build for this torch here, and
# audiotools, encodec and librosa pull it or numba/scipy in). Each is written
# to <tmp>/stubs and appended to sys.path in the subprocesses.

_RAISE = """
def _unavailable(name):
    def stub(*args, **kwargs):
        raise RuntimeError(f"{name} is a stub of bench/migration_corpus.py")
    return stub
"""


def _raisers(*names: str) -> str:
    """A stub module whose functions ``names`` raise when called."""
    lines = [_RAISE] + [f"{name} = _unavailable({name!r})" for name in names]
    return "\n".join(lines) + "\n"


def _raising_classes(*names: str) -> str:
    """A stub module whose classes ``names`` raise when instantiated."""
    lines = [_RAISE]
    for name in names:
        lines += [
            f"class {name}:",
            f"    __init__ = _unavailable({name!r})",
            "",
        ]
    return "\n".join(lines)


_SPECTROGRAM = '''
import torch


class Spectrogram(torch.nn.Module):
    """torchaudio.transforms.Spectrogram, for power=None (a complex STFT).

    The body of torchaudio.functional.spectrogram for pad=0 and
    normalized=False, with the window as a persistent buffer, as in
    torchaudio (so the state_dict has the same keys).
    """

    def __init__(self, n_fft=400, win_length=None, hop_length=None, pad=0,
                 window_fn=torch.hann_window, power=2.0, normalized=False,
                 wkwargs=None, center=True, pad_mode="reflect", onesided=True):
        super().__init__()
        if pad or normalized or power is not None:
            raise NotImplementedError("stub Spectrogram: power=None only")
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = (
            hop_length if hop_length is not None else self.win_length // 2
        )
        wkwargs = wkwargs or {}
        self.register_buffer("window", window_fn(self.win_length, **wkwargs))
        self.center = center
        self.pad_mode = pad_mode
        self.onesided = onesided

    def forward(self, waveform):
        shape = waveform.size()
        spec = torch.stft(
            waveform.reshape(-1, shape[-1]),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=False,
            onesided=self.onesided,
            return_complex=True,
        )
        return spec.reshape(shape[:-1] + spec.shape[-2:])
'''

_AUDIO_SIGNAL = '''
import math
from collections import namedtuple

import torch

STFTParams = namedtuple(
    "STFTParams",
    ["window_length", "hop_length", "window_type", "match_stride", "padding_type"],
)
STFTParams.__new__.__defaults__ = (None, None, None, None, None)


class AudioSignal:
    """What dac's discriminators use of audiotools 0.7's AudioSignal.

    Built from a tensor (reshaped to (batch, channels, time)), resample() to
    its own rate (the identity; any other rate raises) and stft(): the same
    defaults, padding for match_stride, torch.stft call and frame trimming.
    The Hann window is torch's periodic one in float64 cast to float32;
    audiotools takes scipy.signal.get_window("hann"), the same window up to
    rounding, and both sides of the comparison run this same code.
    """

    def __init__(self, audio, sample_rate=None, stft_params=None):
        if not torch.is_tensor(audio):
            raise TypeError("stub AudioSignal: tensors only")
        if audio.dtype == torch.double:
            audio = audio.float()
        while audio.ndim < 3:
            audio = audio.unsqueeze(0)
        self.audio_data = audio
        self.sample_rate = sample_rate
        window = int(2 ** math.ceil(math.log2(0.032 * sample_rate)))
        params = {
            "window_length": window,
            "hop_length": window // 4,
            "window_type": "hann",
            "match_stride": False,
            "padding_type": "reflect",
        }
        given = stft_params._asdict() if stft_params else {}
        for key, value in given.items():
            if value is not None:
                params[key] = value
        self.stft_params = STFTParams(**params)

    def resample(self, sample_rate):
        if sample_rate == self.sample_rate:
            return self
        raise NotImplementedError("stub AudioSignal: no resampling")

    def stft(self):
        p = self.stft_params
        if p.window_type != "hann":
            raise NotImplementedError("stub AudioSignal: hann window only")
        window = torch.hann_window(
            p.window_length, periodic=True, dtype=torch.float64
        ).float()
        length = self.audio_data.shape[-1]
        right_pad = pad = 0
        if p.match_stride:
            assert p.hop_length == p.window_length // 4
            right_pad = math.ceil(length / p.hop_length) * p.hop_length - length
            pad = (p.window_length - p.hop_length) // 2
        audio = torch.nn.functional.pad(
            self.audio_data, (pad, pad + right_pad), p.padding_type
        )
        stft = torch.stft(
            audio.reshape(-1, audio.shape[-1]),
            n_fft=p.window_length,
            hop_length=p.hop_length,
            window=window.to(audio.device),
            return_complex=True,
            center=True,
        )
        _, nf, nt = stft.shape
        stft = stft.reshape(audio.shape[0], audio.shape[1], nf, nt)
        if p.match_stride:
            stft = stft[..., 2:-2]
        return stft
'''

_BASE_MODEL = '''
from torch import nn


class BaseModel(nn.Module):
    """audiotools.ml.BaseModel without save/load (torch.package)."""

    EXTERN = ["audiotools.**", "tqdm", "__main__", "numpy.**", "julius.**",
              "torchaudio.**"]
    INTERN = []

    @property
    def device(self):
        return list(self.parameters())[0].device

''' + _raising_classes("Accelerator")

_ARGBIND = '''
def bind(*args, **kwargs):
    """argbind.bind as a no-op: @bind and @bind(...) return the function."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda fn: fn
'''

# path under the stub directory -> source; the comments say who needs it.
STUBS: dict[str, str] = {
    # bigvgan/__init__.py imports bigvgan.meldataset (training-data mel
    # spectrograms), which imports librosa and librosa.filters.mel.
    "librosa/__init__.py": "from . import filters\n",
    "librosa/filters.py": _raisers("mel"),
    # bigvgan/utils.py (plots, wav writing): matplotlib, matplotlib.pylab
    # and scipy.io.wavfile.write; vocos/spectral_ops.py: `import scipy`
    # (scipy.signal only in the MDCT heads, which are not built here).
    "matplotlib/__init__.py": "def use(*args, **kwargs):\n    pass\n",
    "matplotlib/pylab.py": "",
    "scipy/__init__.py": "",
    "scipy/io/__init__.py": "",
    "scipy/io/wavfile.py": _raisers("write"),
    # vocos: torchaudio.transforms.Spectrogram (MultiResolutionDiscriminator,
    # computed), torchaudio.transforms.MelSpectrogram (feature extractor, not
    # built), torchaudio.functional.functional._hz_to_mel/_mel_to_hz (IMDCT
    # head, not built); encodec.EncodecModel (feature extractor, not built).
    "torchaudio/__init__.py": "from . import functional, transforms\n",
    "torchaudio/functional/__init__.py": "from . import functional\n",
    "torchaudio/functional/functional.py": _raisers("_hz_to_mel", "_mel_to_hz"),
    "torchaudio/transforms.py": _SPECTROGRAM + _raising_classes("MelSpectrogram"),
    "encodec/__init__.py": _raising_classes("EncodecModel"),
    # dac (descript-audiotools needs torchaudio, librosa, julius...):
    # AudioSignal and STFTParams (discriminator, losses), ml.BaseModel (base
    # class of DAC and Discriminator), ml.Accelerator and core.util
    # (dac.utils, not used).
    "audiotools/__init__.py": (
        "from . import core, ml\nfrom .core import AudioSignal, STFTParams\n"
    ),
    "audiotools/core/__init__.py": (
        "from . import util\nfrom .audio_signal import AudioSignal, STFTParams\n"
    ),
    "audiotools/core/util.py": "",
    "audiotools/core/audio_signal.py": _AUDIO_SIGNAL,
    "audiotools/ml/__init__.py": _BASE_MODEL,
    # dac/utils/__init__.py decorates its CLI functions with argbind.bind.
    "argbind/__init__.py": _ARGBIND,
}

# --------------------------------------------------------------------------
# Subprocess side: build, save or load, run. Only these functions import the
# corpus packages (and only in the subprocesses).


def _load_file(root: Path, rel: str, name: str) -> Any:
    """Import one file of the tree as a standalone module ``name``."""
    spec = importlib.util.spec_from_file_location(name, root / rel)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _bigvgan(resblock: str, activation: str) -> Callable[[Path], torch.nn.Module]:
    def build(root: Path) -> torch.nn.Module:
        from bigvgan.bigvgan import BigVGAN
        from bigvgan.env import AttrDict

        h = AttrDict(
            num_mels=8,
            upsample_initial_channel=16,
            resblock=resblock,
            upsample_rates=[2, 2],
            upsample_kernel_sizes=[4, 4],
            resblock_kernel_sizes=[3, 5],
            resblock_dilation_sizes=[[1, 3], [1, 3]],
            activation=activation,
            snake_logscale=True,
        )
        return BigVGAN(h)

    return build


def _vocos_generator(root: Path) -> torch.nn.Module:
    from vocos.heads import ISTFTHead
    from vocos.models import VocosResNetBackbone

    return torch.nn.Sequential(
        VocosResNetBackbone(input_channels=8, dim=16, num_blocks=2),
        ISTFTHead(dim=16, n_fft=16, hop_length=4),
    )


def _vocos_mpd(root: Path) -> torch.nn.Module:
    from vocos.discriminators import MultiPeriodDiscriminator

    return MultiPeriodDiscriminator(periods=(2, 3))


def _vocos_mrd(root: Path) -> torch.nn.Module:
    from vocos.discriminators import MultiResolutionDiscriminator

    return MultiResolutionDiscriminator(fft_sizes=(64, 32))


def _dac(root: Path) -> torch.nn.Module:
    from dac.model.dac import DAC

    return DAC(
        encoder_dim=4,
        encoder_rates=[2, 2],
        decoder_dim=8,
        decoder_rates=[2, 2],
        n_codebooks=2,
        codebook_size=8,
        codebook_dim=4,
    )


def _dac_disc(root: Path) -> torch.nn.Module:
    from dac.model.discriminator import Discriminator

    return Discriminator(rates=[1], periods=[2], fft_sizes=[64])


def _sat_convnext(root: Path) -> torch.nn.Module:
    convnext = _load_file(root, SAT_CONVNEXT, "sat_convnext")
    return convnext.ConvNeXtEncoder(
        in_channels=2,
        channels=4,
        latent_dim=4,
        c_mults=[1, 2],
        strides=[2, 2],
        num_blocks=[1, 1],
    )


def _randn(*shape: int) -> Callable[[torch.Generator], list[torch.Tensor]]:
    return lambda gen: [torch.randn(*shape, generator=gen)]


def _pair(*shape: int) -> Callable[[torch.Generator], list[torch.Tensor]]:
    return lambda gen: [torch.randn(*shape, generator=gen) for _ in range(2)]


# key -> (build(root), inputs(generator)); the model is called on *inputs.
BUILDERS: dict[str, tuple[Callable[..., torch.nn.Module], Callable[..., Any]]] = {
    "bigvgan-amp1": (_bigvgan("1", "snakebeta"), _randn(1, 8, 6)),
    "bigvgan-amp2": (_bigvgan("2", "snake"), _randn(1, 8, 6)),
    "vocos-generator": (_vocos_generator, _randn(1, 8, 10)),
    "vocos-mpd": (_vocos_mpd, _pair(1, 64)),
    "vocos-mrd": (_vocos_mrd, _pair(1, 256)),
    "dac": (_dac, _randn(1, 1, 32)),
    "dac-disc": (_dac_disc, _randn(1, 1, 512)),
    "sat-convnext": (_sat_convnext, _randn(1, 2, 16)),
    "sat-copy": (_sat_convnext, _randn(1, 2, 16)),
}


def flatten(value: Any) -> Iterator[torch.Tensor]:
    """The tensors in a nested output, in a deterministic order."""
    if torch.is_tensor(value):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from flatten(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from flatten(item)


_PARAMETRIZED = re.compile(
    r"^(?P<prefix>.*?)parametrizations\.(?P<name>\w+)\.original(?P<i>[01])$"
)


def legacy_name(name: str) -> str:
    """``a.parametrizations.weight.original0`` -> ``a.weight_g`` (1: ``_v``)."""
    match = _PARAMETRIZED.match(name)
    if match is None:
        return name
    suffix = "_g" if match["i"] == "0" else "_v"
    return f"{match['prefix']}{match['name']}{suffix}"


def weight_norm_census(model: torch.nn.Module) -> dict[str, int]:
    """How many modules carry each weight-norm API."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.weight_norm import WeightNorm

    legacy = parametrized = 0
    for module in model.modules():
        hooks = module._forward_pre_hooks.values()
        legacy += any(isinstance(hook, WeightNorm) for hook in hooks)
        parametrized += parametrize.is_parametrized(module, "weight")
    return {"legacy": legacy, "parametrized": parametrized}


def foreign_sources(model: torch.nn.Module, allowed: list[Path]) -> list[str]:
    """Files defining the model's classes, outside torch and ``allowed``.

    Proves that each side imported its own copy of the package.
    """
    files = set()
    for module in model.modules():
        name = type(module).__module__
        if name.split(".")[0] == "torch":
            continue
        path = getattr(sys.modules.get(name), "__file__", None) or f"<{name}>"
        if not any(Path(path).resolve().is_relative_to(a) for a in allowed):
            files.add(path)
    return sorted(files)


def load_checkpoint(model: torch.nn.Module, ckpt: Path, how: str, root: Path) -> str:
    """Load ``ckpt`` into ``model``; returns "ok" or the error."""
    state_dict = torch.load(ckpt, weights_only=True)
    try:
        if how == "copy_state_dict":
            utils = _load_file(root, SAT_UTILS, "sat_utils")
            utils.copy_state_dict(model, state_dict)
        else:
            model.load_state_dict(state_dict, strict=True)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return "ok"


def forward_backward(
    model: torch.nn.Module, inputs: list[torch.Tensor]
) -> dict[str, Any]:
    """Outputs, input gradients and parameter gradients of one pass."""
    for x in inputs:
        x.requires_grad_(True)
    flat = list(flatten(model(*inputs)))
    loss = sum(t.float().pow(2).mean() for t in flat if t.requires_grad)
    loss.backward()
    return {
        "outputs": [t.detach() for t in flat],
        "input_grads": [x.grad for x in inputs],
        "param_grads": {
            legacy_name(name): p.grad
            for name, p in model.named_parameters()
            if p.grad is not None
        },
    }


def run_case(key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Build one model on this side, save or load the checkpoint, run it."""
    root = Path(spec["root"])
    build, make_inputs = BUILDERS[key]
    torch.manual_seed(spec["seed"])
    model = build(root)
    model.eval()
    result: dict[str, Any] = {
        "census": weight_norm_census(model),
        "foreign": foreign_sources(model, [root.resolve(), Path(spec["stubs"])]),
    }
    ckpt = Path(spec["ckpt_dir"]) / f"{key}.pt"
    gen = torch.Generator().manual_seed(INPUT_SEED)
    if spec["side"] == "original":
        state_dict = model.state_dict()
        legacy = [k for k in state_dict if k.endswith(("weight_g", "weight_v"))]
        result["legacy_keys"] = len(legacy)
        torch.save(state_dict, ckpt)
    else:
        with torch.no_grad():
            result["preload"] = [t.clone() for t in flatten(model(*make_inputs(gen)))]
        how = next(c.load for c in CASES if c.key == key)
        result["load"] = load_checkpoint(model, ckpt, how, root)
        result["census_after"] = weight_norm_census(model)
    gen = torch.Generator().manual_seed(INPUT_SEED)
    result.update(forward_backward(model, make_inputs(gen)))
    return result


def stubs_imported(stubs: Path) -> list[str]:
    """Top-level names of the stub modules this process imported."""
    names = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().is_relative_to(stubs):
            names.add(name.split(".")[0])
    return sorted(names)


def child_main(spec_path: str) -> int:
    """Subprocess entry: run the cases of ``spec`` and save what they gave."""
    spec = json.loads(Path(spec_path).read_text())
    sys.dont_write_bytecode = True
    sys.path[0] = spec["root"]  # was this script's directory
    sys.path.append(spec["stubs"])  # last: an installed package wins
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    results: dict[str, Any] = {}
    for key in spec["cases"]:
        try:
            results[key] = run_case(key, spec)
        except Exception as exc:
            results[key] = {
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
    results["_stubs"] = stubs_imported(Path(spec["stubs"]).resolve())
    torch.save(results, spec["out"])
    return 0


# --------------------------------------------------------------------------
# Parent side.

# `path: text` on wnlint's stderr; findings `path:line:col: CODE msg` on stdout.
NOTE = re.compile(r"^(?P<path>.+?\.pyi?): (?P<text>.*)$")
FINDING = re.compile(r"^(?P<path>.+?):\d+:\d+: (?P<code>[A-Z]+\d+) ")


@dataclass
class FixRun:
    """``wnlint fix`` over the fixed copies: status, notes, findings, diffs."""

    status: int | None
    notes: dict[str, list[str]] = field(default_factory=dict)  # rel path -> notes
    other_stderr: list[str] = field(default_factory=list)
    findings: dict[str, Counter[str]] = field(default_factory=dict)  # dist -> codes
    changed: dict[str, list[str]] = field(default_factory=dict)  # dist -> rel paths

    def notes_of(self, dist: str) -> list[tuple[str, str]]:
        return [
            (path, note)
            for path, notes in self.notes.items()
            if path.split("/")[0] == dist
            for note in notes
        ]


@dataclass
class Row:
    """One line of the table, and whether it counts as a failure."""

    package: str
    model: str
    migrated: str
    load: str
    identical: str
    notes: list[str]
    ok: bool = False  # False: the check failed (exit status 1)
    same: bool = False  # outputs and gradients bitwise identical


def found_version(directory: Path) -> str:
    """The version in the name of the ``*.dist-info`` directory, or "?"."""
    infos = sorted(directory.glob("*.dist-info"))
    return infos[0].name[: -len(".dist-info")].rpartition("-")[2] if infos else "?"


def copy_corpus(corpus: Path, work: Path) -> dict[str, str]:
    """Copy each distribution's packages to original/ and fixed/.

    Returns the table's package label of each distribution: its name and
    version, with the expected version when the corpus holds another one.
    """
    labels = {}
    for package in PACKAGES:
        src = corpus / package.dist
        version = found_version(src)
        labels[package.dist] = f"{package.dist} {version}"
        if version != package.version:
            labels[package.dist] += f" (written for {package.version})"
        for side in SEEDS:
            for name in package.packages:
                shutil.copytree(
                    src / name,
                    work / side / package.dist / name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
    return labels


def write_stubs(directory: Path) -> None:
    for rel, source in STUBS.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def changed_files(original: Path, fixed: Path) -> list[str]:
    """Relative paths of the ``.py`` files whose bytes differ."""
    return sorted(
        str(path.relative_to(fixed))
        for path in fixed.rglob("*.py")
        if path.read_bytes() != (original / path.relative_to(fixed)).read_bytes()
    )


def run_wnlint(work: Path) -> FixRun:
    fixed = work / "fixed"
    argv = [sys.executable, "-m", "wnlint", "fix", "--unsafe-fixes", "-q", str(fixed)]
    try:
        proc = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        proc = subprocess.CompletedProcess(
            argv, None, "", f"timed out after {TIMEOUT}s"
        )
    run = FixRun(status=proc.returncode)
    prefix = str(fixed) + os.sep
    for line in proc.stderr.splitlines():
        match = NOTE.match(line)
        if match and match["path"].startswith(prefix):
            rel = match["path"][len(prefix) :]
            run.notes.setdefault(rel, []).append(match["text"])
        elif line.strip():
            run.other_stderr.append(line)
    for line in proc.stdout.splitlines():
        match = FINDING.match(line)
        if match and match["path"].startswith(prefix):
            dist = match["path"][len(prefix) :].split("/")[0]
            run.findings.setdefault(dist, Counter())[match["code"]] += 1
    for package in PACKAGES:
        run.changed[package.dist] = changed_files(
            work / "original" / package.dist, fixed / package.dist
        )
    return run


def run_side(work: Path, dist: str, side: str, keys: list[str]) -> dict[str, Any]:
    """One subprocess: the cases ``keys`` of ``dist`` on one side."""
    spec = {
        "root": str(work / side / dist),
        "stubs": str((work / "stubs").resolve()),
        "side": side,
        "seed": SEEDS[side],
        "cases": keys,
        "ckpt_dir": str(work / "ckpt"),
        "out": str(work / "out" / f"{dist}-{side}.pt"),
    }
    spec_path = work / "out" / f"{dist}-{side}.json"
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", HF_HUB_OFFLINE="1")
    script = str(Path(__file__).resolve())
    argv = [sys.executable, "-B", script, "--child", str(spec_path)]
    try:
        proc = subprocess.run(
            argv,
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        failure = ""
        if proc.returncode != 0:
            failure = f"exit status {proc.returncode}: {proc.stderr[-2000:]}"
    except subprocess.TimeoutExpired:
        failure = f"timed out after {TIMEOUT}s"
    out = Path(spec["out"])
    if failure or not out.exists():
        error = failure or "no results written"
        return {key: {"error": f"{side} subprocess failed: {error}"} for key in keys}
    return torch.load(out, weights_only=True)


def _bytes(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().cpu().contiguous()
    if t.is_complex():
        t = torch.view_as_real(t).contiguous()
    return t.reshape(-1).view(torch.uint8)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape or a.dtype != b.dtype:
        return math.inf
    if a.numel() == 0:
        return 0.0
    if a.is_complex():
        a, b = torch.view_as_real(a), torch.view_as_real(b)
    return (a.double() - b.double()).abs().max().item()


def compare(
    a: Iterable[torch.Tensor | None], b: Iterable[torch.Tensor | None]
) -> tuple[bool, float]:
    """(bitwise identical, max abs difference) of two tensor sequences."""
    a, b = list(a), list(b)
    if len(a) != len(b):
        return False, math.inf
    same, worst = True, 0.0
    for x, y in zip(a, b):
        if x is None or y is None:
            same &= x is None and y is None
            continue
        diff = max_diff(x, y)
        worst = max(worst, diff)
        same &= diff != math.inf and torch.equal(_bytes(x), _bytes(y))
    return same, worst


def fmt(value: float) -> str:
    return "0" if value == 0 else f"{value:.3g}"


def compare_case(orig: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """Outputs, input gradients and parameter gradients, side by side."""
    out = compare(orig["outputs"], fixed["outputs"])
    grads = compare(orig["input_grads"], fixed["input_grads"])
    names = sorted(orig["param_grads"])
    same_names = names == sorted(fixed["param_grads"])
    params = (False, math.inf)
    if same_names:
        params = compare(
            (orig["param_grads"][n] for n in names),
            (fixed["param_grads"][n] for n in names),
        )
    _, preload = compare(orig["outputs"], fixed["preload"])
    return {
        "outputs": out,
        "grads": (grads[0] and params[0], max(grads[1], params[1])),
        "n_params": len(names) if same_names else -1,
        "preload": preload,
    }


def _files_cell(changed: list[str], declined: list[str]) -> str:
    cell = ", ".join(f"`{path}`" for path in changed) or "none"
    if declined:
        cell += "; declined: " + ", ".join(f"`{path}`" for path in declined)
    return cell


def declined_files(fix: FixRun, dist: str) -> list[str]:
    """Files of ``dist`` that wnlint said it did not fix."""
    notes = fix.notes_of(dist)
    return sorted(
        {path.split("/", 1)[1] for path, note in notes if "not fixed" in note}
    )


def case_row(
    case: Case, orig: dict[str, Any], fixed: dict[str, Any], ctx: dict[str, Any]
) -> Row:
    """The table row of one model check."""
    notes = [f"stubs: {', '.join(ctx['stubs']) or 'none'}"]
    row = Row(ctx["package"], case.model, ctx["files"], "-", "-", notes)
    errors = [side["error"] for side in (orig, fixed) if "error" in side]
    foreign = orig.get("foreign", []) + fixed.get("foreign", [])
    if errors or foreign:
        row.identical = "ERROR"
        notes[:0] = [f"error: {e.splitlines()[0][:300]}" for e in errors]
        notes[:0] = [f"imported from outside its copy: {f}" for f in foreign]
        return row
    row.load = fixed["load"][:300]
    if case.load != "strict":
        row.load = "copy_state_dict (strict=False)"
    result = compare_case(orig, fixed)
    same, diff = result["outputs"]
    gsame, gdiff = result["grads"]
    row.identical = f"{'yes' if same else 'NO'} ({fmt(diff)})"
    row.identical += f"; grads {'yes' if gsame else 'NO'} ({fmt(gdiff)})"
    before, after = fixed["census"], fixed["census_after"]
    notes[:0] = [
        f"weight-normed modules: {orig['census']['legacy']} legacy -> "
        f"{before['legacy']} legacy + {before['parametrized']} parametrized",
        f"checkpoint: {orig['legacy_keys']} g/v keys",
        f"{result['n_params']} param grads",
        f"pre-load diff {fmt(result['preload'])}",
    ]
    if before["parametrized"] == 0:
        notes.append("not migrated: nothing to compare but the legacy API")
    if after != before:
        notes.append(f"after loading: {after}")
    if result["preload"] == 0:
        notes.append("WARNING: the models agreed before loading")
    row.same = same and gsame
    row.ok = fixed["load"] == "ok" and row.same
    return row


def sat_copy_row(row: Row, fix: FixRun, fixed: dict[str, Any]) -> Row:
    """Check (a): copy_state_dict drops legacy keys only with a note."""
    dist = "stable-audio-tools"
    notes = [
        note
        for path, note in fix.notes_of(dist)
        if path == f"{dist}/{SAT_UTILS}" and re.search(r"strict|checkpoint", note)
    ]
    changed = "changed" if SAT_UTILS in fix.changed[dist] else "unchanged"
    row.load = f"copy_state_dict (strict=False); `utils.py` {changed}"
    if row.identical == "ERROR":
        verdict = "ERROR"
    elif notes:
        verdict = "reported by wnlint (not silent)"
    elif row.same:
        verdict = "path unaffected by the fix"
    else:
        verdict = "SILENT: checkpoints lose their weights without a note"
    row.ok = row.identical != "ERROR" and bool(notes or row.same)
    row.notes.insert(0, f"check (a): {verdict}")
    row.notes[1:1] = [f'wnlint: "{note}"' for note in notes]
    return row


def espnet_row(fix: FixRun, work: Path, package: str) -> tuple[Row, list[str]]:
    """Check (b): espnet's explicit legacy mode is kept or reported."""
    dist = "espnet"
    rel = f"{dist}/{ESPNET_EMBEDDING}"
    notes = [note for path, note in fix.notes_of(dist) if path == rel]
    before = (work / "original" / rel).read_text().splitlines(keepends=True)
    after = (work / "fixed" / rel).read_text().splitlines(keepends=True)
    diff = list(difflib.unified_diff(before, after, f"original/{rel}", f"fixed/{rel}"))
    changed = bool(diff)
    if not changed:
        verdict = "unchanged"
    elif notes:
        verdict = "changed, with a note"
    else:
        verdict = "SILENT: changed without a note"
    row = Row(
        package=package,
        model='`embedding.py` (`weight_norm="legacy"` mode)',
        migrated=_files_cell(fix.changed[dist], declined_files(fix, dist)),
        load="-",
        identical="-",
        notes=[f"check (b): {verdict}"] + [f'wnlint: "{note}"' for note in notes],
        ok=not changed or bool(notes),
    )
    return row, diff


def escape(cell: str) -> str:
    return " ".join(cell.replace("|", "\\|").split())


def print_table(rows: list[Row]) -> None:
    header = (
        "package",
        "model",
        "migrated files",
        "load strict",
        "outputs identical (max diff)",
        "notes",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        mark = "" if row.ok else " **FAIL**"
        cells = (
            row.package,
            row.model + mark,
            row.migrated,
            row.load,
            row.identical,
            "; ".join(row.notes),
        )
        print("| " + " | ".join(escape(c) for c in cells) + " |")


def print_wnlint(fix: FixRun) -> None:
    print(f"\n## wnlint fix --unsafe-fixes -q: exit status {fix.status}\n")
    for path, notes in sorted(fix.notes.items()):
        for note in notes:
            print(f"- `{path}`: {note}")
    for line in fix.other_stderr:
        print(f"- (stderr) {line}")
    if not fix.notes and not fix.other_stderr:
        print("- no notes")
    for dist, codes in sorted(fix.findings.items()):
        counts = ", ".join(f"{code} x{n}" for code, n in sorted(codes.items()))
        print(f"- remaining findings in {dist}: {counts}")


def model_rows(
    work: Path, fix: FixRun, packages: dict[str, str]
) -> tuple[list[Row], list[str]]:
    """Run every model case, two subprocesses per distribution."""
    rows, tracebacks = [], []
    for dist in dict.fromkeys(case.dist for case in CASES):
        cases = [case for case in CASES if case.dist == dist]
        keys = [case.key for case in cases]
        orig = run_side(work, dist, "original", keys)
        fixed = run_side(work, dist, "fixed", keys)
        stubs = sorted(set(orig.get("_stubs", [])) | set(fixed.get("_stubs", [])))
        ctx = {
            "package": packages[dist],
            "files": _files_cell(fix.changed[dist], declined_files(fix, dist)),
            "stubs": stubs,
        }
        for case in cases:
            o, f = orig[case.key], fixed[case.key]
            row = case_row(case, o, f, ctx)
            if case.load == "copy_state_dict":
                row = sat_copy_row(row, fix, f)
            rows.append(row)
            tracebacks += [
                f"{case.key} ({side}):\n{res['traceback']}"
                for side, res in (("original", o), ("fixed", f))
                if "traceback" in res
            ]
    return rows, tracebacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--keep", type=Path, help="work here and keep the copies")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    missing = [p.dist for p in PACKAGES if not (args.corpus / p.dist).is_dir()]
    if missing:
        print(f"missing under {args.corpus}: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        return run(args.corpus, args.keep)
    with tempfile.TemporaryDirectory(prefix="wnlint-migration-") as tmp:
        return run(args.corpus, Path(tmp))


def run(corpus: Path, work: Path) -> int:
    start = time.monotonic()
    work = work.resolve()  # wnlint runs from the repository root
    packages = copy_corpus(corpus, work)
    write_stubs(work / "stubs")
    (work / "ckpt").mkdir()
    (work / "out").mkdir()
    fix = run_wnlint(work)
    rows, tracebacks = model_rows(work, fix, packages)
    row, espnet_diff = espnet_row(fix, work, packages["espnet"])
    rows.append(row)

    print("# wnlint migration on released code: original checkpoints vs fixed models\n")
    print_table(rows)
    print_wnlint(fix)
    if espnet_diff:
        print(f"\n## Diff of espnet's `{ESPNET_EMBEDDING}`\n\n```diff")
        print("".join(espnet_diff).rstrip())
        print("```")
    if tracebacks:
        print("\n## Errors\n\n```")
        print("\n".join(tracebacks).rstrip())
        print("```")
    internal = [line for line in fix.other_stderr if "Traceback" in line]
    if fix.status not in (0, 1, 2):  # 2 may be a file it declined to fix
        internal.append(f"exit status {fix.status}")
    internal += [n for ns in fix.notes.values() for n in ns if "internal error" in n]
    failed = [row for row in rows if not row.ok]
    print()
    if internal:
        print(f"FAIL: wnlint fix failed: {'; '.join(internal)}")
    if failed:
        names = ", ".join(row.model for row in failed)
        print(f"FAIL: {len(failed)} of {len(rows)} checks: {names}")
    else:
        print(f"OK: all {len(rows)} checks passed")
    print(f"({time.monotonic() - start:.0f} s)")
    return 1 if failed or internal else 0


if __name__ == "__main__":
    sys.exit(main())
