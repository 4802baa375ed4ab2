"""Value kinds: which expressions are tensors, static Python values, or (possibly dynamic) sizes.

Unknown stays unknown: rules only report what is known. ``origin`` keeps a short source text of
where a size or a tensor-derived Python value came from (``x.shape[0]``), for messages.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import libcst as cst

from mllint._compat import SLOTS
from mllint.analysis.names import dotted


class Kind(str, Enum):
    TENSOR = "tensor"  # a framework tensor (its data is not known at trace/export time)
    DATA = "data"  # a Python value computed from tensor data (.item(), int(t), .tolist())
    SHAPE = "shape"  # a Python int or tuple from a tensor's (possibly dynamic) size
    STATIC = "static"  # a Python value fixed at export time (literals, config, x.dim(), self.training)
    MODULE = "module"  # a submodule / layer instance
    MODULE_LIST = "module_list"
    TENSOR_LIST = "tensor_list"  # a list / tuple of tensors (``List[Tensor]``): iterating it is fine
    UNKNOWN = "unknown"


@dataclass(frozen=True, **SLOTS)
class Value:
    kind: Kind
    origin: Optional[str] = None  # e.g. "x.shape[0]" for sizes, "x.sum().item()" for data
    cls: Optional[str] = None  # class of a module value (qualified), when known
    data_sized: bool = False  # a tensor whose shape depends on data (nonzero, x[mask], unique)
    is_mask: bool = False  # a boolean tensor from a comparison (indexing with it selects data-dependent rows)
    #: tensors: the dimensions an export call site declares dynamic (``dynamic_shapes`` / ``dynamic_axes``);
    #: sizes (``x.shape``): the same, carried to the elements
    dyn_dims: Tuple[int, ...] = ()
    #: tensors: those of ``dyn_dims`` declared with a named ``Dim("batch")`` (range from 0 to 2): torch.export
    #: refuses any guard on them that does not hold over the whole range (``Dim.AUTO`` narrows it silently)
    strict_dims: Tuple[int, ...] = ()
    dynamic: bool = False  # a size read from a declared-dynamic dimension
    baked: bool = False  # such a size already turned into a plain Python number (int(), math.*)
    #: static values: the literal's source text (``False``, ``'pt'``, ``0.5``), so tests it decides prune
    literal: Optional[str] = None
    #: tensors and data: computed only from tensor attributes the module set at construction (never from the
    #: inputs), so trace and the legacy ONNX exporter bake a value that is right for every input
    constant: bool = False
    #: tensors: the element dtype when the code fixes it (``ops.cast(x, "int64")``) and every step after keeps
    #: it; None: not known. Some TFLite builtins take int32 but not int64 (``Abs``, ``Sign``)
    dtype: Optional[str] = None

    @property
    def is_tensor_dependent(self) -> bool:
        return self.kind in (Kind.TENSOR, Kind.DATA)


UNKNOWN = Value(Kind.UNKNOWN)
STATIC = Value(Kind.STATIC)
TENSOR = Value(Kind.TENSOR)

#: Tensor methods/attributes whose result is a static Python value at export time.
STATIC_TENSOR_METHODS = frozenset({
    "dim", "ndimension", "is_floating_point", "is_complex", "is_contiguous", "element_size",
    "get_device", "is_signed", "type", "is_sparse", "requires_grad_", "has_names",
})
STATIC_TENSOR_ATTRS = frozenset({
    "ndim", "dtype", "device", "is_cuda", "requires_grad", "layout", "is_leaf", "is_quantized",
    "is_sparse", "is_mps", "is_meta", "name", "rank",
})
TENSOR_TENSOR_ATTRS = frozenset({"data", "T", "mT", "H", "mH", "real", "imag", "grad"})
#: Tensor methods / torch functions returning a tuple or list of tensors (iterating it is fine).
SEQUENCE_TENSOR_METHODS = frozenset({
    "split", "chunk", "unbind", "tensor_split", "hsplit", "vsplit", "dsplit", "split_with_sizes",
    "unsafe_split", "unsafe_chunk", "meshgrid", "broadcast_tensors", "sort", "topk",
    "kthvalue", "qr", "svd", "eig", "eigh", "slogdet", "lu", "aminmax", "frexp", "histogram", "var_mean",
    "std_mean", "unstack", "split_to_sequence",
})
#: Reductions that return (values, indices) only when given a dimension.
SEQUENCE_WITH_DIM = frozenset({"max", "min", "median", "mode", "nanmedian", "cummax", "cummin"})
SEQUENCE_FUNCTIONS = frozenset({"tensorflow.unstack", "tensorflow.split", "tensorflow.meshgrid", "tensorflow.unique"})


def _is_mask_index(node: cst.Subscript, evaluator: "Evaluator") -> bool:
    """``x[x > 0]``: a boolean mask (a comparison of tensors) selects a data-dependent number of rows."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return False
    index = node.slice[0].slice.value
    if isinstance(index, cst.UnaryOperation) and isinstance(index.operator, cst.BitInvert):
        index = index.expression
    value = evaluator.value(index)
    return value.kind == Kind.TENSOR and value.is_mask


