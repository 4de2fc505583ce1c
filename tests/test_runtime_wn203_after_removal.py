"""``fixtures/wn203_after_removal.py`` in torch: a weight write while
weight norm is applied is lost (``prepare``'s rescale), one made after the
remover lands (the codec's merged scale gives the same outputs, from a plain
weight). Runs on CUDA when available, else on the CPU."""

from __future__ import annotations

import torch
from conftest import load_fixture

f = load_fixture("wn203_after_removal")


def test_a_write_while_normed_is_lost(device):
    torch.manual_seed(0)
    model = f.Rescaled().to(device)
    before = model.conv.weight.detach().clone()
    f.prepare(model)
    torch.testing.assert_close(model.conv.weight, before)  # not halved


def test_a_write_after_the_remover_lands(device):
    torch.manual_seed(0)
    codec = f.Codec().to(device)
    x = torch.randn(2, 4, 5, device=device)
    with torch.no_grad():
        expected = codec(x)
        codec.remove_weight_reparameterizations()
        conv = codec.block.conv_pre
        assert not hasattr(conv, "parametrizations")
        assert codec.block.merged
        torch.testing.assert_close(codec(x), expected)
