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

#: Where the remover is not: ``torch.nn.utils.parametrizations`` has no
#: ``remove_parametrizations`` (AttributeError, or ImportError on import).
MISPLACED_REMOVER_MODULE = "torch.nn.utils.parametrizations"
MISPLACED_REMOVER: frozenset[str] = frozenset(
    {"torch.nn.utils.parametrizations.remove_parametrizations"}
)

#: Anything under these namespaces belongs to the parametrizations API; code
#: that tests for or calls into it is handling both APIs on purpose.
NEW_API_NAMESPACES: tuple = (
    "torch.nn.utils.parametrizations",
    "torch.nn.utils.parametrize",
)

#: The package both APIs live in (the migration imports from it).
UTILS = "torch.nn.utils"

#: Modules a name may be bound to, and the attribute path from each to
#: :data:`UTILS` (a fix spells ``nn.utils.parametrize`` from ``import
#: torch.nn as nn``).
PATH_TO_UTILS: dict[str, str] = {"torch": ".nn.utils", "torch.nn": ".utils", UTILS: ""}

#: The attribute a parametrized module carries (``m.parametrizations``).
NEW_API_ATTRIBUTE = "parametrizations"

#: ``parametrize.is_parametrized(m, "weight")``: a test for the new API.
IS_PARAMETRIZED: frozenset[str] = frozenset(
    {"torch.nn.utils.parametrize.is_parametrized"}
)

#: The tensors the legacy API leaves on a module it norms (``m.weight_g``).
LEGACY_TENSORS: frozenset[str] = frozenset({"weight_g", "weight_v"})

#: A branch on the torch version is a version gate.
TORCH_VERSION = "torch.__version__"

#: Exceptions a tolerant ``try: remove_weight_norm(m)`` catches when the
#: module may carry the other API (it raises ValueError) or none.
TOLERANT_EXCEPTIONS: frozenset[str] = frozenset(
    {"ValueError", "AttributeError", "Exception", "BaseException"}
)

# -- module analysis (WN1xx) -------------------------------------------------

PARAMETER: frozenset[str] = frozenset(
    {"torch.nn.Parameter", "torch.nn.parameter.Parameter"}
)

#: Functions whose first argument's norm they return.
NORM_FUNCTIONS: frozenset[str] = frozenset(
    {
        "torch.norm",
        "torch.functional.norm",
        "torch.linalg.norm",
        "torch.linalg.vector_norm",
        "torch.norm_except_dim",
    }
)

NORMALIZE_FUNCTIONS: frozenset[str] = frozenset({"torch.nn.functional.normalize"})

#: Tensor factories whose positional arguments are the shape.
SHAPED_FACTORIES: frozenset[str] = frozenset(
    {"torch.ones", "torch.zeros", "torch.randn", "torch.rand", "torch.empty"}
)
SQRT_FUNCTIONS: frozenset[str] = frozenset({"torch.sqrt"})
SUM_FUNCTIONS: frozenset[str] = frozenset({"torch.sum"})
SQUARE_FUNCTIONS: frozenset[str] = frozenset({"torch.square"})
POW_FUNCTIONS: frozenset[str] = frozenset({"torch.pow"})
MUL_FUNCTIONS: frozenset[str] = frozenset({"torch.mul", "torch.multiply"})
DIV_FUNCTIONS: frozenset[str] = frozenset(
    {"torch.div", "torch.divide", "torch.true_divide"}
)
CLAMP_FUNCTIONS: frozenset[str] = frozenset(
    {"torch.clamp", "torch.clamp_min", "torch.clip"}
)

#: Context managers and decorators that turn autograd off.
NO_GRAD: frozenset[str] = frozenset(
    {
        "torch.no_grad",
        "torch.inference_mode",
        "torch.autograd.no_grad",
        "torch.autograd.grad_mode.no_grad",
        "torch.autograd.grad_mode.inference_mode",
    }
)

#: ``torch.nn`` classes (``torch.nn.<Name>``) are modules; these also carry
#: ``weight`` and ``bias`` parameters a subclass inherits.
TORCH_NN = "torch.nn."
LAYERS_WITH_WEIGHT: frozenset[str] = frozenset(
    {
        "Linear",
        "Bilinear",
        "LazyLinear",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "Embedding",
    }
)
#: ``torch.nn`` names that are not modules.
NOT_MODULES: frozenset[str] = frozenset(
    {"Parameter", "ParameterList", "ParameterDict", "Buffer"}
)