def _is_int_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        node = node.expression
    return isinstance(node, cst.Integer)


def returns_sequence(name: str, node: cst.Call) -> bool:
    """Whether a tensor method / framework function called as ``node`` returns several tensors."""
    last = name.split(".")[-1]
    if last in SEQUENCE_TENSOR_METHODS or name in SEQUENCE_FUNCTIONS:
        return True
    if last in SEQUENCE_WITH_DIM:
        # ``x.max(1)`` / ``torch.max(x, dim=1)`` give (values, indices); ``x.max()`` and the
        # element-wise ``torch.max(a, b)`` give a tensor.
        args = node.args[1:] if name.startswith(("torch.", "tensorflow.")) else node.args
        return any(_is_int_literal(a.value) or (a.keyword is not None and a.keyword.value == "dim") for a in args)
    if name == "torch.where":
        return len(node.args) == 1
    return False
#: Methods of dicts and lists, which a value we believed a tensor cannot have: unknown, not tensor.
NOT_TENSOR_METHODS = frozenset({"items", "keys", "get", "append", "extend", "pop", "update", "setdefault", "copy_from"})
#: Tensor methods about memory, not values: a pointer or a storage is not tensor data (PT210 reports them).
MEMORY_METHODS = frozenset({"data_ptr", "const_data_ptr", "storage", "untyped_storage", "storage_offset", "nbytes",
                            "itemsize"})
#: Ops whose output shape depends on the input's values (exportable themselves in torch 2.13).
DATA_SIZED_FUNCTIONS = frozenset({"torch.nonzero", "torch.masked_select", "torch.unique", "torch.argwhere",
                                  "torch.unique_consecutive", "torch.repeat_interleave"})
DATA_SIZED_METHODS = frozenset({"nonzero", "masked_select", "unique", "argwhere", "unique_consecutive"})
REDUCTIONS = frozenset({"sum", "mean", "any", "all", "max", "min", "prod", "norm", "amax", "amin", "std", "var",
                        "count_nonzero", "logsumexp", "numel", "item"})
SHAPE_TENSOR_METHODS = frozenset({"size", "numel", "nelement", "get_shape"})
DATA_TENSOR_METHODS = frozenset({"item", "tolist", "numpy"})

