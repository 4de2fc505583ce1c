"""``fixtures/reexports`` imported: each name wnlint resolves through the
package's own modules is, at run time, the object it says (torch's legacy
``weight_norm``, ``torch.nn``), and the near misses' names are not torch's.
Runs on the CPU; nothing here needs a device."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn as nn
from conftest import FIXTURES, imported_from


def test_the_followed_names_are_torchs_own():
    with imported_from(FIXTURES, "reexports.layers", ("reexports",)) as layers:
        assert layers.weight_norm is torch.nn.utils.weight_norm
        assert layers.utils is torch.nn.utils
        assert layers.remove_weight_norm is torch.nn.utils.remove_weight_norm
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            conv = layers.conv_layer(2, 2)
        assert hasattr(conv, "weight_g")  # the legacy API, as WN301 says


def test_of_two_star_imports_the_names_are_the_cores():
    with imported_from(FIXTURES, "reexports.two_stars", ("reexports",)) as two:
        assert two.weight_norm is torch.nn.utils.weight_norm
        assert two.remove_weight_norm is torch.nn.utils.remove_weight_norm


def test_the_reexported_nn_is_torchs():
    with imported_from(FIXTURES, "reexports.blocks", ("reexports",)) as blocks:
        assert blocks.nn is nn


def test_the_near_misses_names_are_the_packages():
    with imported_from(FIXTURES, "reexports.near_misses", ("reexports",)) as near:
        assert near.weight_norm is not torch.nn.utils.weight_norm
        assert not hasattr(near, "remove_weight_norm")  # kept out by __all__


def test_a_class_on_the_projects_base_is_a_module_with_the_defect_wn101_names():
    with imported_from(FIXTURES, "reexports.models", ("reexports",)) as models:
        layer = models.NormedLinear()
        assert isinstance(layer, nn.Module)
        assert not isinstance(models.NotAModule(), nn.Module)
        v = layer.v
        g = v.norm(dim=1, keepdim=True)
        w = g * v / v.norm(dim=1, keepdim=True)
        torch.testing.assert_close(w, v)  # the weight is v: no magnitude


def test_removers_over_the_packages_plain_layers_raise_and_the_normed_ones_do_not():
    """WN306's findings in ``vocoder.py``: the package's ``CausalConv1d`` is
    never weight-normed, so the remover raises on it (CosyVoice's
    ``CausalHiFTGenerator.remove_weight_norm``, reproduced on its source);
    layers that norm themselves, or are normed by an imported helper, are
    removed cleanly."""
    with imported_from(FIXTURES, "reexports.vocoder", ("reexports",)) as vocoder:
        torch.manual_seed(0)
        for positive in (vocoder.CausalSourceFilter, vocoder.CausalDowns):
            model = positive()
            with pytest.raises(ValueError, match="weight"):
                model.remove_weight_norm()
        for near_miss in (vocoder.NormedDowns, vocoder.HelpedDowns):
            model = near_miss()
            s = torch.randn(1, 2, 5)
            before = model(s)
            model.remove_weight_norm()
            assert not hasattr(model.downs[0], "parametrizations")
            torch.testing.assert_close(model(s), before)


def test_weight_dropout_through_star_imports_breaks_deepcopy():
    """``dropped.py``'s ``WeightDropout`` is an ``nn.Module`` (its base comes
    from ``base``, not ``restricted``), and after a training forward the
    wrapped layer holds a non-leaf weight: ``copy.deepcopy`` raises."""
    import copy

    with imported_from(FIXTURES, "reexports.dropped", ("reexports",)) as dropped:
        torch.manual_seed(0)
        layer = dropped.WeightDropout(nn.Linear(4, 3)).train()
        assert isinstance(layer, nn.Module)
        layer(torch.randn(2, 4)).sum().backward()
        assert layer.weight_raw.grad is not None
        with pytest.raises(RuntimeError, match="graph leaves"):
            copy.deepcopy(layer)