# -- training-loop analysis (WN2xx, WN303) -----------------------------------

#: Any weight-norm application, either API.
WEIGHT_NORM_ANY: frozenset[str] = LEGACY_WEIGHT_NORM | PARAMETRIZATIONS_WEIGHT_NORM

#: Optimizers: ``torch.optim.<Class>``; schedulers and helpers are not.
OPTIM = "torch.optim."
NOT_OPTIMIZERS = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")
OPTIMIZER_BASE: frozenset[str] = frozenset(
    {"torch.optim.Optimizer", "torch.optim.optimizer.Optimizer"}
)
INIT_NAMESPACE = "torch.nn.init."
CHAIN: frozenset[str] = frozenset({"itertools.chain", "itertools.chain.from_iterable"})

# -- tensor and module vocabulary (names read as attributes, not resolved) ----

#: Methods that run before training, where declaring and normalizing is fine.
INIT_METHODS: frozenset[str] = frozenset(
    {
        "__init__",
        "reset_parameters",
        "_reset_parameters",
        "init_weights",
        "_init_weights",
        "initialize",
        "extra_repr",
        "__repr__",
    }
)

#: Tensor methods that change a tensor's shape or type, not what it is
#: derived from.
SHAPE_METHODS: frozenset[str] = frozenset(
    {
        "view",
        "reshape",
        "flatten",
        "transpose",
        "permute",
        "t",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "expand",
        "expand_as",
        "view_as",
        "reshape_as",
        "to",
        "float",
        "double",
        "half",
        "bfloat16",
        "type",
        "type_as",
        "clone",
    }
)
#: Reads that cut autograd.
DETACH_METHODS: frozenset[str] = frozenset({"detach", "item", "tolist"})
DETACH_ATTRS: frozenset[str] = frozenset({"data"})
DETACH_BUILTINS: frozenset[str] = frozenset({"float", "int"})
#: Reads that are never differentiable (shapes, flags, comparisons).
NONDIFF_ATTRS: frozenset[str] = frozenset(
    {"shape", "dtype", "device", "requires_grad", "grad", "ndim"}
)
NONDIFF_METHODS: frozenset[str] = frozenset(
    {"size", "numel", "dim", "nelement", "data_ptr"}
)
#: Tensor methods that bound a norm away from zero (``n.clamp_min(eps)``).
CLAMP_METHODS: frozenset[str] = frozenset({"clamp", "clamp_min", "clip", "add"})
#: Tensor methods and attribute names that may compute a norm: a class
#: without any of them (or a resolved norm function) cannot hold a WN1xx bug.
NORMISH_ATTRS: frozenset[str] = frozenset({"norm", "sqrt", "normalize", "vector_norm"})
MUL_METHODS: frozenset[str] = frozenset({"mul", "multiply"})
DIV_METHODS: frozenset[str] = frozenset({"div", "divide"})
#: ``nn.Module`` members that reach parameters without naming them.
DYNAMIC_PARAMETER_ACCESS: frozenset[str] = frozenset(
    {"parameters", "named_parameters", "state_dict", "_parameters", "__dict__"}
)
#: The legacy API's parameter names, and what the parametrizations API
#: calls them (``m.parametrizations.weight.original0``).
LEGACY_TO_PARAMETRIZED: dict[str, str] = {
    "weight_g": "original0",
    "weight_v": "original1",
}
#: The leaf parameters weight norm trains (either API's names).
WEIGHT_NORM_LEAVES: frozenset[str] = frozenset(
    {*LEGACY_TO_PARAMETRIZED, *LEGACY_TO_PARAMETRIZED.values()}
)
#: The tensor weight norm applies to by default.
DEFAULT_WEIGHT_NAME = "weight"

# -- module containers and init (interprocedural WN203) ----------------------