#: Framework functions whose result is a static Python value (not a tensor).
STATIC_FUNCTIONS = frozenset({
    "torch.jit.is_scripting", "torch.jit.is_tracing", "torch.is_tensor", "torch.is_grad_enabled",
    "torch.compiler.is_compiling", "torch.compiler.is_dynamo_compiling", "torch.onnx.is_in_onnx_export",
    "torch.cuda.is_available", "torch.get_default_dtype", "torch.device", "torch.dtype",
    "torch.is_floating_point", "torch.is_complex", "torch.are_deterministic_algorithms_enabled",
    "torch._dynamo.is_compiling", "torch.is_autocast_enabled", "torch.backends.mps.is_available",
    "tensorflow.executing_eagerly", "tensorflow.is_tensor", "tensorflow.as_dtype",
    "tensorflow.config.list_physical_devices", "keras.backend.backend", "keras.config.backend",
    "keras.backend.floatx", "keras.config.floatx", "tensorflow.keras.backend.floatx",
    "torch.finfo", "torch.iinfo", "torch.Size", "torch.get_default_device",
    "keras.ops.ndim", "keras.src.ops.ndim", "keras.ops.is_tensor", "keras.src.ops.is_tensor",
    "tensorflow.keras.ops.ndim", "keras.backend.standardize_dtype", "keras.src.backend.standardize_dtype",
})
SHAPE_FUNCTIONS = frozenset({"torch.numel"})
#: Keras' spelling of ``.numpy()``: tensor data as a NumPy array.
CONVERT_TO_NUMPY = frozenset({"keras.ops.convert_to_numpy", "keras.src.ops.convert_to_numpy",
                              "tensorflow.keras.ops.convert_to_numpy"})
#: Framework namespaces whose calls return tensors.
TENSOR_NAMESPACES = ("torch.", "tensorflow.", "keras.ops.", "tensorflow.keras.ops.", "tf_keras.backend.", "keras.backend.",
                     "keras.src.ops.", "keras.random.")
NOT_TENSOR_NAMESPACES = (
    "torch.nn.", "torch.jit.", "torch.onnx.", "torch.export.", "torch.cuda.", "torch.distributed.",
    "torch.utils.", "torch.backends.", "torch.compiler.", "torch.autograd.", "torch._dynamo.",
    "tensorflow.keras.", "tensorflow.saved_model.", "tensorflow.lite.", "tensorflow.io.gfile",
    "tensorflow.config.", "tensorflow.debugging.", "tensorflow.print", "tensorflow.summary.",
    "tensorflow.TensorSpec", "tensorflow.function", "tensorflow.Module", "tensorflow.data.",
    "tensorflow.distribute.", "tensorflow.random.Generator", "tensorflow.TensorShape",
)
TENSOR_NN_FUNCTIONS = ("torch.nn.functional.", "torch.nn.init.")
#: Namespaces whose lower-case functions return tensors (deeper names elsewhere are not assumed to).
TENSOR_SUBMODULES = (
    "torch.linalg.", "torch.fft.", "torch.special.", "torch.nn.functional.", "tensorflow.math.",
    "tensorflow.linalg.", "tensorflow.nn.", "tensorflow.signal.", "tensorflow.image.", "tensorflow.random.",
    "tensorflow.strings.", "tensorflow.sparse.", "tensorflow.bitwise.", "tensorflow.raw_ops.",
    "keras.ops.", "tensorflow.keras.ops.", "keras.ops.numpy.", "keras.ops.nn.", "keras.random.",
    "tensorflow.keras.backend.", "tf_keras.backend.", "keras.backend.", "keras.src.ops.",
)
NON_TENSOR_FUNCTION_PREFIXES = ("is_", "has_", "get_", "are_", "set_", "_", "use_", "compiled_with")
NUMPY_PREFIXES = ("numpy.",)


