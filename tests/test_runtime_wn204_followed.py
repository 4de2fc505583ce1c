"""WN204 beyond one function body, in torch: a method that re-applies the
weight norm ``__init__`` applied breaks the module, and the near misses
(different tensors of one module, exclusive branches, the apply/remove
idiom) run. Runs on CUDA when available, else on the CPU."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture

f204 = load_fixture("wn204_repeated_weight_norm")

STACKED = "missing 1 required positional argument: 'weight_v'"
TWO_HOOKS = "Cannot register two weight_norm hooks on the same parameter weight"


@pytest.fixture(autouse=True)
def _quiet_legacy_api():
    """The fixture uses the deprecated API on purpose (WN301 flags it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _conv_input(device):
    torch.manual_seed(0)
    return torch.randn(2, 4, 5, device=device)


# -- the other method re-applies: reported ---------------------------------------


@pytest.mark.parametrize(
    "cls",
    [
        "ReappliedInMethod",
        "ReappliedThroughLocalAlias",
        "ReappliedAfterHelper",
        "MaybeNormedInInit",
    ],
)
def test_method_reapplying_the_new_api_breaks_the_next_forward(cls, device):
    module = getattr(f204, cls)().to(device)
    x = _conv_input(device)
    module(x)  # fine before the method runs
    module.apply_weight_norm()  # accepted silently
    assert len(module.conv.parametrizations.weight) == 2
    with pytest.raises(TypeError, match=STACKED):
        module(x)


def test_method_reapplying_the_legacy_api_raises_at_once(device):
    module = f204.ReappliedLegacy().to(device)
    module(torch.randn(2, 4, device=device))
    with pytest.raises(RuntimeError, match=TWO_HOOKS):
        module.apply_weight_norm()


@pytest.mark.parametrize(
    ("build", "args"),
    [
        ("same_lstm_tensor_twice", ()),
        ("tests_on_two_variables", ("new", "twice")),
        ("kind_changed_between", ("new",)),
        ("every_kind_on_one_module", (nn.Conv1d(4, 4, 3),)),
    ],
)
def test_function_positives_stack_a_parametrization(build, args):
    module = getattr(f204, build)(*args)
    stacked = [len(p) for p in module.parametrizations.values()]
    assert stacked == [2]


# -- near misses: silent, and they work -------------------------------------------


def test_each_lstm_tensor_normed_once_runs(device):
    torch.manual_seed(0)
    rnn = f204.lstm_each_tensor_once(num_layers=2).to(device)
    names = {
        f"weight_{k}_l{i}{s}"
        for k in ("ih", "hh")
        for i in (0, 1)
        for s in ("", "_reverse")
    }
    assert set(rnn.parametrizations) == names
    assert all(len(p) == 1 for p in rnn.parametrizations.values())
    out, _ = rnn(torch.randn(3, 2, 4, device=device))
    assert out.shape == (3, 2, 8) and torch.isfinite(out).all()


@pytest.mark.parametrize("build", ["lstm_tensors_by_name", "lstm_tensors_from_a_list"])
def test_lstm_tensors_by_other_spellings_run(build, device):
    rnn = getattr(f204, build)().to(device)
    assert set(rnn.parametrizations) == {"weight_ih_l0", "weight_hh_l0"}
    out, _ = rnn(torch.randn(3, 2, 4, device=device))
    assert out.shape == (3, 2, 4)


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        ("new_or_legacy", "new"),
        ("new_or_legacy", "legacy"),
        ("disjoint_kinds", "new"),
        ("disjoint_kinds", "legacy"),
        ("if_elif_then_the_rest", "new"),
        ("if_elif_then_the_rest", "legacy"),
        ("if_elif_then_the_rest", "other"),
        ("flag_or_not", True),
        ("flag_or_not", False),
    ],
)
def test_exclusive_branches_norm_once_and_run(build, kind, device):
    conv = getattr(f204, build)(kind).to(device)
    _assert_normed_once(conv)
    assert conv(_conv_input(device)).shape == (2, 4, 3)


@pytest.mark.parametrize("new_api", [True, False])
def test_fallback_from_new_to_legacy_norms_each_conv_once(new_api, device):
    convs = f204.new_or_legacy_with_fallback("new", 3, new_api).to(device)
    x = _conv_input(device)
    for conv in convs:
        _assert_normed_once(conv)
        assert conv(x).shape == (2, 4, 3)


def _assert_normed_once(conv):
    if hasattr(conv, "parametrizations"):
        assert len(conv.parametrizations.weight) == 1
    else:
        assert hasattr(conv, "weight_g") and hasattr(conv, "weight_v")


@pytest.mark.parametrize(
    ("cls", "method"),
    [
        ("NormedOnDemand", "apply_weight_norm"),
        ("RemovedThenApplied", "reapply_weight_norm"),
        ("RemovedThenApplied", "renorm"),
        ("NormedInInitOrLater", "apply_weight_norm"),
        ("FreshModuleInMethod", "reset"),
    ],
)
def test_methods_that_norm_once_run(cls, method, device):
    module = getattr(f204, cls)().to(device)
    x = _conv_input(device)
    getattr(module, method)()
    module.to(device)
    assert module(x).shape == (2, 4, 3)
    assert len(module.conv.parametrizations.weight) == 1


def test_hifigan_idiom_round_trips(device):
    module = f204.NormedOnDemand().to(device)
    x = _conv_input(device)
    before = module(x)
    module.apply_weight_norm()
    torch.testing.assert_close(module(x), before)
    module.remove_weight_norm()
    module.apply_weight_norm()
    torch.testing.assert_close(module(x), before)


def test_applied_from_init_or_not(device):
    x = _conv_input(device)
    normed = f204.AppliedFromInit().to(device)
    assert len(normed.conv.parametrizations.weight) == 1
    plain = f204.AppliedFromInit(use_weight_norm=False).to(device)
    plain.apply_weight_norm()
    assert len(plain.conv.parametrizations.weight) == 1
    assert plain(x).shape == normed(x).shape


def test_normed_in_init_or_later_either_way(device):
    x = _conv_input(device)
    for norm_in_init in (True, False):
        module = f204.NormedInInitOrLater(norm_in_init).to(device)
        module.apply_weight_norm()
        module.to(device)
        assert len(module.conv.parametrizations.weight) == 1
        assert module(x).shape == (2, 4, 3)


def test_other_tensor_in_method_runs(device):
    module = f204.OtherTensorInMethod().to(device)
    module.apply_weight_norm()
    assert set(module.rnn.parametrizations) == {"weight_ih_l0", "weight_hh_l0"}
    assert len(module.proj.parametrizations.weight) == 1
    out = module(torch.randn(3, 2, 4, device=device))
    assert out.shape == (3, 2, 4)