#: Containers whose arguments become submodules.
MODULE_CONTAINERS: frozenset[str] = frozenset(
    {
        "torch.nn.ModuleList",
        "torch.nn.Sequential",
        "torch.nn.ModuleDict",
        "torch.nn.modules.container.ModuleList",
        "torch.nn.modules.container.Sequential",
        "torch.nn.modules.container.ModuleDict",
    }
)
#: ``torch.nn.Sequential``, whose positional arguments are its layers.
SEQUENTIAL: frozenset[str] = frozenset(
    {"torch.nn.Sequential", "torch.nn.modules.container.Sequential"}
)
#: ``nn.Module`` methods that register a hook object called with the module
#: before (or after) each forward (WN102 follows what its ``__call__`` stores).
FORWARD_HOOK_REGISTRARS: frozenset[str] = frozenset(
    {"register_forward_pre_hook", "register_forward_hook"}
)
#: Methods that add submodules to a container (``self.convs.append(m)``).
CONTAINER_ADDERS: frozenset[str] = frozenset(
    {"append", "extend", "insert", "add_module"}
)
#: The common base of torch's convolutions (``isinstance(m, _ConvNd)``).
CONV_BASE = "torch.nn.modules.conv._ConvNd"

# -- whole-module pickling (WN304) -------------------------------------------

#: Functions that register a parametrization on a module. Each swaps the
#: module's class for one whose ``__getstate__`` raises, so the module (and
#: anything holding it) can no longer be pickled; ``copy.deepcopy`` still
#: works. The legacy hook-based ``torch.nn.utils.weight_norm`` and
#: ``torch.nn.utils.spectral_norm`` do not, and pickle fine.
PARAMETRIZING: frozenset[str] = frozenset(
    {
        "torch.nn.utils.parametrizations.weight_norm",
        "torch.nn.utils.parametrizations.spectral_norm",
        "torch.nn.utils.parametrizations.orthogonal",
        "torch.nn.utils.parametrize.register_parametrization",
    }
)

#: Calls that pickle an object whole: qualified name -> (how it is named in
#: messages, position and keyword of the pickled object). ``pickle_module=``
#: does not matter to ``torch.save``: every pickler asks the object for its
#: state.
PICKLERS: dict[str, tuple[str, int, str]] = {
    "torch.save": ("torch.save", 0, "obj"),
    "torch.serialization.save": ("torch.save", 0, "obj"),
    "pickle.dump": ("pickle.dump", 0, "obj"),
    "pickle.dumps": ("pickle.dumps", 0, "obj"),
    "dill.dump": ("dill.dump", 0, "obj"),
    "dill.dumps": ("dill.dumps", 0, "obj"),
    "cloudpickle.dump": ("cloudpickle.dump", 0, "obj"),
    "cloudpickle.dumps": ("cloudpickle.dumps", 0, "obj"),
    "joblib.dump": ("joblib.dump", 0, "value"),
}
PICKLER_NAMES: frozenset[str] = frozenset(PICKLERS)
#: ``nn.Module`` itself, which sets no attribute a subclass reads as a layer.
MODULE_BASE: frozenset[str] = frozenset(
    {"torch.nn.Module", "torch.nn.modules.module.Module"}
)
#: What unpickles an object ``torch.save`` pickled whole.
TORCH_LOAD: frozenset[str] = frozenset({"torch.load", "torch.serialization.load"})

#: ``torch.package``: ``exporter.save_pickle(package, resource, obj)``.
PACKAGE_EXPORTER: frozenset[str] = frozenset(
    {"torch.package.PackageExporter", "torch.package.package_exporter.PackageExporter"}
)
SAVE_PICKLE = "save_pickle"
SAVE_PICKLE_OBJECT = (2, "obj")

#: ``nn.Module`` methods that return the module itself (``Net().to(dev)``
#: is still the ``Net``).
MODULE_SELF_METHODS: frozenset[str] = frozenset(
    {
        "to",
        "cuda",
        "cpu",
        "xpu",
        "eval",
        "train",
        "float",
        "double",
        "half",
        "bfloat16",
        "requires_grad_",
        "share_memory",
    }
)
#: Methods whose result is data, never the module: pickling it is the remedy.
STATE_METHODS: frozenset[str] = frozenset({"state_dict"})

#: The legacy API's forward pre-hook class, and the module defining it:
#: code that finds the hook (``isinstance``, or by name) stops finding it
#: once the module is migrated to the parametrizations API.
WEIGHT_NORM_HOOK_MODULE = "torch.nn.utils.weight_norm"
WEIGHT_NORM_HOOK_CLASS = "WeightNorm"
WEIGHT_NORM_HOOK: frozenset[str] = frozenset(
    {f"{WEIGHT_NORM_HOOK_MODULE}.{WEIGHT_NORM_HOOK_CLASS}"}
)