def _dim_index(node: cst.Subscript) -> Optional[int]:
    """The literal non-negative index of ``shape[i]``, else None."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    index = node.slice[0].slice.value
    return int(index.value) if isinstance(index, cst.Integer) and index.value.isdigit() else None


def _size_call_dims(meth: str, node: cst.Call, dyn_dims: Tuple[int, ...]) -> Dict[str, object]:
    """``x.size(0)`` of a declared-dynamic dim is a dynamic size; ``x.size()`` carries the dims on."""
    if not dyn_dims:
        return {}
    if meth in ("numel", "nelement"):
        return {"dynamic": True}
    positional = [a for a in node.args if a.keyword is None and not a.star]
    dim_arg = positional[0] if positional else next((a for a in node.args if a.keyword and a.keyword.value == "dim"), None)
    if dim_arg is None:
        return {"dyn_dims": dyn_dims}
    value = dim_arg.value
    return {"dynamic": isinstance(value, cst.Integer) and value.value.isdigit() and int(value.value) in dyn_dims}


def _join_kinds(a: Value, b: Value) -> Value:
    """Kind of an arithmetic/comparison combination of two values."""
    if a.kind == Kind.SHAPE and b.kind == Kind.SHAPE and b.dynamic and not a.dynamic:
        return b  # ``x.shape[1] * x.shape[0]`` depends on the dynamic dimension
    order = (Kind.TENSOR, Kind.DATA, Kind.SHAPE)
    for k in order:
        if a.kind == k or b.kind == k:
            result, other = (a, b) if a.kind == k else (b, a)
            if result.constant and not (other.constant or other.kind == Kind.STATIC):
                return dataclasses.replace(result, constant=False)
            return result
    if a.kind == Kind.STATIC and b.kind == Kind.STATIC:
        return STATIC
    return UNKNOWN


def merge(a: Value, b: Value) -> Value:
    """Value of a name after two control-flow paths meet."""
    if a == b:
        return a
    if a.kind == b.kind:
        return Value(a.kind, a.origin or b.origin, a.cls if a.cls == b.cls else None)
    return UNKNOWN


def _slice_values(node: cst.Subscript) -> List[cst.BaseExpression]:
    """The index expressions of ``t[i, a:b]`` (slice bounds included)."""
    out: List[cst.BaseExpression] = []
    for el in node.slice:
        if isinstance(el.slice, cst.Index):
            out.append(el.slice.value)
        elif isinstance(el.slice, cst.Slice):
            out.extend(p for p in (el.slice.lower, el.slice.upper, el.slice.step) if p is not None)
    return out


def _call_values(node: cst.Call) -> List[cst.BaseExpression]:
    return [a.value for a in node.args]


#: Cast functions whose second argument (or ``dtype=``) is the result's dtype.
_CASTS = frozenset({"keras.ops.cast", "keras.src.ops.cast", "tensorflow.cast", "tensorflow.dtypes.cast",
                    "keras.ops.core.cast"})
#: Ops whose result has their first argument's dtype.
_DTYPE_KEEPING = frozenset({"expand_dims", "repeat", "reshape", "squeeze", "transpose", "tile", "broadcast_to",
                            "negative", "identity"})
_DTYPE_KEEPING_NAMESPACES = frozenset({"keras.ops", "keras.src.ops", "keras.ops.numpy", "keras.src.ops.numpy",
                                       "tensorflow"})
#: Keras dtype names that mean another (``"int"`` is ``int64`` in Keras 3: measured, ``keras.ops.cast(x, "int")``).
_DTYPE_ALIASES = {"int": "int64"}
_DTYPE_NAMES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                          "bfloat16", "float32", "float64", "bool", "complex64", "complex128", "string"})


def _dtype_literal(node: cst.BaseExpression, qualify: Callable[[str], Optional[str]]) -> Optional[str]:
    """``"int64"``, ``"int"`` (Keras: int64) or ``tf.int64`` as a dtype name; None for anything else."""
    if isinstance(node, cst.SimpleString):
        text = node.evaluated_value
        if isinstance(text, str):
            text = _DTYPE_ALIASES.get(text, text)
            return text if text in _DTYPE_NAMES else None
        return None
    name = dotted(node)
    q = qualify(name) if name else None
    if q and q.startswith(("tensorflow.", "tensorflow.dtypes.")):
        last = q.rsplit(".", 1)[-1]
        return last if last in _DTYPE_NAMES else None
    return None


#: Operators that keep an integer tensor's dtype (``/`` gives a float).
_DTYPE_KEEPING_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply, cst.FloorDivide, cst.Modulo)


def _binary_dtype(node: cst.BinaryOperation, left: Value, right: Value) -> Optional[str]:
    """The dtype of ``left <op> right`` when known: both tensors of one dtype, or an integer tensor with a
    Python int literal (a weak type in TF and Keras: the tensor's dtype wins)."""
    if not isinstance(node.operator, _DTYPE_KEEPING_OPERATORS):
        return None
    if left.kind == Kind.TENSOR and right.kind == Kind.TENSOR:
        return left.dtype if left.dtype == right.dtype else None
    tensor, other, other_node = (left, right, node.right) if left.kind == Kind.TENSOR else (right, left, node.left)
    if tensor.dtype and tensor.dtype.startswith("int") and isinstance(other_node, cst.Integer):
        return tensor.dtype
    return None


_EMPTY_MODULE = cst.Module(body=[])


def code_of(node: cst.CSTNode) -> str:
    text = _EMPTY_MODULE.code_for_node(node)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


class Evaluator:
    """Computes the ``Value`` of an expression given the current environment.

    ``qualify`` maps a dotted name in the file to its qualified name; ``self_attr`` returns the
    value of ``self.<attr>``; ``call_result`` may give the value of a call to project code.
    """

    def __init__(
        self,
        env: Dict[str, Value],
        qualify: Callable[[str], Optional[str]],
        self_attr: Callable[[str], Value],
        call_result: Optional[Callable[[cst.Call], Optional[Value]]] = None,
    ) -> None:
        self.env = env
        self.qualify = qualify
        self.self_attr = self_attr
        self.call_result = call_result
        self._cache: Dict[int, Value] = {}

    def value(self, node: cst.BaseExpression) -> Value:
        key = id(node)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._value(node)
        return cached

    def invalidate(self) -> None:
        self._cache.clear()

    def _value(self, node: cst.BaseExpression) -> Value:
        if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
            return Value(Kind.STATIC, literal=node.value)
        if isinstance(node, (cst.Imaginary, cst.ConcatenatedString, cst.FormattedString)):
            return STATIC
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                return Value(Kind.STATIC, literal=node.value)
            return self.env.get(node.value, UNKNOWN)
        if isinstance(node, cst.Attribute):
            return self._attribute(node)
        if isinstance(node, cst.Subscript):
            base = self.value(node.value)
            if base.kind == Kind.SHAPE:
                return Value(Kind.SHAPE, code_of(node), dynamic=base.dynamic or _dim_index(node) in base.dyn_dims,
                             baked=base.baked)
            if base.kind in (Kind.TENSOR, Kind.DATA):
                masked = base.kind == Kind.TENSOR and _is_mask_index(node, self)
                return Value(base.kind, code_of(node) if masked else base.origin,
                             data_sized=base.data_sized or masked,
                             constant=base.constant and self._constant_parts(_slice_values(node)),
                             dtype=base.dtype if base.kind == Kind.TENSOR else None)
            if base.kind == Kind.MODULE_LIST:
                return Value(Kind.MODULE, None, base.cls)
            if base.kind == Kind.TENSOR_LIST:
                is_slice = any(isinstance(e.slice, cst.Slice) for e in node.slice)
                return base if is_slice else TENSOR
            return UNKNOWN
        if isinstance(node, cst.Call):
            return self._call(node)
        if isinstance(node, cst.BinaryOperation):
            left, right = self.value(node.left), self.value(node.right)
            joined = _join_kinds(left, right)
            if joined.dtype is not None:
                joined = dataclasses.replace(joined, dtype=_binary_dtype(node, left, right))
            return joined
        if isinstance(node, cst.UnaryOperation):
            inner = self.value(node.expression)
            return inner if inner.kind != Kind.MODULE else UNKNOWN
        if isinstance(node, cst.BooleanOperation):
            joined = _join_kinds(self.value(node.left), self.value(node.right))
            return dataclasses.replace(joined, dtype=None) if joined.dtype is not None else joined
        if isinstance(node, cst.Comparison):
            if all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in node.comparisons):
                return STATIC
            if all(isinstance(c.operator, (cst.In, cst.NotIn)) for c in node.comparisons):
                left = self.value(node.left)
                return left if left.kind in (Kind.TENSOR, Kind.DATA) else (STATIC if left.kind == Kind.STATIC else UNKNOWN)
            result = self.value(node.left)
            for c in node.comparisons:
                result = _join_kinds(result, self.value(c.comparator))
            if result.kind == Kind.TENSOR:
                return Value(Kind.TENSOR, result.origin, is_mask=True, constant=result.constant)
            return result
        if isinstance(node, cst.IfExp):
            return merge(self.value(node.body), self.value(node.orelse))
        if isinstance(node, (cst.Tuple, cst.List)):
            vals = [self.value(e.value) for e in node.elements if isinstance(e, cst.Element)]
            if vals and all(v.kind == Kind.STATIC for v in vals):
                return STATIC
            return UNKNOWN
        if isinstance(node, (cst.Lambda,)):
            return STATIC
        return UNKNOWN

    def _attribute(self, node: cst.Attribute) -> Value:
        name = dotted(node)
        if name is not None:
            if name == "self.training":
                return STATIC
            if name.startswith("self.") and name.count(".") == 1:
                return self.self_attr(name[5:])
        base = self.value(node.value)
        attr = node.attr.value
        if base.kind == Kind.TENSOR:
            if attr == "shape":
                return Value(Kind.DATA if base.data_sized else Kind.SHAPE, code_of(node), dyn_dims=base.dyn_dims)
            if attr in STATIC_TENSOR_ATTRS or attr.startswith("is_"):
                return STATIC
            if attr in TENSOR_TENSOR_ATTRS:
                return base if attr == "data" else Value(base.kind, base.origin, data_sized=base.data_sized)
            return UNKNOWN
        if base.kind == Kind.SHAPE:
            if attr in ("rank", "ndims"):
                return STATIC
            return base
        if base.kind in (Kind.STATIC,):
            return STATIC
        if base.kind == Kind.DATA:
            return base
        return UNKNOWN

    def _constant_parts(self, parts: Iterable[cst.BaseExpression]) -> bool:
        """Every part is a static Python value or a construction-time constant tensor."""
        for part in parts:
            v = self.value(part)
            if not (v.kind == Kind.STATIC or v.constant):
                return False
        return True

    def _call(self, node: cst.Call) -> Value:
        func = node.func
        if isinstance(func, cst.Attribute):
            recv = self.value(func.value)
            meth = func.attr.value
            if recv.kind == Kind.TENSOR:
                if meth in NOT_TENSOR_METHODS or meth in MEMORY_METHODS or returns_sequence(meth, node):
                    return UNKNOWN
                if meth in STATIC_TENSOR_METHODS:
                    return STATIC
                if meth in SHAPE_TENSOR_METHODS:
                    if recv.data_sized:
                        return Value(Kind.DATA, code_of(node))
                    return Value(Kind.SHAPE, code_of(node), **_size_call_dims(meth, node, recv.dyn_dims))
                if meth in DATA_SIZED_METHODS:
                    return Value(Kind.TENSOR, code_of(node), data_sized=True)
                constant = recv.constant and self._constant_parts(_call_values(node))
                if meth in DATA_TENSOR_METHODS:
                    return Value(Kind.DATA, code_of(node), constant=constant)
                return Value(Kind.TENSOR, recv.origin, data_sized=recv.data_sized and meth not in REDUCTIONS,
                             constant=constant)
            if recv.kind == Kind.SHAPE:
                if meth == "as_list":
                    return recv
                if meth in ("numel",):
                    return Value(Kind.SHAPE, code_of(node))
                return UNKNOWN
            if recv.kind == Kind.MODULE:
                return TENSOR if meth in ("forward", "__call__", "call") else UNKNOWN
            if recv.kind == Kind.DATA and meth in ("item", "tolist"):
                return recv
        name = dotted(func)
        if name is not None:
            if name in ("len",):
                arg = self._arg_value(node, 0)
                if arg.kind == Kind.TENSOR:
                    return Value(Kind.DATA if arg.data_sized else Kind.SHAPE, code_of(node), dynamic=0 in arg.dyn_dims)
                if arg.kind in (Kind.STATIC, Kind.TENSOR_LIST):
                    return STATIC  # the number of levels / heads in a list of tensors is fixed
                if arg.kind == Kind.SHAPE:
                    return STATIC  # len(x.shape) is the rank
                return UNKNOWN
            if name in ("int", "float", "bool", "round", "abs", "complex"):
                arg = self._arg_value(node, 0)
                if arg.kind == Kind.TENSOR:
                    return Value(Kind.DATA, code_of(node))
                if arg.kind in (Kind.DATA, Kind.STATIC):
                    return Value(arg.kind, arg.origin)
                if arg.kind == Kind.SHAPE:
                    return Value(Kind.SHAPE, arg.origin, dynamic=arg.dynamic, baked=arg.dynamic)
                return UNKNOWN
            if name in ("isinstance", "hasattr", "callable", "type", "id", "str", "repr"):
                return STATIC
            if name in ("min", "max", "sum"):
                vals = [self.value(a.value) for a in node.args]
                result = STATIC if vals else UNKNOWN
                for v in vals:
                    result = _join_kinds(result, v) if result.kind != Kind.UNKNOWN else result
                return result
            if name.startswith("self.") and name.count(".") == 1:
                attr = self.self_attr(name[5:])
                if attr.kind in (Kind.MODULE,):
                    return TENSOR
            if name == "self":
                return TENSOR
            q = self.qualify(name)
            if q is not None:
                return self._qualified_call(q, node)
            local = self.env.get(name.split(".")[0])
            if local is not None and local.kind == Kind.MODULE and "." not in name:
                return TENSOR
        if self.call_result is not None:
            result = self.call_result(node)
            if result is not None:
                return result
        return UNKNOWN

    def _qualified_call(self, q: str, node: cst.Call) -> Value:
        if q in STATIC_FUNCTIONS:
            return STATIC
        if q in SHAPE_FUNCTIONS:
            return Value(Kind.SHAPE, code_of(node))
        if q.startswith("math."):
            vals = [self.value(a.value) for a in node.args]
            for kind in (Kind.DATA, Kind.SHAPE):
                for v in vals:
                    if v.kind == kind:
                        return Value(kind, v.origin, dynamic=v.dynamic, baked=v.dynamic)
            if vals and all(v.kind == Kind.STATIC for v in vals):
                return STATIC
            return UNKNOWN
        if q.startswith(NUMPY_PREFIXES):
            vals = [self.value(a.value) for a in node.args]
            if any(v.kind in (Kind.TENSOR, Kind.DATA) for v in vals):
                return Value(Kind.DATA, code_of(node))
            return STATIC if all(v.kind == Kind.STATIC for v in vals) else UNKNOWN
        if q.startswith(TENSOR_NN_FUNCTIONS):
            return TENSOR
        if q in CONVERT_TO_NUMPY:
            return Value(Kind.DATA, code_of(node)) if self._arg_value(node, 0).kind == Kind.TENSOR else UNKNOWN
        if q in ("tensorflow.shape", "keras.ops.shape", "tensorflow.keras.ops.shape", "keras.src.ops.shape"):
            # The dynamic shape forms: tf.shape is a tensor; keras.ops.shape mixes Python ints (static
            # dims) and tensors (dynamic dims), so neither is a possibly-None static size.
            return TENSOR if q == "tensorflow.shape" else UNKNOWN
        if q.startswith(NOT_TENSOR_NAMESPACES):
            if q.startswith(("torch.nn.", "tensorflow.keras.layers.", "keras.layers.")) and q.split(".")[-1][:1].isupper():
                return Value(Kind.MODULE, None, q)
            return UNKNOWN
        if q in DATA_SIZED_FUNCTIONS:
            return Value(Kind.TENSOR, code_of(node), data_sized=True)
        if q.startswith(TENSOR_NAMESPACES):
            last = q.split(".")[-1]
            if returns_sequence(q, node):
                return UNKNOWN  # a tuple of tensors, not a tensor
            if last[:1].isupper():
                if q.startswith(("keras.layers.", "keras.Sequential", "keras.Model")):
                    return Value(Kind.MODULE, None, q)
                return UNKNOWN  # classes (tf.TensorSpec, torch.Generator, ...)
            if last.startswith(NON_TENSOR_FUNCTION_PREFIXES) or q.count(".") > 1 and not q.startswith(TENSOR_SUBMODULES):
                return UNKNOWN  # predicates, getters, and other submodules' helpers
            dtype = self._result_dtype(q, node)
            return Value(Kind.TENSOR, dtype=dtype) if dtype else TENSOR
        return UNKNOWN

    def _result_dtype(self, q: str, node: cst.Call) -> Optional[str]:
        """The dtype of a TF / Keras op's result when the call fixes it: a cast to a literal dtype, or an op
        that keeps its input's (``expand_dims``, ``reshape``, ...) applied to a tensor of known dtype."""
        last = q.rsplit(".", 1)[-1]
        if last == "cast" and q in _CASTS:
            arg = node.args[1].value if len(node.args) > 1 and node.args[1].keyword is None else next(
                (a.value for a in node.args if a.keyword is not None and a.keyword.value == "dtype"), None)
            return _dtype_literal(arg, self.qualify) if arg is not None else None
        if last in _DTYPE_KEEPING and q.rsplit(".", 1)[0] in _DTYPE_KEEPING_NAMESPACES:
            return self._arg_value(node, 0).dtype
        return None

    def _arg_value(self, node: cst.Call, index: int) -> Value:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        if len(positional) > index:
            return self.value(positional[index].value)
        return UNKNOWN


