"""What the prefilters leave unparsed because a word is there but not in
the shape a rule reads: each shape is shown to hold no finding with the
prefilters off, beside the shape that holds one, which they admit."""

from __future__ import annotations

import textwrap

import pytest

from wnlint.engine.linter import Linter, select_rules
from wnlint.facts import hits, prefilter

ON = Linter(select_rules())
OFF = Linter(select_rules(), prefilter=False)


def _codes(linter: Linter, source: str) -> list[str]:
    return [d.code for d in linter.lint_bytes(source.encode(), "t.py")]


# -- WN304: a pickler, read off torch -----------------------------------------------

PICKLED = """
import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import weight_norm
{imports}

def keep(path):
    model = weight_norm(nn.Linear(2, 2))
    {call}
"""

#: (imports, the pickling call): WN304 with or without the prefilters.
PICKLERS = {
    "torch.save": ("", "torch.save(model, path)"),
    "an alias of torch": ("import torch as T", "T.save(model, path)"),
    "torch.serialization": ("", "torch.serialization.save(model, path)"),
    "save imported in parentheses": (
        "from torch import (\n    load,\n    save,\n)",
        "save(model, path)",
    ),
    "pickle.dump": ("import pickle", "pickle.dump(model, path)"),
    "pickle under another name": ("import pickle as pkl", "pkl.dumps(model)"),
    "joblib.dump": ("import joblib", "joblib.dump(model, path)"),
}

#: Spelled with the words, pickling nothing the analysis counts.
NOT_PICKLERS = {
    "a method called save": ("", "model.save(path)"),
    "save in a name": ("", "save_directory = path"),
    "unpickler in prose, json.dumps": (
        'import json\n"""An unpickler restricted to tensors."""',
        "json.dumps(path)",
    ),
    "pickle without dump": ("import pickle", "pickle.loads(path)"),
}


@pytest.mark.parametrize("name", sorted(PICKLERS))
def test_each_pickler_spelling_admits_wn304(name):
    imports, call = PICKLERS[name]
    source = PICKLED.format(imports=imports, call=call)
    assert hits.may_pickle(source.encode())
    assert "WN304" in _codes(OFF, source)
    assert _codes(ON, source) == _codes(OFF, source)


@pytest.mark.parametrize("name", sorted(NOT_PICKLERS))
def test_what_pickles_nothing_is_not_parsed_for_wn304(name):
    imports, call = NOT_PICKLERS[name]
    source = PICKLED.format(imports=imports, call=call)
    assert not hits.may_pickle(source.encode())
    assert "WN304" not in _codes(OFF, source)


def test_a_save_read_off_a_name_bound_to_a_call_is_no_torch_save():
    """``card = Card(); card.save(path)``: what a call returns is never
    ``torch``; a name bound to a plain name may be (``T = torch``)."""
    call = b"card.save(path)\n"
    assert not hits.may_pickle(b"card = Card()\n" + call)
    assert hits.may_pickle(b"card = torch\n" + call)
    assert hits.may_pickle(b"from .compat import card\n" + call)
    assert hits.may_pickle(b"from compat import *\n" + call)


# -- WN201: the optimizer and the norm in one function ------------------------------

TRAIN = """
import torch
import torch.nn as nn


def direction(v):
    return v / v.norm(dim=1, keepdim=True)


def train():
    v = nn.Parameter(torch.randn(3, 4))
    w = {value}
    return torch.optim.SGD([w], lr=0.1)
"""


def test_a_norm_in_the_function_building_the_optimizer_admits_wn201():
    source = TRAIN.format(value="v / v.norm(dim=1, keepdim=True)")
    assert prefilter.OPTIMIZER_INPUTS.file_may_match(source.encode())
    assert _codes(ON, source) == _codes(OFF, source) == ["WN201"]


def test_a_norm_only_in_another_function_does_not_admit_wn201():
    """WN201 reads one body at a time: a norm computed by a helper (or in
    another method, as a trainer's gradient clipping is) is not seen."""
    source = TRAIN.format(value="direction(v)")
    assert not prefilter.OPTIMIZER_INPUTS.file_may_match(source.encode())
    assert _codes(OFF, source) == []


def test_a_norm_bound_at_module_level_may_serve_any_function():
    source = "vn = torch.linalg.vector_norm\n" + TRAIN.format(value="v")
    assert prefilter.OPTIMIZER_INPUTS.file_may_match(source.encode())


# -- WN102: hook registrations, in a file with a hook object -------------------------

HOOKED = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(2))
        self.lin = nn.Linear(2, 2)
        self.lin.register_forward_hook(self._record)

    def _record(self, module, inputs, output):
        self.last = output
{extra}
"""


def test_a_function_registered_as_a_hook_does_not_admit_wn102():
    source = textwrap.dedent(HOOKED.format(extra=""))
    assert not prefilter.WRAPPED_STORES.file_may_match(source.encode())
    assert _codes(OFF, source) == []


def test_a_file_defining_a_hook_object_keeps_its_registrations():
    extra = "\n    def __call__(self, module, inputs):\n        return None\n"
    source = HOOKED.format(extra=extra)
    assert prefilter.WRAPPED_STORES.file_may_match(source.encode())


# -- WN203: a typed hook writes code, not strings -------------------------------------


TYPED_HOOK = b"if isinstance(m, A):\n    init.zeros_(m.conv.weight)\n"


@pytest.mark.parametrize(
    "text",
    [
        b'keys = {"lm_head.weight": "model.embed.weight"}\n',  # in a string
        b"# state_dict[encoder.embed.weight] -> state_dict[embed.weight]\n",
        b"index = module._hf_hook.weights_map.dataset.index\n",  # not `weight`
    ],
    ids=["string", "comment", "longer name"],
)
def test_what_writes_no_submodule_weight_is_no_typed_hook(text):
    assert not prefilter._is_hook(text + b"isinstance(m, A)\n")
    assert prefilter._is_hook(text + TYPED_HOOK)
