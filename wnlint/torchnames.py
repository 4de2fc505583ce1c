"""Every torch name wnlint knows, spelled once.

Rules compare resolved qualified names against these sets; nothing else in
the package writes a torch path as a string.
"""

from __future__ import annotations

LEGACY_WEIGHT_NORM: frozenset[str] = frozenset(
    {
        "torch.nn.utils.weight_norm",
        "torch.nn.utils.weight_norm.weight_norm",
    }
)

LEGACY_REMOVE_WEIGHT_NORM: frozenset[str] = frozenset(
    {
        "torch.nn.utils.remove_weight_norm",
        "torch.nn.utils.weight_norm.remove_weight_norm",
    }
)

PARAMETRIZATIONS_WEIGHT_NORM: frozenset[str] = frozenset(
    {"torch.nn.utils.parametrizations.weight_norm"}
)

REMOVE_PARAMETRIZATIONS: frozenset[str] = frozenset(
    {"torch.nn.utils.parametrize.remove_parametrizations"}
)

#: Anything under these namespaces belongs to the parametrizations API; code
#: that tests for or calls into it is handling both APIs on purpose.
NEW_API_NAMESPACES: tuple = (
    "torch.nn.utils.parametrizations",
    "torch.nn.utils.parametrize",
)

#: The attribute a parametrized module carries (``m.parametrizations``).
NEW_API_ATTRIBUTE = "parametrizations"

#: A branch on the torch version is a version gate.
TORCH_VERSION = "torch.__version__"

#: Exceptions a tolerant ``try: remove_weight_norm(m)`` catches when the
#: module may carry the other API (it raises ValueError) or none.
TOLERANT_EXCEPTIONS: frozenset[str] = frozenset(
    {"ValueError", "AttributeError", "Exception", "BaseException"}
)