# -- annotations ------------------------------------------------------------------------------------
#: Builtin and typing names of plain Python values (fixed at export time).
_STATIC_TYPES = frozenset({"int", "float", "bool", "str", "bytes", "complex", "None", "NoneType", "Literal",
                           "torch.dtype", "torch.device", "torch.Size", "torch.types.Device"})
#: Containers: their kind is their elements' when those are tensors, else a static value.
_SEQUENCE_TYPES = frozenset({"list", "tuple", "List", "Tuple", "Sequence", "Iterable", "MutableSequence",
                             "collections.abc.Sequence", "collections.abc.Iterable"})
_MAPPING_TYPES = frozenset({"dict", "Dict", "Mapping", "MutableMapping", "OrderedDict", "collections.OrderedDict",
                            "collections.abc.Mapping", "set", "Set", "FrozenSet", "frozenset"})
_TYPING_PREFIXES = ("typing.", "typing_extensions.", "builtins.")


def _split_annotation(text: str) -> Tuple[str, Tuple[str, ...]]:
    """``Optional[Dict[str,Tensor]]`` -> (``Optional``, (``Dict[str,Tensor]``,))."""
    text = text.strip()
    start = text.find("[")
    if start < 0 or not text.endswith("]"):
        return text, ()
    head, inner = text[:start], text[start + 1:-1]
    args, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        args.append(cur.strip())
    return head.strip(), tuple(args)


