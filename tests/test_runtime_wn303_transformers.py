"""WN303's fix on real models: transformers 5.23.0's ``DacModel``,
``UnivNetModel`` and ``SpeechT5HifiGan``.

Their ``apply_weight_norm`` goes through the version-gated shim, which on
torch >= 2.1 applies ``nn.utils.parametrizations.weight_norm``, while their
``remove_weight_norm`` calls the legacy ``nn.utils.remove_weight_norm``: on
the installed, unfixed modeling files removal raises ``ValueError``.

Each modeling file is copied, fixed with ``wnlint fix`` and imported as a
module of the original package, so that its relative imports resolve to
the installed transformers. Built from a tiny config, the fixed model's
removal then works, leaves no parametrization behind, and keeps the
outputs of the weight-normed model.

Runs on CUDA when available, else on the CPU. Skipped where transformers is
not installed (5.23.0 needs Python >= 3.11).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import sys
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import torch
import torch.nn as nn
from conftest import run_cli

transformers = pytest.importorskip("transformers")


def _dac_inputs(generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    # (batch, 1, time): 32 samples, a multiple of the hop length 2 * 2.
    return (torch.randn(2, 1, 32, generator=generator),)


def _univnet_inputs(generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    # A spectrogram (batch, frames, num_mel_bins) and the noise the model
    # would otherwise draw at random (batch, frames, model_in_channels).
    spectrogram = torch.randn(2, 8, 6, generator=generator)
    noise = torch.randn(2, 8, 4, generator=generator)
    return spectrogram, noise


def _hifigan_inputs(generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    # A spectrogram (batch, frames, model_in_dim).
    return (torch.randn(2, 8, 6, generator=generator),)


@dataclass
class Case:
    package: str
    module: str
    model: str
    config: str
    config_kwargs: dict[str, Any]
    # ``nn.utils.remove_weight_norm`` statements in the modeling file: each
    # is a WN303 finding that the fix rewrites.
    removers: int
    inputs: Callable[[torch.Generator], tuple[torch.Tensor, ...]]
    # Whether ``forward`` takes ``return_dict`` (all outputs then come back
    # as a tuple, the DAC's codebook indices included).
    return_dict: bool = True


CASES = {
    "dac": Case(
        package="transformers.models.dac",
        module="modeling_dac",
        model="DacModel",
        config="DacConfig",
        config_kwargs={
            "encoder_hidden_size": 4,
            "downsampling_ratios": [2, 2],
            "decoder_hidden_size": 16,
            "n_codebooks": 2,
            "codebook_size": 16,
            "codebook_dim": 4,
        },
        removers=20,
        inputs=_dac_inputs,
    ),
    "univnet": Case(
        package="transformers.models.univnet",
        module="modeling_univnet",
        model="UnivNetModel",
        config="UnivNetConfig",
        config_kwargs={
            "model_in_channels": 4,
            "model_hidden_channels": 4,
            "num_mel_bins": 6,
            "resblock_kernel_sizes": [3, 3],
            "resblock_stride_sizes": [2, 2],
            "resblock_dilation_sizes": [[1, 3], [1, 3]],
            "kernel_predictor_num_blocks": 1,
            "kernel_predictor_hidden_channels": 4,
            # The default 0.01 leaves outputs near 1e-5, inside
            # assert_close's tolerance of any change to the weights.
            "initializer_range": 0.2,
        },
        removers=9,
        inputs=_univnet_inputs,
    ),
    "speecht5_hifigan": Case(
        package="transformers.models.speecht5",
        module="modeling_speecht5",
        model="SpeechT5HifiGan",
        config="SpeechT5HifiGanConfig",
        config_kwargs={
            "model_in_dim": 6,
            "upsample_initial_channel": 8,
            "upsample_rates": [2, 2],
            "upsample_kernel_sizes": [4, 4],
            "resblock_kernel_sizes": [3],
            "resblock_dilation_sizes": [[1, 3]],
            "initializer_range": 0.2,  # as for UnivNet
        },
        removers=5,
        inputs=_hifigan_inputs,
        return_dict=False,
    ),
}

# The guarded remover, with the same module expression in all three places.
GUARDED = re.compile(
    r'^(?P<indent> *)if hasattr\((?P<m>[\w.]+), "parametrizations"\):\n'
    r'(?P<body> +)nn\.utils\.parametrize\.remove_parametrizations\((?P=m), "weight"\)\n'
    r"(?P=indent)else:\n"
    r"(?P=body)nn\.utils\.remove_weight_norm\((?P=m)\)\n",
    re.MULTILINE,
)


@dataclass
class Fixed:
    case: Case
    fix: Any  # the CompletedProcess of ``wnlint fix``
    source: str  # the fixed modeling file
    module: Any  # the fixed modeling file, imported


@pytest.fixture(scope="module", params=sorted(CASES))
def fixed(request, tmp_path_factory):
    """The case's modeling file, fixed in a copy and imported as a module of
    the original package."""
    case = CASES[request.param]
    original = importlib.import_module(f"{case.package}.{case.module}")
    copy = tmp_path_factory.mktemp(request.param) / f"{case.module}.py"
    shutil.copyfile(original.__file__, copy)
    result = run_cli("fix", str(copy))

    name = f"wnlint_fixed_{request.param}_{case.module}"
    spec = importlib.util.spec_from_file_location(name, copy)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # ``from ...modeling_utils import PreTrainedModel`` resolves against
    # ``__package__``; transformers also looks classes' modules up in
    # ``sys.modules``.
    module.__package__ = case.package
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield Fixed(case, result, copy.read_text(encoding="utf-8"), module)
    finally:
        sys.modules.pop(name, None)


def build(module, case: Case, device) -> nn.Module:
    config = getattr(transformers, case.config)(**case.config_kwargs)
    torch.manual_seed(0)
    model = getattr(module, case.model)(config)
    return model.to(device=device, dtype=torch.float32).eval()


def weight_normed(module, case: Case, device) -> nn.Module:
    """The model after its own ``apply_weight_norm`` (none of the three
    applies weight norm in ``__init__``)."""
    model = build(module, case, device)
    model.apply_weight_norm()
    return model


def parametrized(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if hasattr(m, "parametrizations")]


def run(model: nn.Module, case: Case, inputs: tuple[torch.Tensor, ...]):
    with torch.no_grad():
        if case.return_dict:
            return model(*inputs, return_dict=False)
        return model(*inputs)


def test_the_fix_guards_every_remover(fixed):
    case = fixed.case
    assert fixed.fix.returncode == 0, fixed.fix.stderr
    assert f"fixed {case.removers} findings in 1 files, 0 remaining" in (
        fixed.fix.stderr
    )
    assert len(GUARDED.findall(fixed.source)) == case.removers
    # Every legacy remover left is the else branch of a guard.
    assert fixed.source.count("nn.utils.remove_weight_norm(") == case.removers
    remaining = run_cli(
        "check", "--select", "WN302,WN303", fixed.module.__file__, "--quiet"
    )
    assert remaining.returncode == 0, remaining.stdout


def test_the_fixed_copy_imports_the_installed_transformers(fixed):
    case = fixed.case
    assert fixed.module.__package__ == case.package
    assert getattr(fixed.module, case.config) is getattr(transformers, case.config)
    assert issubclass(getattr(fixed.module, case.model), transformers.PreTrainedModel)


@pytest.mark.parametrize("name", sorted(CASES))
def test_removal_raises_before_the_fix(name, device):
    """The bug: the legacy remover finds no ``weight_g`` on a module that
    the shim normed with the parametrization."""
    case = CASES[name]
    original = importlib.import_module(f"{case.package}.{case.module}")
    model = weight_normed(original, case, device)
    assert parametrized(model)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        model.remove_weight_norm()


def test_removal_works_after_the_fix_with_the_same_outputs(fixed, device):
    """Weight norm as just applied reproduces the weights it started from
    (``v`` is the old weight, ``g`` its norm), so each magnitude ``g`` is
    first scaled by a random factor, as training would change it: the
    outputs then match only if removal keeps the normed weight
    ``g * v / ||v||``, not ``v``."""
    case = fixed.case
    model = weight_normed(fixed.module, case, device)
    normed = parametrized(model)
    assert normed
    assert not any(hasattr(m, "weight_g") for m in model.modules())
    generator = torch.Generator().manual_seed(1)
    inputs = tuple(x.to(device) for x in case.inputs(generator))
    unscaled = run(model, case, inputs)
    with torch.no_grad():
        for m in normed:
            g = m.parametrizations.weight.original0
            g.mul_((torch.rand(g.shape, generator=generator) + 0.5).to(device))

    expected = run(model, case, inputs)
    # What a removal that kept ``v`` would give: it must be told apart.
    with pytest.raises(AssertionError):
        torch.testing.assert_close(expected, unscaled)
    model.remove_weight_norm()
    got = run(model, case, inputs)

    assert not parametrized(model)
    assert not any("parametrizations" in n for n, _ in model.named_parameters())
    assert all(isinstance(m.weight, nn.Parameter) for m in normed)
    torch.testing.assert_close(got, expected)
