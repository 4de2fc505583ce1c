"""WN203 followed across function bodies, in torch: every ``# expect: WN203``
of ``fixtures/wn203_followed.py`` and ``fixtures/wn203_package`` is an
initialisation that has no effect, and every near miss is correct code.

Two measurements, both exact:

* the weight a forward uses is compared with the one it had just before the
  init ran (the init function or method is wrapped to record it): a
  positive's weight is unchanged, it keeps its default init;
* the model is built twice from the same seed, once as written and once with
  ``weight_norm`` replaced by the identity. Weight norm starts at
  ``g = ||v||``, so it changes no weight by itself and draws no random
  numbers: correct code gives the same weights both ways, and a positive
  differs exactly on the layers its init was meant for (the init takes
  effect without weight norm, and the requested scale shows).

Runs on the CPU: the fixtures initialise at construction.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterable

import pytest
import torch
import torch.nn as nn
from conftest import FIXTURES, load_fixture
from torch.nn.utils import parametrize
from torch.nn.utils.weight_norm import WeightNorm

f203 = load_fixture("wn203_followed")

#: The names the fixture binds weight norm to (the new API, the legacy one).
NORMS = ("weight_norm", "legacy_weight_norm")


def no_weight_norm(module, name="weight", dim=0):
    """Stands in for either API: the layer as it was built."""
    return module


def effective_weight(module: nn.Module) -> torch.Tensor | None:
    """The weight the module's next forward uses (None: it has none).

    The legacy API keeps ``module.weight`` as a plain attribute that its
    forward pre-hook recomputes from g and v; read it the way the hook does.
    """
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm):
            return hook.compute_weight(module).detach().clone()
    weight = getattr(module, "weight", None)
    return weight.detach().clone() if isinstance(weight, torch.Tensor) else None


def is_weight_normed(module: nn.Module) -> bool:
    return parametrize.is_parametrized(module, "weight") or hasattr(module, "weight_g")


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    found = {}
    for name, module in model.named_modules():
        weight = effective_weight(module)
        if weight is not None:
            found[name] = weight
    return found


def recording(fn, tree: bool = False):
    """``fn`` that first records the effective weight of its first argument
    (``tree``: of every module under it), once per module; for init
    functions run by ``.apply`` and for methods of ``self``."""
    before: dict[nn.Module, torch.Tensor] = {}

    def wrapper(module, *args, **kwargs):
        for m in module.modules() if tree else [module]:
            weight = effective_weight(m)
            if weight is not None and m not in before:
                before[m] = weight
        return fn(module, *args, **kwargs)

    wrapper.before = before
    return wrapper


def build(
    monkeypatch,
    factory,
    *,
    normed: bool = True,
    record: tuple = (),
    tree: bool = False,
    where=f203,
    norms: tuple[str, ...] = NORMS,
    norm_where=None,
):
    """``factory()`` from seed 0, with ``where.<record[0]>`` (a function or,
    for ``record=(cls, name)``, a method) recording; ``normed=False`` builds
    it with weight norm replaced by the identity. Returns the model and the
    recorded weights by module."""
    with monkeypatch.context() as mp:
        before: dict = {}
        if record:
            owner, name = (where, record[0]) if len(record) == 1 else record
            wrapped = recording(getattr(owner, name), tree=tree)
            mp.setattr(owner, name, wrapped)
            before = wrapped.before
        if not normed:
            for name in norms:
                mp.setattr(norm_where or where, name, no_weight_norm)
        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = factory()
    return model, before


def twice(monkeypatch, factory, **kwargs):
    """The same code built from the same seed with and without weight norm:
    (normed model, its weights, plain model, its weights)."""
    normed, _ = build(monkeypatch, factory, **kwargs)
    plain, _ = build(monkeypatch, factory, normed=False, **kwargs)
    return normed, weights(normed), plain, weights(plain)


def assert_same_weights(normed_weights, plain_weights):
    assert normed_weights.keys() == plain_weights.keys()
    for name, weight in plain_weights.items():
        torch.testing.assert_close(normed_weights[name], weight, msg=name)


def assert_untouched(before, modules: Iterable[nn.Module]):
    """The init ran on these modules and their weight is what it was."""
    modules = list(modules)
    assert modules
    for module in modules:
        assert module in before, module
        assert is_weight_normed(module)
        assert torch.equal(effective_weight(module), before[module])


def assert_initialised(before, modules, std: float):
    """The init ran on these modules, changed their weight, and the weight
    has the requested scale (the default init's std is 0.14 to 0.33 here)."""
    modules = list(modules)
    assert modules
    for module in modules:
        assert module in before, module
        weight = effective_weight(module)
        assert not torch.equal(weight, before[module])
        assert weight.std() < 2 * std


def default_scale(weight: torch.Tensor, requested_std: float) -> bool:
    """The weight's scale is far above the one the init asked for."""
    return bool(weight.std() > 4 * requested_std)


def convs(model: nn.Module, kinds=(nn.Conv1d, nn.ConvTranspose1d)):
    return [m for m in model.modules() if isinstance(m, kinds)]


# -- Pattern 1: .apply(init) over weight-normed layers ----------------------------


def test_resblock_apply_after_weight_norm_keeps_the_default_init(monkeypatch):
    model, before = build(monkeypatch, f203.ResBlock, record=("init_weights",))
    assert_untouched(before, model.convs)
    assert all(default_scale(effective_weight(c), 0.01) for c in model.convs)

    plain, before = build(
        monkeypatch, f203.ResBlock, normed=False, record=("init_weights",)
    )
    assert_initialised(before, plain.convs, std=0.01)


def test_resblock_differs_from_the_same_code_without_weight_norm(monkeypatch):
    _, normed, _, plain = twice(monkeypatch, f203.ResBlock)
    for name in ("convs.0", "convs.1"):
        assert not torch.allclose(normed[name], plain[name])
    model = f203.ResBlock()
    assert model(torch.randn(2, 4, 8)).shape == (2, 4, 8)


def test_generator_both_apis(monkeypatch):
    model, before = build(monkeypatch, f203.Generator, record=("init_weights",))
    # The upsampling layers are on the legacy API, conv_post on the new one.
    assert all(hasattr(up, "weight_g") for up in model.ups)
    assert parametrize.is_parametrized(model.conv_post, "weight")
    assert_untouched(before, [*model.ups, model.conv_post])
    for up in model.ups:
        assert default_scale(effective_weight(up), 0.01)
        # The write did land in the legacy API's plain attribute, which the
        # next forward overwrites.
        assert up.weight.std() < 0.02
    model(torch.randn(1, 1, 5))
    for up in model.ups:
        assert torch.equal(up.weight, before[up])
        assert default_scale(up.weight, 0.01)

    plain, before = build(
        monkeypatch, f203.Generator, normed=False, record=("init_weights",)
    )
    assert_initialised(before, [*plain.ups, plain.conv_post], std=0.01)


def test_generator_only_the_initialised_layers_differ(monkeypatch):
    _, normed, _, plain = twice(monkeypatch, f203.Generator)
    torch.testing.assert_close(normed["conv_pre"], plain["conv_pre"])
    for name in ("ups.0", "ups.1", "conv_post"):
        assert not torch.allclose(normed[name], plain[name])


def test_encoder_whole_model_apply_after_helper_built_blocks(monkeypatch):
    model, before = build(monkeypatch, f203.Encoder, record=("init_conv_kaiming",))
    assert len(convs(model)) == 5
    assert_untouched(before, convs(model))

    plain, before = build(
        monkeypatch, f203.Encoder, normed=False, record=("init_conv_kaiming",)
    )
    for conv in convs(plain):
        assert not torch.equal(effective_weight(conv), before[conv])
    _, normed_w, _, plain_w = twice(monkeypatch, f203.Encoder)
    assert all(not torch.allclose(normed_w[n], plain_w[n]) for n in plain_w)


def test_function_local_sequential_apply(monkeypatch):
    model, before = build(monkeypatch, f203.build_linear_model, record=("init_linear",))
    assert_untouched(before, [model[0]])
    _, normed, _, plain = twice(monkeypatch, f203.build_linear_model)
    assert not torch.allclose(normed["0"], plain["0"])


# -- Pattern 1 through methods (espnet) ---------------------------------------------


def test_espnet_reset_after_apply_weight_norm(monkeypatch):
    record = (f203.EspnetResBlock, "reset_parameters")
    model, before = build(monkeypatch, f203.EspnetResBlock, record=record, tree=True)
    assert is_weight_normed(model.up)
    assert_untouched(before, model.convs)
    assert all(default_scale(effective_weight(c), 0.01) for c in model.convs)

    plain, before = build(
        monkeypatch, f203.EspnetResBlock, normed=False, record=record, tree=True
    )
    assert_initialised(before, plain.convs, std=0.01)
    # ConvTranspose1d is not a Conv1d: _reset leaves it alone either way.
    assert torch.equal(effective_weight(plain.up), before[plain.up])
    assert model(torch.randn(1, 4, 6)).shape == (1, 4, 12)


# -- Pattern 2: a helper's layer initialised in the same body -------------------------


def test_zeros_after_the_helper_has_no_effect(monkeypatch):
    model, _ = build(monkeypatch, f203.Projection)
    assert is_weight_normed(model.proj)
    assert model.proj.weight.abs().max() > 0.1
    assert torch.count_nonzero(model.proj.bias) == 0
    assert torch.count_nonzero(model.skip.weight) == 0

    plain, _ = build(monkeypatch, f203.Projection, normed=False)
    assert torch.count_nonzero(plain.proj.weight) == 0


# -- Pattern 3: a method called after weight norm -----------------------------------


def test_reset_method_after_weight_norm(monkeypatch):
    record = (f203.Reset, "reset")
    model, before = build(monkeypatch, f203.Reset, record=record, tree=True)
    assert_untouched(before, [model.conv1])
    assert default_scale(effective_weight(model.conv1), 0.02)
    assert_initialised(before, [model.conv2], std=0.02)  # the plain conv2

    plain, before = build(
        monkeypatch, f203.Reset, normed=False, record=record, tree=True
    )
    assert_initialised(before, [plain.conv1, plain.conv2], std=0.02)


# -- Pattern 4: an isinstance hook --------------------------------------------------


def hook_run(model: nn.Module) -> dict[nn.Module, torch.Tensor]:
    """What transformers' ``post_init()`` does, recording the weights first."""
    before = {m: w for m in model.modules() if (w := effective_weight(m)) is not None}
    model.apply(model._init_weights)
    return before


def test_isinstance_hook_on_a_weight_normed_layer(monkeypatch):
    model, _ = build(monkeypatch, f203.Wav2VecLike)
    before = hook_run(model)
    conv = model.pos_conv.conv
    assert_untouched(before, [conv])
    assert default_scale(conv.weight, 0.1 / 4)  # U(-1/sqrt(6), 1/sqrt(6)): 0.24
    assert torch.count_nonzero(conv.bias) == 0  # the bias write does land
    assert_initialised(before, [model.plain_conv.conv], std=0.1)
    assert_initialised(before, [model.proj], std=0.02)
    assert model(torch.randn(2, 4, 5)).shape == (2, 5, 4)

    plain, _ = build(monkeypatch, f203.Wav2VecLike, normed=False)
    before = hook_run(plain)
    assert_initialised(before, [plain.pos_conv.conv], std=0.1)


def test_a_relative_write_in_a_hook_has_no_effect(monkeypatch):
    """``m.weight.data *= 0.1`` after weight norm scales a weight that the
    next forward recomputes: it keeps its default init; without weight norm
    the same hook scales it by exactly 0.1."""
    model, before = build(monkeypatch, f203.ScaledAfterNorm, record=("scale_convs",))
    assert_untouched(before, [model.conv])
    plain, plain_before = build(
        monkeypatch, f203.ScaledAfterNorm, normed=False, record=("scale_convs",)
    )
    torch.testing.assert_close(
        effective_weight(plain.conv), 0.1 * plain_before[plain.conv]
    )
    torch.testing.assert_close(plain_before[plain.conv], before[model.conv])


# -- Pattern 5: a hook that skips some classes ---------------------------------------


def test_a_hook_skipping_linear_still_reaches_the_normed_conv(monkeypatch):
    model, before = build(
        monkeypatch, f203.ConvAndHeadButLinear, record=("init_all_but_linear",)
    )
    assert_untouched(before, [model.conv])
    assert default_scale(effective_weight(model.conv), 0.01)
    assert torch.equal(model.head.weight, before[model.head])  # skipped
    plain, before = build(
        monkeypatch,
        f203.ConvAndHeadButLinear,
        normed=False,
        record=("init_all_but_linear",),
    )
    assert_initialised(before, [plain.conv], std=0.01)


@pytest.mark.parametrize(
    ("factory", "hook"),
    [
        (f203.ConvAndHeadButConv, "init_all_but_conv"),
        (f203.ConvAndHeadLinearOnly, "init_linear_only"),
    ],
)
def test_hooks_that_skip_the_normed_conv_init_the_head_alone(
    monkeypatch, factory, hook
):
    model, before = build(monkeypatch, factory, record=(hook,))
    assert torch.equal(effective_weight(model.conv), before[model.conv])
    assert_initialised(before, [model.head], std=0.01)
    assert model(torch.randn(2, 4, 5)).shape == (2, 5, 2)


# -- Near misses: correct code ------------------------------------------------------


@pytest.mark.parametrize(
    "factory",
    [
        f203.InitThenNorm,
        f203.build_linear_model_init_first,
        f203.ZeroBias,
        f203.PlainStack,
        f203.ConvThenHead,
        f203.ResetsThePlainConv,
        f203.ConvAndHeadButConv,
        f203.ConvAndHeadLinearOnly,
    ],
    ids=lambda f: f.__name__,
)
def test_near_miss_weights_match_the_same_code_without_weight_norm(
    monkeypatch, factory
):
    model, normed, _, plain = twice(monkeypatch, factory)
    assert any(is_weight_normed(m) for m in model.modules())
    assert_same_weights(normed, plain)


def test_init_before_weight_norm_is_kept(monkeypatch):
    model, before = build(monkeypatch, f203.InitThenNorm, record=("init_weights",))
    assert_initialised(before, model.convs, std=0.01)
    assert all(is_weight_normed(c) for c in model.convs)


def test_init_before_weight_norm_in_a_function_is_kept(monkeypatch):
    model, before = build(
        monkeypatch, f203.build_linear_model_init_first, record=("init_linear",)
    )
    assert is_weight_normed(model[0])
    assert not torch.equal(effective_weight(model[0]), before[model[0]])


def test_bias_only_init_takes_effect():
    model = f203.ZeroBias()
    assert all(is_weight_normed(c) for c in model.convs)
    assert all(torch.count_nonzero(c.bias) == 0 for c in model.convs)


def test_plain_layers_are_initialised_and_the_normed_one_is_not_touched(monkeypatch):
    model, before = build(monkeypatch, f203.PlainStack, record=("init_weights",))
    assert model.conv_pre not in before
    assert_initialised(before, model.convs, std=0.01)


def test_linear_init_over_weight_normed_convs(monkeypatch):
    model, before = build(monkeypatch, f203.ConvThenHead, record=("init_linear",))
    for conv in model.convs:  # visited, not an nn.Linear: left alone
        assert torch.equal(effective_weight(conv), before[conv])
    assert not torch.equal(model.head.weight, before[model.head])


def test_writes_to_v_change_the_weight_on_both_apis(monkeypatch):
    model, before = build(monkeypatch, f203.InitsTheLeaves, record=("init_direction",))
    assert all(parametrize.is_parametrized(c, "weight") for c in model.convs)
    for conv in model.convs:
        weight = effective_weight(conv)
        assert not torch.equal(weight, before[conv])
        v = conv.parametrizations.weight.original1
        assert v.std() < 0.02
        g = conv.parametrizations.weight.original0
        torch.testing.assert_close(weight, g * v / v.norm(dim=(1, 2), keepdim=True))

    record = ("init_legacy_direction",)
    model, before = build(monkeypatch, f203.InitsTheLeaves, record=record)
    assert hasattr(model.up, "weight_v")
    assert not torch.equal(effective_weight(model.up), before[model.up])
    assert model.up.weight_v.std() < 0.02
    model(torch.randn(1, 4, 5))
    torch.testing.assert_close(model.up.weight, effective_weight(model.up))


def test_reset_of_a_plain_conv_takes_effect(monkeypatch):
    record = (f203.ResetsThePlainConv, "reset")
    model, before = build(
        monkeypatch, f203.ResetsThePlainConv, record=record, tree=True
    )
    assert_initialised(before, [model.conv], std=0.02)
    assert torch.equal(effective_weight(model.post), before[model.post])
    assert torch.count_nonzero(model.post.bias) == 0


def test_isinstance_hook_on_a_plain_layer_takes_effect(monkeypatch):
    model, _ = build(monkeypatch, f203.Wav2VecLike)
    before = hook_run(model)
    conv = model.plain_conv.conv
    assert not is_weight_normed(conv)
    assert_initialised(before, [conv], std=0.1)


# -- The package: a helper and an init function from sibling modules -------------


@pytest.fixture
def package():
    """``wn203_package`` imported as its own top-level package (model.py
    imports ``wn203_package.layers`` by that name); sys.path and sys.modules
    are restored afterwards."""
    path = str(FIXTURES)
    sys.path.insert(0, path)
    try:
        model = importlib.import_module("wn203_package.model")
        layers = importlib.import_module("wn203_package.layers")
        yield model, layers
    finally:
        sys.path.remove(path)
        for name in [n for n in sys.modules if n.split(".")[0] == "wn203_package"]:
            del sys.modules[name]


def test_package_model_apply_after_sibling_helper(monkeypatch, package):
    pkg_model, layers = package
    kwargs = dict(where=pkg_model, norms=("weight_norm",), norm_where=layers)
    model, before = build(
        monkeypatch, pkg_model.Model, record=("init_weights",), **kwargs
    )
    assert len(convs(model)) == 4
    assert_untouched(before, convs(model))
    assert all(default_scale(effective_weight(c), 0.02) for c in convs(model))
    assert all(torch.count_nonzero(c.bias) == 0 for c in convs(model))

    plain, before = build(
        monkeypatch, pkg_model.Model, normed=False, record=("init_weights",), **kwargs
    )
    assert_initialised(before, convs(plain), std=0.02)
    assert model(torch.randn(1, 4, 6)).shape == (1, 4, 6)


@pytest.mark.parametrize("name", ["Codec", "PackagedCodec"])
def test_package_codec_apply_through_two_modules(monkeypatch, package, name):
    """``codec.py`` holds ``quantize.py``'s quantizer (directly, or by the
    name the package's ``__init__`` hands on), whose projections
    ``layers.py`` weight-norms: the init misses all four."""
    _, layers = package
    codec = importlib.import_module("wn203_package.codec")
    factory = getattr(codec, name)
    kwargs = dict(where=codec, norms=("weight_norm",), norm_where=layers)
    model, before = build(monkeypatch, factory, record=("init_weights",), **kwargs)
    assert len(convs(model)) == 4
    assert_untouched(before, convs(model))
    plain, before = build(
        monkeypatch, factory, normed=False, record=("init_weights",), **kwargs
    )
    assert_initialised(before, convs(plain), std=0.02)


def test_package_star_imported_init_misses_the_normed_layer(package):
    """``vocoder.py``'s ``init_weights`` comes through two star imports
    (the ``blocks`` subpackage's ``__init__``, then ``gan_utils``): the
    weight-normed convolution keeps its default initialisation."""
    vocoder = importlib.import_module("wn203_package.vocoder")
    torch.manual_seed(0)
    block = vocoder.ResBlock()
    conv = block.convs[0]
    assert is_weight_normed(conv)
    torch.manual_seed(0)
    default = nn.Conv1d(4, 4, 3, padding=1).weight
    assert torch.allclose(effective_weight(conv), default, atol=1e-6)
    assert float(effective_weight(conv).std()) > 0.05  # not N(0, 0.01)


@pytest.mark.parametrize("name", ["PlainModel", "PlainHead"])
def test_package_near_misses(monkeypatch, package, name):
    pkg_model, layers = package
    kwargs = dict(where=pkg_model, norms=("weight_norm",), norm_where=layers)
    factory = getattr(pkg_model, name)
    _, before = build(monkeypatch, factory, record=("init_weights",), **kwargs)
    targets = [m for m in before if isinstance(m, nn.Conv1d)]
    assert not any(is_weight_normed(m) for m in targets)
    assert_initialised(before, targets, std=0.02)
    normed, normed_w, _, plain_w = twice(monkeypatch, factory, **kwargs)
    assert_same_weights(normed_w, plain_w)
    assert (name == "PlainHead") == any(is_weight_normed(m) for m in normed.modules())


def test_init_through_apply_in_a_function_has_no_effect():
    """``model.apply(init)`` over a function-local ``nn.Sequential`` whose
    layer was weight-normed when built: the init changes nothing."""
    original = load_fixture("wn203_init_after_weight_norm")
    torch.manual_seed(0)
    model = original.init_through_apply()
    torch.manual_seed(0)
    untouched = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3))
    assert torch.equal(model[0].weight, untouched.weight)