def annotation_kind(text: Optional[str]) -> Optional[Kind]:
    """The kind a PEP 484 / 604 annotation (as summaries spell it) gives a value, or None when it
    does not say (a project class, ``Any``, a name mllint cannot read). Annotations are authoritative:
    ``List[Tensor]`` is a list of tensors, ``Optional[Dict[str, Tensor]]`` a dict, ``int`` static."""
    if not text:
        return None
    head, args = _split_annotation(text)
    for prefix in _TYPING_PREFIXES:
        if head.startswith(prefix):
            head = head[len(prefix):]
    if head in ("Optional", "Union"):
        kinds = {annotation_kind(a) for a in args if a not in ("None", "NoneType")}
        return kinds.pop() if len(kinds) == 1 else None
    if head in ("Annotated", "Final", "ClassVar") and args:
        return annotation_kind(args[0])
    if head.endswith(("Tensor", "Parameter")) and head.split(".")[-1][:1].isupper():
        return Kind.TENSOR
    if head in _STATIC_TYPES:
        return Kind.STATIC
    if head in _SEQUENCE_TYPES:
        elems = {annotation_kind(a) for a in args if a != "..."}
        if elems == {Kind.TENSOR}:
            return Kind.TENSOR_LIST
        return Kind.STATIC if elems and elems <= {Kind.STATIC} else Kind.UNKNOWN
    if head in _MAPPING_TYPES:
        return Kind.UNKNOWN  # a container: not a tensor, not a static value
    return None


def is_optional_annotation(text: Optional[str]) -> bool:
    """``Optional[X]``, ``Union[X, None]`` or ``X | None``."""
    if not text:
        return False
    head, args = _split_annotation(text)
    head = head[len("typing."):] if head.startswith("typing.") else head
    return head == "Optional" or (head == "Union" and "None" in args)
