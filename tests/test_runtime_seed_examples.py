"""The seed reports' examples in torch: each finding's pathology happens as
its message says (and not always as the report says). Runs on CUDA when
available, else on the CPU.

The examples are run as written; where a report's own usage code fails for
a reason that is not weight norm (a non-scalar ``backward()``, a shape
mismatch), only its imports and classes are executed and the test drives
them.
"""

from __future__ import annotations

import ast
import copy

import pytest
import torch
from conftest import FIXTURES

SEEDS = FIXTURES / "seeds"


def definitions(name: str) -> dict:
    """The example's imports and classes, executed; its usage code is not."""
    path = SEEDS / name
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    keep = (ast.Import, ast.ImportFrom, ast.ClassDef)
    tree.body = [node for node in tree.body if isinstance(node, keep)]
    namespace: dict = {}
    exec(compile(tree, str(path), "exec"), namespace)
    return namespace


def whole(name: str) -> dict:
    """The example executed as written."""
    path = SEEDS / name
    namespace: dict = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace


def test_seed000_example1_wn104_scale_gets_no_gradient(device):
    torch.manual_seed(0)
    model = definitions("seed000_example1.py")["WeightNormLinear"](4, 3).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    before = model.weight_g.detach().clone()
    model(torch.randn(2, 4, device=device)).sum().backward()
    assert model.weight_g.grad is None  # never in the graph
    assert model.weight_v.grad is not None
    optimizer.step()
    assert torch.equal(model.weight_g.detach(), before)  # never trains
    # and no "non-leaf" error, whatever the report says: every parameter is a leaf
    assert all(p.is_leaf for p in model.parameters())


def test_seed000_example2_wn102_stored_weight_breaks_deepcopy(device):
    torch.manual_seed(0)
    model = definitions("seed000_example2.py")["WeightNormLinear"](4, 3).to(device)
    copy.deepcopy(model)  # fine before a forward
    model(torch.randn(2, 4, device=device)).sum().backward()
    assert not model.weight.is_leaf
    assert "weight" not in dict(model.named_parameters())
    assert "weight" not in model.state_dict()
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(model)


def test_seed000_example3_wn301_legacy_weight_breaks_deepcopy(device):
    with pytest.warns(FutureWarning, match="deprecated"):
        namespace = whole("seed000_example3.py")
    assert isinstance(namespace["optimizer"], torch.optim.Adam)
    layer = namespace["model"].to(device)
    layer(torch.randn(2, 10, device=device)).sum().backward()
    assert not layer.weight.is_leaf  # recomputed by a hook, stored on the module
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(layer)
    # the API wnlint migrates to: the same layer deep-copies after a forward
    fixed = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(10, 5))
    fixed = fixed.to(device)
    fixed(torch.randn(2, 10, device=device)).sum().backward()
    copy.deepcopy(fixed)


def test_seed002_example1_wn101_weight_is_its_own_direction(device):
    torch.manual_seed(0)
    cls = definitions("seed002_example1.py")["IncorrectWeightNorm"]
    w = torch.randn(10, 5, device=device)
    module = cls(w.clone()).to(device)
    x = torch.randn(3, 10, device=device)
    out = module(x)
    # g = ||v|| cancels the normalization: the layer is a plain matmul by v
    torch.testing.assert_close(out, x @ w, rtol=1e-5, atol=1e-5)
    out.sum().backward()
    # the gradient is not None (the report's claim), it is a plain layer's
    plain = w.clone().requires_grad_()
    (x @ plain).sum().backward()
    torch.testing.assert_close(module.w.grad, plain.grad, rtol=1e-4, atol=1e-4)
    # and there is no magnitude to learn: one parameter, the direction
    assert [n for n, _ in module.named_parameters()] == ["w"]
    # the report's own usage raises for a reason that is not weight norm
    with pytest.raises(RuntimeError, match="scalar outputs"):
        whole("seed002_example1.py")


def test_seed002_example2_wn103_norm_drifts_from_g_after_a_step(device):
    torch.manual_seed(0)
    cls = definitions("seed002_example2.py")["PartiallyCorrectWeightNorm"]
    module = cls(torch.randn(10, 5, device=device)).to(device)
    # at initialisation the weight's norm is |g|
    torch.testing.assert_close((module.g * module.v).norm(), module.g.abs().detach())
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5)
    module(torch.randn(3, 10, device=device)).square().sum().backward()
    optimizer.step()
    # after one step v is no longer unit-norm, so ||w|| != |g|
    w = module.g * module.v
    gap = (w.norm() - module.g.abs()).abs().item()
    assert gap > 1e-2, gap


def test_seed002_example3_is_right_weight_norm(device):
    """No finding: g and v both train and every row of the weight has norm
    |g| (up to the epsilon), as torch's weight norm gives."""
    torch.manual_seed(0)
    module = definitions("seed002_example3.py")["CorrectWeightNorm"](10, 5).to(device)
    with torch.no_grad():
        module.g.mul_(torch.linspace(0.5, 2.0, 5, device=device))
    # its matmul wants x with 5 columns: the report's 10 is a shape bug
    with pytest.raises(RuntimeError):
        module(torch.randn(10, 10, device=device))
    out = module(torch.randn(3, 5, device=device))
    out.sum().backward()
    assert module.g.grad is not None and module.v.grad is not None
    w = module.g.unsqueeze(1) * module.v / module.v.norm(dim=1, keepdim=True)
    torch.testing.assert_close(w.norm(dim=1), module.g.detach().abs())
    reference = torch.nn.utils.parametrizations.weight_norm(
        torch.nn.Linear(10, 5, bias=False)
    )
    reference = reference.to(device)
    with torch.no_grad():
        reference.parametrizations.weight.original0.copy_(
            module.g.detach().unsqueeze(1)
        )
        reference.parametrizations.weight.original1.copy_(module.v.detach())
    torch.testing.assert_close(reference.weight, w.detach(), rtol=1e-5, atol=1e-5)
