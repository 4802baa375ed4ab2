"""Per-file summary: what other files need to know about this one, without its syntax tree.

A summary is plain, picklable data (it crosses process boundaries and is cached by content
hash). It is built from the top level and class bodies only, never a full walk of the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import libcst as cst

from mllint._compat import SLOTS
from mllint.analysis.names import add_import_aliases, canonical, child_nodes, collect_aliases, dotted, qualify
from mllint.analysis.guards import GuardSets, returned_guard
from mllint.analysis.roles import RoleFacts, role_facts
from mllint.analysis.torch_model_facts import TorchClassFacts, torch_class_facts
from mllint.analysis.wrappers import WrapperFacts, wrapper_facts
from mllint.targets import EXPORT_API_TARGETS, export_target

#: Names (after alias resolution) that mark a module-level call as an export or compile site.
EXPORT_CALLS = frozenset({
    "torch.jit.script", "torch.jit.trace", "torch.jit.trace_module", "torch.export.export",
    "torch.export._trace._export", "torch.onnx.export", "torch.onnx.dynamo_export", "torch.compile",
    "tensorflow.function", "tensorflow.saved_model.save", "tensorflow.lite.TFLiteConverter.from_keras_model",
    "tensorflow.lite.TFLiteConverter.from_concrete_functions", "tensorflow.lite.TFLiteConverter.from_saved_model",
})


#: Cheap text pre-filter: only files that may call an export API get the call-site walk.
_CALL_SITE_HINT = re.compile(
    r"\b(script|trace|trace_module|export|dynamo_export|compile|function|save|from_keras_model|"
    r"from_concrete_functions|from_saved_model|save_keras_model|convert_tf_saved_model|convert)\s*\("
)


@dataclass(frozen=True, **SLOTS)
class ParamSummary:
    name: str
    annotation: Optional[str]  # dotted, qualified where possible (e.g. "torch.Tensor", "int")
    default: Optional[str]  # "none", "literal", "other" or None when there is no default
    star: str = ""  # "", "*", "**", or "kwonly"
    literal: Optional[str] = None  # a literal default's source text (``False``, ``'np'``, ``0.5``)


#: Static shape of one ``tf.TensorSpec`` (None entries are dynamic dimensions).
SpecShape = Tuple[Optional[int], ...]


@dataclass(frozen=True, **SLOTS)
class TFFunctionInfo:
    """What a ``@tf.function`` / ``@tf.function(...)`` decorator says (AutoGraph, signature)."""

    autograph: bool = True
    has_signature: bool = False
    #: per positional parameter (after ``self``), the literal TensorSpec shape; None when not literal
    shapes: Optional[Tuple[Optional[SpecShape], ...]] = None


@dataclass(frozen=True, **SLOTS)
class FuncSummary:
    name: str
    params: Tuple[ParamSummary, ...]
    decorators: Tuple[str, ...]  # dotted names, qualified where possible
    returns: Optional[str]
    is_async: bool = False
    tf_function: Optional[TFFunctionInfo] = None  # set when decorated with tf.function
    #: a guard helper (``return torch.jit.is_tracing() or ...``): (never-true, never-false) targets
    guard: Optional[GuardSets] = None
    #: module-level factories: the project class every ``return`` builds (``return Net(...)``), if one
    builds: Optional[str] = None
    #: the body (nested functions included) calls ``register_keras_serializable`` / ``get_custom_objects``
    registers_keras: bool = False
    #: qualified names of the project-looking functions the body calls (only read to follow a Keras
    #: registration through a project's own export decorators; filled for files that mention registering)
    calls: Tuple[str, ...] = ()
    #: module-level decorators: what their ``**kwargs`` wrapper adds to the keywords it passes on (PT406)
    wrapper: Optional[WrapperFacts] = None


@dataclass(frozen=True, **SLOTS)
class AttrInfo:
    kind: str  # "module", "module_list", "tensor", "static", "unknown"
    cls: Optional[str] = None  # qualified class constructed (module / module_list element)
    literal: Optional[str] = None  # static: ``self.x = False`` (the literal's text)
    param: Optional[str] = None  # static: ``self.x = x``, a constructor parameter copied
    #: module: the constructor call's arguments (keyword name or ``#<position>``, literal text or "")
    args: Tuple[Tuple[str, str], ...] = ()
    #: tensor: made by a framework factory call (``torch.ones(...)``), not a parameter or a registered buffer
    constant: bool = False


@dataclass(**SLOTS)
class ClassSummary:
    name: str
    qualname: str  # "pkg.mod.Class"
    bases: Tuple[str, ...]  # qualified dotted names
    decorators: Tuple[str, ...]
    methods: Dict[str, FuncSummary] = field(default_factory=dict)
    attrs: Dict[str, AttrInfo] = field(default_factory=dict)
    class_attrs: Tuple[str, ...] = ()
    #: class-level constants (``use_cache: bool = True``): (name, the literal's source text); a config class's
    #: defaults, which PT225 reads for ``self.config.<name>``
    class_literals: Tuple[Tuple[str, str], ...] = ()
    #: (attr, method): ``self.<attr>`` assigned in a method other than __init__/build/setup
    mutated_attrs: Tuple[Tuple[str, str], ...] = ()
    #: methods that __init__/build/setup call on ``self`` (they run at construction time too)
    construction_calls: Tuple[str, ...] = ()
    #: __init__ builds the model (``self.build(...)``, ``self(...)``, or functional ``super().__init__(inputs, outputs)``)
    builds_in_init: bool = False
    #: PyTorch models: what export call sites in other files need (data-dependent tests, train-mode use)
    torch_facts: Optional[TorchClassFacts] = None
    #: named inside another class of its file or in a module-level container: (probably) a part of a
    #: bigger model, whose ``forward`` inputs are that model's intermediates
    used_as_part: bool = False
    #: what ``forward`` does that no exported model does (a loss, ``backward()``, image decoding); see roles.py
    role: Optional[RoleFacts] = None
    #: a class-level ``dynamic_shapes = {...}`` literal (the ExportDB style): the dims it declares dynamic,
    #: as in ``CallSite.dynamic``
    dynamic_spec: Tuple[Tuple[str, Tuple[int, ...]], ...] = ()


@dataclass(frozen=True, **SLOTS)
class CallSite:
    """A call to an export/compile API anywhere at module or function level."""

    callee: str  # qualified, e.g. "torch.jit.script"
    arg0: Optional[str]  # qualified name of the first argument, or of the class it instantiates
    keywords: Tuple[str, ...]
    #: dimensions declared dynamic (``dynamic_shapes`` / ``dynamic_axes``): (forward parameter name, or
    #: "#<position>", dims); empty when none or when the spec is not a literal mllint can read
    dynamic: Tuple[Tuple[str, Tuple[int, ...]], ...] = ()


@dataclass(frozen=True, **SLOTS)
class ExportCall:
    """An export call (``torch.onnx.export(m, ...)``, ``model.save("m.keras")``): which target, which model.

    Read for the default targets (``auto``) and the entry points (``mllint.entries``).
    """

    api: str  # a key of ``targets.EXPORT_API_TARGETS``
    target: str
    line: int
    #: what it exports, statically: a qualified class (``m = Net(...)``), a function whose result it is
    #: (``m = build(...)``: ``via == "factory"``), any other qualified name; None when unknown
    arg: Optional[str] = None
    via: str = ""  # "class", "factory", "name", "path" (converts a saved artifact: no model) or ""


@dataclass
class ModuleSummary:
    module: str  # dotted module name ("" when unknown)
    is_package: bool
    aliases: Dict[str, str]
    classes: Dict[str, ClassSummary] = field(default_factory=dict)
    functions: Dict[str, FuncSummary] = field(default_factory=dict)
    call_sites: List[CallSite] = field(default_factory=list)
    exports: List[ExportCall] = field(default_factory=list)
    uses_torch: bool = False
    uses_tf: bool = False
    keras_flavor: Optional[str] = None  # "keras3", "tf_keras", or None
    #: local classes and functions registered for Keras by a module-level statement (``register_keras_serializable()(Cls)``,
    #: ``get_custom_objects()[...] = Cls``)
    keras_registered: Tuple[str, ...] = ()
    #: classes a module-level statement registers as torch pytree nodes (``register_pytree_node(Cls, ...)``,
    #: ``torch.export.register_dataclass(Cls)``), as written (``Cls``, ``mod.Cls``)
    pytree_registered: Tuple[str, ...] = ()
    #: functional Keras models: (qualified layer class, dims of its input that are dynamic, batch included)
    #: for a layer applied straight to a ``keras.Input(shape)`` with a literal shape (``Input((None, 4))``:
    #: dims 0 and 1), or placed first after it in ``keras.Sequential([keras.Input(...), Layer(...)])``
    keras_inputs: Tuple[Tuple[str, Tuple[int, ...]], ...] = ()
    #: a module-level ``dynamic_shapes = {...}`` literal next to the model (the ExportDB style): the dims it
    #: declares dynamic, as in ``CallSite.dynamic``, and whether its keys name inputs (a dict) or positions
    dynamic_spec: Tuple[Tuple[str, Tuple[int, ...]], ...] = ()
    #: the local class a module-level ``model = Cls(...)`` builds (ExportDB's ``model = ...``), when one is
    model_binding: Optional[str] = None


def _annotation(node: Optional[cst.Annotation], aliases: Dict[str, str]) -> Optional[str]:
    if node is None:
        return None
    ann = node.annotation
    if isinstance(ann, cst.SimpleString):
        text = ann.evaluated_value if isinstance(ann.evaluated_value, str) else None
        if text is None:
            return None
        try:  # a string (forward-reference) annotation: read the expression inside
            return _annotation(cst.Annotation(cst.parse_expression(text.strip())), aliases)
        except (cst.ParserSyntaxError, RecursionError):
            return qualify(text, aliases) or text
    if isinstance(ann, cst.Subscript):
        head = dotted(ann.value)
        inner = [
            _annotation(cst.Annotation(e.slice.value), aliases)
            for e in ann.slice
            if isinstance(e.slice, cst.Index)
        ]
        base = qualify(head, aliases) or head or "?"
        return f"{base}[{','.join(i or '?' for i in inner)}]"
    if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
        left = _annotation(cst.Annotation(ann.left), aliases)
        right = _annotation(cst.Annotation(ann.right), aliases)
        return f"typing.Union[{left},{right}]"
    name = dotted(ann)
    if isinstance(ann, cst.Name) and ann.value == "None":
        return "None"
    return qualify(name, aliases) or name


def _default_kind(node: Optional[cst.BaseExpression]) -> Optional[str]:
    if node is None:
        return None
    if isinstance(node, cst.Name) and node.value == "None":
        return "none"
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString, cst.Imaginary)):
        return "literal"
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return "literal"
    if isinstance(node, cst.UnaryOperation) and isinstance(node.expression, (cst.Integer, cst.Float)):
        return "literal"
    if isinstance(node, (cst.Tuple, cst.List)) and all(
        _default_kind(e.value) == "literal" for e in node.elements
    ):
        return "literal"
    return "other"


def _default_literal(node: Optional[cst.BaseExpression]) -> Optional[str]:
    """Source text of a scalar literal default (``None``, ``False``, ``0.5``, ``'pt'``), else None."""
    if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
        return node.value
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
        return node.value
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(
            node.expression, (cst.Integer, cst.Float)):
        return "-" + node.expression.value
    return None


def decorator_name(dec: cst.Decorator, aliases: Dict[str, str]) -> str:
    expr = dec.decorator
    if isinstance(expr, cst.Call):
        expr = expr.func
    name = dotted(expr) or "?"
    return qualify(name, aliases) or name


def summarize_function(fn: cst.FunctionDef, aliases: Dict[str, str],
                       specs: Optional[Dict[str, Tuple[Optional[SpecShape], ...]]] = None) -> FuncSummary:
    p = fn.params
    params: List[ParamSummary] = []
    for param in list(p.posonly_params) + list(p.params):
        params.append(ParamSummary(param.name.value, _annotation(param.annotation, aliases), _default_kind(param.default),
                                   literal=_default_literal(param.default)))
    if isinstance(p.star_arg, cst.Param):
        params.append(ParamSummary(p.star_arg.name.value, _annotation(p.star_arg.annotation, aliases), None, "*"))
    for param in p.kwonly_params:
        params.append(ParamSummary(param.name.value, _annotation(param.annotation, aliases), _default_kind(param.default),
                                   "kwonly", _default_literal(param.default)))
    if p.star_kwarg is not None:
        params.append(ParamSummary(p.star_kwarg.name.value, _annotation(p.star_kwarg.annotation, aliases), None, "**"))
    tf_info = None
    for dec in fn.decorators:
        if decorator_name(dec, aliases) == "tensorflow.function":
            tf_info = tf_function_info(dec.decorator, specs)
    return FuncSummary(
        name=fn.name.value,
        params=tuple(params),
        decorators=tuple(decorator_name(d, aliases) for d in fn.decorators),
        returns=_annotation(fn.returns, aliases),
        is_async=fn.asynchronous is not None,
        tf_function=tf_info,
        guard=returned_guard(fn, lambda name: qualify(name, aliases)),
    )


def _literal_shape(node: cst.BaseExpression) -> Optional[SpecShape]:
    """``[None, 3]`` / ``(None, 3)`` -> (None, 3); anything else -> None."""
    if not isinstance(node, (cst.List, cst.Tuple)):
        return None
    dims: List[Optional[int]] = []
    for el in node.elements:
        v = el.value
        if isinstance(v, cst.Integer):
            dims.append(int(v.value))
        elif isinstance(v, cst.Name) and v.value == "None":
            dims.append(None)
        else:
            return None
    return tuple(dims)


def _spec_shape(node: cst.BaseExpression) -> Optional[SpecShape]:
    """The shape of a literal ``tf.TensorSpec(shape, ...)`` (positional or ``shape=``)."""
    if not isinstance(node, cst.Call) or (dotted(node.func) or "").split(".")[-1] != "TensorSpec":
        return None
    for i, arg in enumerate(node.args):
        if (arg.keyword is None and i == 0) or (arg.keyword is not None and arg.keyword.value == "shape"):
            return _literal_shape(arg.value)
    return None


def spec_constants(module: cst.Module) -> Dict[str, Tuple[Optional[SpecShape], ...]]:
    """Module-level ``SPEC = [tf.TensorSpec(...), ...]``: the shapes, for ``input_signature=SPEC``."""
    out: Dict[str, Tuple[Optional[SpecShape], ...]] = {}
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
                        and isinstance(small.value, (cst.List, cst.Tuple)) and small.value.elements
                        and all(isinstance(e.value, cst.Call) for e in small.value.elements)):
                    out[small.targets[0].target.value] = tuple(_spec_shape(e.value) for e in small.value.elements)
    return out


def tf_function_info(expr: cst.BaseExpression,
                     specs: Optional[Dict[str, Tuple[Optional[SpecShape], ...]]] = None) -> TFFunctionInfo:
    """Read ``autograph=`` and ``input_signature=`` from ``tf.function`` / ``tf.function(...)``."""
    if not isinstance(expr, cst.Call):
        return TFFunctionInfo()
    autograph, has_signature, shapes = True, False, None
    for arg in expr.args:
        key = arg.keyword.value if arg.keyword is not None else None
        value = arg.value
        if key == "autograph" and isinstance(value, cst.Name) and value.value == "False":
            autograph = False
        elif key == "input_signature" and not (isinstance(value, cst.Name) and value.value == "None"):
            has_signature = True
            if isinstance(value, (cst.List, cst.Tuple)):
                shapes = tuple(_spec_shape(e.value) for e in value.elements)
            elif isinstance(value, cst.Name) and specs and value.value in specs:
                shapes = specs[value.value]
    return TFFunctionInfo(autograph, has_signature, shapes)


_PARAM_CLASSES = {"torch.nn.Parameter", "torch.nn.parameter.Parameter", "tensorflow.Variable"}
_CONTAINER_CLASSES = {"torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.ParameterList"}


class _AttrCollector:
    """``self.x = ...`` assignments in ``__init__`` / ``build`` and what they hold."""

    def __init__(self, aliases: Dict[str, str], local_classes: Dict[str, str], init_params: Sequence[str]) -> None:
        self.aliases = aliases
        self.local_classes = local_classes
        self.init_params = set(init_params)
        self.attrs: Dict[str, AttrInfo] = {}

    def class_of(self, func: cst.BaseExpression) -> Optional[str]:
        name = dotted(func)
        if name is None:
            return None
        if name in self.local_classes:
            return self.local_classes[name]
        return qualify(name, self.aliases)

    def value_info(self, value: cst.BaseExpression) -> AttrInfo:
        if isinstance(value, cst.Call):
            callee = self.class_of(value.func)
            raw = dotted(value.func) or ""
            if raw in ("self.add_weight", "self.add_variable") or (callee in _PARAM_CLASSES):
                return AttrInfo("tensor")
            if callee in _CONTAINER_CLASSES or callee == "torch.nn.Sequential":
                elem = None
                for arg in value.args:
                    inner = arg.value
                    if isinstance(inner, (cst.ListComp, cst.GeneratorExp)) and isinstance(inner.elt, cst.Call):
                        elem = self.class_of(inner.elt.func)
                    elif isinstance(inner, (cst.List, cst.Tuple)) and inner.elements:
                        first = inner.elements[0].value
                        if isinstance(first, cst.Call):
                            elem = self.class_of(first.func)
                kind = "module" if callee == "torch.nn.Sequential" else "module_list"
                return AttrInfo(kind, callee if kind == "module" else elem)
            if callee and callee.startswith(("torch.", "tensorflow.")) and callee.split(".")[-1][:1].islower():
                if callee.startswith(("torch.nn.functional.", "torch.jit.", "torch.nn.init.")):
                    return AttrInfo("unknown")
                return AttrInfo("tensor", constant=True)
            if callee:
                return AttrInfo("module", callee, args=_call_args(value))
            return AttrInfo("unknown")
        if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString, cst.UnaryOperation)) or (
                isinstance(value, cst.Name) and value.value in ("True", "False", "None")):
            literal = _default_literal(value)
            if literal is not None or not isinstance(value, cst.UnaryOperation):
                return AttrInfo("static", literal=literal)
        if isinstance(value, cst.Name):
            if value.value in self.init_params:
                return AttrInfo("static", param=value.value)
        if isinstance(value, (cst.BinaryOperation, cst.UnaryOperation)):
            names = _names_in(value)
            if names and names <= (self.init_params | {"True", "False", "None"}):
                return AttrInfo("static")
            if not names:
                return AttrInfo("static")
        if isinstance(value, (cst.Tuple, cst.List)) and all(
            isinstance(e.value, (cst.Integer, cst.Float, cst.SimpleString)) for e in value.elements
        ):
            return AttrInfo("static")
        return AttrInfo("unknown")

    def visit_body(self, body: Sequence[cst.CSTNode]) -> None:
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self.visit_small(small)
            elif isinstance(stmt, (cst.If, cst.For, cst.With, cst.While, cst.Try)):
                self.visit_body(stmt.body.body)
                orelse = getattr(stmt, "orelse", None)
                if orelse is not None and hasattr(orelse, "body"):
                    inner = orelse.body
                    self.visit_body(inner.body if hasattr(inner, "body") else [])

    def visit_small(self, small: cst.CSTNode) -> None:
        if isinstance(small, (cst.Assign, cst.AnnAssign)):
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            value = small.value
            if value is None:
                return
            for target in targets:
                name = dotted(target)
                if name and name.startswith("self.") and name.count(".") == 1:
                    attr = name[5:]
                    info = self.value_info(value)
                    old = self.attrs.get(attr)
                    if old is None or old == info or old.kind == "unknown":
                        self.attrs[attr] = info
                    elif old.kind == info.kind and old.cls == info.cls:
                        self.attrs[attr] = AttrInfo(info.kind, info.cls)  # assigned twice: no one constant
                    elif info.kind != "unknown":
                        self.attrs[attr] = AttrInfo("unknown")
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            func = dotted(call.func)
            if func in ("self.register_buffer", "self.register_parameter") and call.args:
                first = call.args[0].value
                if isinstance(first, cst.SimpleString) and isinstance(first.evaluated_value, str):
                    self.attrs[first.evaluated_value] = AttrInfo("tensor")


def _call_args(call: cst.Call) -> Tuple[Tuple[str, str], ...]:
    """A constructor call's arguments: (keyword or ``#<position>``, literal text or "")."""
    out: List[Tuple[str, str]] = []
    position = 0
    for arg in call.args:
        if arg.star:
            return (("*", ""),)
        literal = _default_literal(arg.value) or ""
        if arg.keyword is not None:
            out.append((arg.keyword.value, literal))
        else:
            out.append((f"#{position}", literal))
            position += 1
    return tuple(out)


def _names_in(node: cst.CSTNode) -> set:
    found = set()

    def walk(n: cst.CSTNode) -> None:
        if isinstance(n, cst.Name):
            found.add(n.value)
        elif isinstance(n, cst.Attribute):
            found.add("<attr>")
        elif isinstance(n, cst.Call):
            found.add("<call>")
        else:
            for c in child_nodes(n):
                walk(c)

    walk(node)
    return found


_TOP_LEVEL = re.compile(r"^(?:@|class\s+(\w+)|def\s|async\s+def\s|[A-Za-z_(\[])", re.M)


def classes_used_as_parts(text: str, classes: Iterable[str]) -> Set[str]:
    """Classes named in the body of another class of the file, or in a module-level statement other than a
    call of them (``BLOCKS = {"pad": PadPrompter}``, ``block_fn=Block`` defaults).

    Read from the text, not the tree: top-level statements start at column 0. A name in a docstring or
    comment also counts, which can only make fewer ``forward``s look like export inputs (fewer findings).
    """
    names = [c for c in classes if text.count(c) > 1]
    if not names:
        return set()
    starts = [(m.start(), m.group(1)) for m in _TOP_LEVEL.finditer(text)]
    spans = [(start, starts[i + 1][0] if i + 1 < len(starts) else len(text), owner)
             for i, (start, owner) in enumerate(starts)]
    used: Set[str] = set()
    for name in names:
        mention = re.compile(rf"\b{re.escape(name)}\b")
        not_called = re.compile(rf"\b{re.escape(name)}\b(?!\s*\()")
        for start, end, owner in spans:
            if owner == name:
                continue
            chunk = text[start:end]
            if owner is not None and mention.search(chunk):
                used.add(name)
                break
            if owner is None and not chunk.startswith(("if __name__", "__all__")) and not_called.search(chunk):
                used.add(name)
                break
    return used


def summarize(module: cst.Module, module_name: str, is_package: bool, text: str) -> ModuleSummary:
    aliases = collect_aliases(module, module_name, is_package)
    summary = ModuleSummary(module=module_name, is_package=is_package, aliases=aliases)
    heads = {v.split(".")[0] for v in aliases.values()}
    summary.uses_torch = "torch" in heads
    summary.uses_tf = bool(heads & {"tensorflow", "keras", "tf_keras"})
    if "tf_keras" in heads:
        summary.keras_flavor = "tf_keras"
    elif summary.uses_tf:
        summary.keras_flavor = "keras3"  # tf.keras is Keras 3 in TF >= 2.16
    prefix = f"{module_name}." if module_name else ""
    local_classes = {
        stmt.name.value: prefix + stmt.name.value for stmt in module.body if isinstance(stmt, cst.ClassDef)
    }
    specs = spec_constants(module) if "TensorSpec" in text else None
    parts = classes_used_as_parts(text, local_classes) if summary.uses_torch else set()
    # ``TensorList = List[torch.Tensor]``: annotations read through the file's type aliases
    type_aliases = _type_aliases(module, aliases)
    ann_aliases = {**aliases, **type_aliases} if type_aliases else aliases
    module_bound: Dict[str, cst.BaseExpression] = {}  # module-level assignments so far (``batch = Dim(...)``)
    for stmt in module.body:
        if isinstance(stmt, cst.ClassDef):
            summary.classes[stmt.name.value] = _summarize_class(stmt, ann_aliases, local_classes, prefix, specs,
                                                                module_bound)
            if summary.uses_torch:
                cls = summary.classes[stmt.name.value]
                cls.torch_facts = torch_class_facts(stmt, tuple(cls.methods), cls.attrs, aliases, text)
                cls.used_as_part = stmt.name.value in parts
                forward = next((s for s in stmt.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "forward"), None)
                if forward is not None:
                    cls.role = role_facts(forward, aliases, text)
        elif isinstance(stmt, cst.FunctionDef):
            fn = summarize_function(stmt, ann_aliases, specs)
            built = _factory_builds(stmt, local_classes, aliases)
            if built:
                fn = replace(fn, builds=built)
            if "**" in text:
                wrapped = wrapper_facts(stmt)
                if wrapped is not None:
                    fn = replace(fn, wrapper=wrapped)
            summary.functions[stmt.name.value] = fn
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if summary.uses_torch:
                    _module_level_spec(small, summary, local_classes, module_bound)
                # Module-level aliases of names: ``Module = nn.Module``.
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    src = dotted(small.value)
                    if isinstance(target, cst.Name) and src:
                        q = local_classes.get(src) or qualify(src, aliases)
                        if q:
                            aliases[target.value] = q
                            ann_aliases[target.value] = q
    if _CALL_SITE_HINT.search(text):
        summary.call_sites, summary.exports = _collect_call_sites(module, aliases, local_classes, summary, text)
    # Keras registration (TF405): read in TF files and in framework-free helpers a registration chain may pass
    # through, not in PyTorch files (timm's ``@register_model`` on every model file)
    if (summary.uses_tf or not summary.uses_torch or "keras" in text) and _REGISTRATION_HINT.search(text):
        _registration_facts(module, summary, aliases, prefix)
    if _PYTREE_HINT.search(text):
        summary.pytree_registered = _pytree_registrations(module)
    if "Input(" in text and summary.uses_tf:
        summary.keras_inputs = _keras_inputs(module, aliases, local_classes)
    return summary




#: Cheap text pre-filter for the pytree read (timm's ``@register_model`` on every file must not trigger it).
_PYTREE_HINT = re.compile(r"register_pytree_node|register_dataclass|register_constant")
#: torch's pytree registration functions (``torch.utils._pytree``, ``torch.export``)
PYTREE_REGISTRATIONS = ("register_pytree_node", "register_dataclass", "_register_pytree_node", "register_constant")


def _pytree_registrations(module: cst.Module) -> Tuple[str, ...]:
    """The classes module-level code registers as pytree nodes (import time: every export sees them);
    a registration inside a function runs only when something calls it, so it does not count."""
    found: List[str] = []
    stack: List[cst.CSTNode] = list(module.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.Lambda)):
            continue
        if isinstance(node, cst.ClassDef):
            for dec in node.decorators:
                name = dotted(dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator) or ""
                if name.split(".")[-1] in PYTREE_REGISTRATIONS:
                    found.append(node.name.value)
            continue
        if isinstance(node, cst.Call):
            name = dotted(node.func) or ""
            first = dotted(node.args[0].value) if node.args else None
            if name.split(".")[-1] in PYTREE_REGISTRATIONS and first:
                found.append(first)
        stack.extend(child_nodes(node))
    return tuple(sorted(set(found)))


def _is_constant(node: cst.BaseExpression) -> bool:
    """A literal constant: ``True``, ``None``, ``0.5``, ``-1``, ``'gelu'``."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    if isinstance(node, cst.Name):
        return node.value in ("True", "False", "None")
    return isinstance(node, (cst.Integer, cst.Float, cst.SimpleString))


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


_KERAS_INPUTS = frozenset({"keras.Input", "keras.layers.Input", "tensorflow.keras.Input", "tensorflow.keras.layers.Input",
                           "tf_keras.Input", "tf_keras.layers.Input", "keras.src.layers.core.input_layer.Input"})
_KERAS_SEQUENTIAL = frozenset({"keras.Sequential", "keras.models.Sequential", "tensorflow.keras.Sequential",
                               "tensorflow.keras.models.Sequential", "tf_keras.Sequential", "tf_keras.models.Sequential"})


def _keras_inputs(module: cst.Module, aliases: Dict[str, str],
                  local_classes: Dict[str, str]) -> Tuple[Tuple[str, Tuple[int, ...]], ...]:
    """Layers applied straight to a ``keras.Input`` of literal shape, and the dims of their input that are
    dynamic (the batch, and each ``None`` of the shape). Statements only, in every function and at module level;
    a name bound to an Input more than once in a scope is not read."""
    found: List[Tuple[str, Tuple[int, ...]]] = []

    def input_dims(node: cst.BaseExpression) -> Optional[Tuple[int, ...]]:
        if not isinstance(node, cst.Call) or canonical(qualify(dotted(node.func), aliases) or "") not in _KERAS_INPUTS:
            return None
        shape = next((a.value for a in node.args if a.keyword is None or a.keyword.value == "shape"), None)
        if not isinstance(shape, cst.Tuple) or not all(isinstance(e, cst.Element) for e in shape.elements):
            return None
        items = [e.value for e in shape.elements]
        if not all(isinstance(v, cst.Integer) or (isinstance(v, cst.Name) and v.value == "None") for v in items):
            return None
        return (0,) + tuple(i + 1 for i, v in enumerate(items) if isinstance(v, cst.Name))

    def layer_class(node: cst.BaseExpression) -> Optional[str]:
        """``Cls(...)``: the qualified class, when its name looks like one."""
        if not isinstance(node, cst.Call):
            return None
        n = dotted(node.func)
        if not n or not n.split(".")[-1][:1].isupper():
            return None
        return local_classes.get(n) or qualify(n, aliases) or n

    def scope(stmts: Sequence[cst.CSTNode]) -> None:
        inputs: Dict[str, Optional[Tuple[int, ...]]] = {}
        values: List[cst.BaseExpression] = []
        for stmt in stmts:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                if isinstance(stmt.body, cst.IndentedBlock):
                    scope(stmt.body.body)
                continue
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                value = getattr(small, "value", None)
                if not isinstance(value, cst.BaseExpression):
                    continue
                values.append(value)
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                    name = small.targets[0].target.value
                    dims = input_dims(value)
                    inputs[name] = None if name in inputs else dims
        for value in values:
            stack: List[cst.CSTNode] = [value]
            while stack:
                n = stack.pop()
                stack.extend(child_nodes(n))
                if not isinstance(n, cst.Call):
                    continue
                # ``Cls(...)(inp)``
                if isinstance(n.func, cst.Call) and n.args and isinstance(n.args[0].value, cst.Name):
                    dims = inputs.get(n.args[0].value.value)
                    cls = layer_class(n.func)
                    if dims is not None and cls is not None:
                        if len(dims) > 1:  # the batch alone is what every entry assumes
                            found.append((cls, dims))
                # ``keras.Sequential([keras.Input(...), Cls(...), ...])``
                if canonical(qualify(dotted(n.func), aliases) or "") in _KERAS_SEQUENTIAL and n.args:
                    layers = n.args[0].value
                    if isinstance(layers, (cst.List, cst.Tuple)) and len(layers.elements) >= 2:
                        dims = input_dims(layers.elements[0].value)
                        cls = layer_class(layers.elements[1].value)
                        if dims is not None and cls is not None:
                            if len(dims) > 1:
                                found.append((cls, dims))

    scope(module.body)
    return tuple(dict.fromkeys(found))


#: Cheap text pre-filter: only files that may register Keras classes get the registration read.
_REGISTRATION_HINT = re.compile(r"regist|serializ|custom_object")
_REGISTRATION_CALLS = ("register_keras_serializable", "get_custom_objects")
_MAX_CALLS = 24


def _registration_facts(module: cst.Module, summary: ModuleSummary, aliases: Dict[str, str], prefix: str) -> None:
    """Which module-level functions (and ``__call__`` / ``__init__`` of classes, for decorator classes)
    register Keras classes, directly or through the project functions they call; and which local
    classes a module-level statement registers."""
    local_defs = {stmt.name.value for stmt in module.body if isinstance(stmt, (cst.FunctionDef, cst.ClassDef))}

    def facts(fn: cst.FunctionDef) -> Tuple[bool, Tuple[str, ...]]:
        direct = False
        calls: List[str] = []
        stack: List[cst.CSTNode] = list(child_nodes(fn.body))
        while stack:
            n = stack.pop()
            stack.extend(child_nodes(n))
            if not isinstance(n, cst.Call):
                continue
            name = dotted(n.func)
            if not name:
                continue
            if name.endswith(_REGISTRATION_CALLS):
                direct = True
                continue
            head = name.split(".")[0]
            q = qualify(name, aliases) or (prefix + name if head in local_defs else None)
            if q and q not in calls and len(calls) < _MAX_CALLS:
                calls.append(q)
        return direct, tuple(calls)

    for stmt in module.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value in summary.functions:
            direct, calls = facts(stmt)
            if direct or calls:
                summary.functions[stmt.name.value] = replace(summary.functions[stmt.name.value],
                                                             registers_keras=direct, calls=calls)
        elif isinstance(stmt, cst.ClassDef) and stmt.name.value in summary.classes:
            cls = summary.classes[stmt.name.value]
            for item in stmt.body.body:
                if isinstance(item, cst.FunctionDef) and item.name.value in ("__call__", "__init__", "__new__") \
                        and item.name.value in cls.methods:
                    direct, calls = facts(item)
                    if direct or calls:
                        cls.methods[item.name.value] = replace(cls.methods[item.name.value],
                                                               registers_keras=direct, calls=calls)
        elif isinstance(stmt, cst.SimpleStatementLine):
            code = module.code_for_node(stmt)
            if "register_keras_serializable" in code or "custom_objects" in code:
                for name in sorted(set(re.findall(r"[A-Za-z_]\w*", code)) & (set(summary.classes) | set(summary.functions))):
                    if name not in summary.keras_registered:
                        summary.keras_registered += (name,)


_TYPING_HEADS = ("typing.", "typing_extensions.", "list", "dict", "tuple", "set", "frozenset")


def _type_aliases(module: cst.Module, aliases: Dict[str, str]) -> Dict[str, str]:
    """Module-level ``Name = Optional[torch.Tensor]`` / ``List[Tensor]`` / ``A | None``: name -> annotation."""
    out: Dict[str, str] = {}
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)):
                continue
            value = small.value
            if isinstance(value, cst.Subscript):
                head = qualify(dotted(value.value), aliases) or dotted(value.value) or ""
                if not head.startswith(_TYPING_HEADS):
                    continue
            elif not (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.BitOr)):
                continue
            text = _annotation(cst.Annotation(value), {**aliases, **out})
            if text:
                out[small.targets[0].target.value] = text
    return out


def _summarize_class(node: cst.ClassDef, aliases: Dict[str, str], local_classes: Dict[str, str], prefix: str,
                     specs: Optional[Dict[str, Tuple[Optional[SpecShape], ...]]] = None,
                     bound: Optional[Dict[str, cst.BaseExpression]] = None) -> ClassSummary:
    bases = []
    for arg in node.bases:
        name = dotted(arg.value)
        if isinstance(arg.value, cst.Subscript):
            name = dotted(arg.value.value)
        if name:
            bases.append(local_classes.get(name) or qualify(name, aliases) or f"{prefix}{name}")
    cls = ClassSummary(
        name=node.name.value,
        qualname=prefix + node.name.value,
        bases=tuple(bases),
        decorators=tuple(decorator_name(d, aliases) for d in node.decorators),
    )
    init_params: List[str] = []
    bodies = []
    class_attrs = []
    class_literals: List[Tuple[str, str]] = []
    for stmt in node.body.body:
        if isinstance(stmt, cst.FunctionDef):
            cls.methods[stmt.name.value] = summarize_function(stmt, aliases, specs)
            if stmt.name.value in ("__init__", "build", "setup", "reset_parameters"):
                bodies.append(stmt)
                init_params.extend(p.name.value for p in stmt.params.params)
                init_params.extend(p.name.value for p in stmt.params.kwonly_params)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Assign, cst.AnnAssign)):
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                    class_attrs.extend(t.value for t in targets if isinstance(t, cst.Name))
                    if small.value is not None and _is_constant(small.value):
                        class_literals.extend((t.value, _code(small.value)) for t in targets if isinstance(t, cst.Name))
                    if small.value is not None and any(isinstance(t, cst.Name) and _is_spec_name(t.value) for t in targets):
                        cls.dynamic_spec = spec_dims(small.value, (), aliases, bound)
    collector = _AttrCollector(aliases, local_classes, init_params)
    for body in bodies:
        collector.visit_body(body.body.body)
    cls.attrs = collector.attrs
    cls.class_attrs = tuple(class_attrs)
    cls.class_literals = tuple(class_literals)
    mutated: Set[Tuple[str, str]] = set()
    cls.construction_calls = tuple(sorted(_self_calls(bodies)))  # e.g. ``self._build()``
    for stmt in node.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt not in bodies and isinstance(stmt.body, cst.IndentedBlock):
            per_call: Set[str] = set()  # a traced method storing its own argument: set anew on every trace
            if stmt.name.value == "call" or any(decorator_name(d, aliases) == "tensorflow.function" for d in stmt.decorators):
                per_call = {p.name.value for p in list(stmt.params.params) + list(stmt.params.kwonly_params)}
            names: List[str] = []
            _self_assignments(stmt.body.body, names, per_call)
            mutated.update((attr, stmt.name.value) for attr in names)
    cls.mutated_attrs = tuple(sorted(mutated))
    init = next((f for f in bodies if f.name.value == "__init__"), None)
    cls.builds_in_init = init is not None and _builds(init)
    return cls


def _self_calls(functions: Sequence[cst.FunctionDef]) -> Set[str]:
    """Names ``m`` of ``self.m(...)`` calls in ``functions``."""
    out: Set[str] = set()
    stack: List[cst.CSTNode] = [f.body for f in functions]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Call):
            name = dotted(n.func)
            if name and name.startswith("self.") and name.count(".") == 1:
                out.add(name[5:])
        stack.extend(child_nodes(n))
    return out


def _builds(init: cst.FunctionDef) -> bool:
    stack: List[cst.CSTNode] = [init.body]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Call):
            func = n.func
            name = dotted(func)
            if name in ("self", "self.build", "self.call"):
                return True
            if (isinstance(func, cst.Attribute) and func.attr.value == "__init__" and isinstance(func.value, cst.Call)
                    and dotted(func.value.func) == "super"):
                keywords = {a.keyword.value for a in n.args if a.keyword is not None}
                positional = [a for a in n.args if a.keyword is None and not a.star]
                if {"inputs", "outputs"} & keywords or len(positional) >= 2:
                    return True
        stack.extend(child_nodes(n))
    return False


def _self_assignments(stmts: Sequence[cst.CSTNode], out: List[str], per_call: Set[str]) -> None:
    """Names ``x`` of ``self.x = ...`` / ``self.x += ...`` in a method body (nested blocks included),
    except ``self.x = <param>`` for the parameter names in ``per_call``."""
    for stmt in stmts:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign):
                    if isinstance(small.value, cst.Name) and small.value.value in per_call:
                        continue
                    targets = [t.target for t in small.targets]
                elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                    targets = [small.target]
                else:
                    continue
                for target in targets:
                    name = dotted(target)
                    if name and name.startswith("self.") and name.count(".") == 1:
                        out.append(name[5:])
        elif isinstance(stmt, cst.BaseCompoundStatement) and not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            for part in (stmt, getattr(stmt, "orelse", None), getattr(stmt, "finalbody", None), *getattr(stmt, "handlers", ())):
                while part is not None:
                    body = getattr(part, "body", None)
                    if isinstance(body, cst.IndentedBlock):
                        _self_assignments(body.body, out, per_call)
                    part = part.orelse if isinstance(part, cst.If) else None


class _CallSiteCollector:
    """Export calls found by walking statements only (not every expression node).

    Export and compile calls stand at the top of a statement (``torch.onnx.export(...)``,
    ``ep = torch.export.export(...)``, ``return torch.jit.script(m)``), possibly wrapped in
    another call; walking statement bodies and those calls is far cheaper than a full visit.
    """

    def __init__(self, aliases: Dict[str, str], local_classes: Dict[str, str], local_functions: Dict[str, str],
                 text: str = "", uses_tf: bool = False) -> None:
        self.aliases = dict(aliases)
        self.imported = frozenset(aliases)  # names bound by imports: ``tf.save(...)`` is no method call
        self.local = {**local_classes, **local_functions}
        self.sites: List[CallSite] = []
        self.exports: List[ExportCall] = []
        self.text = text
        self.uses_tf = uses_tf
        self.seen: Dict[str, int] = {}  # callee text -> calls of it met so far (for the line of the next)
        self.bound: Dict[str, str] = {}  # ``model = Net(...).eval()``: name -> class (qualified)
        self.factory: Dict[str, str] = {}  # ``model = build(cfg)``: name -> the function (qualified)
        self.assigned: Dict[str, cst.BaseExpression] = {}  # ``shapes = {...}``: name -> its last value

    def block(self, stmts: Sequence[cst.CSTNode]) -> None:
        for stmt in stmts:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Import):
                        add_import_aliases(small, self.aliases, "", False)
                    value = getattr(small, "value", None)
                    if isinstance(value, cst.BaseExpression):
                        self.expr(value)
                    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                        self._remember(small.targets[0].target.value, small.value)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                saved = (dict(self.bound), dict(self.assigned), dict(self.factory))
                self.block(stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else [])
                self.bound, self.assigned, self.factory = saved
            elif isinstance(stmt, cst.BaseCompoundStatement):
                body = getattr(stmt, "body", None)
                if isinstance(body, cst.IndentedBlock):
                    self.block(body.body)
                for extra in ("orelse", "finalbody"):
                    part = getattr(stmt, extra, None)
                    while part is not None:
                        inner = getattr(part, "body", None)
                        if isinstance(inner, cst.IndentedBlock):
                            self.block(inner.body)
                        part = getattr(part, "orelse", None) if isinstance(part, cst.If) else None
                for handler in getattr(stmt, "handlers", ()):
                    self.block(handler.body.body)

    def expr(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Await):
            node = node.expression
        if not isinstance(node, cst.Call):
            return
        self.call(node)
        if isinstance(node.func, cst.Attribute):
            self.expr(node.func.value)  # chained: torch.jit.trace(m, x).save(...)
        for arg in node.args:
            self.expr(arg.value)

    def call(self, node: cst.Call) -> None:
        name = dotted(node.func)
        callee = qualify(name, self.aliases) if name else None
        if callee and canonical(callee) in EXPORT_CALLS:
            arg0 = None
            if node.args and node.args[0].keyword is None:
                first = node.args[0].value
                arg0 = self.bound.get(first.value) if isinstance(first, cst.Name) else self._built_class(first)
                if arg0 is None:
                    if isinstance(first, cst.Call):
                        first = first.func
                    n = dotted(first)
                    if n:
                        arg0 = self.local.get(n) or qualify(n, self.aliases) or n
            kws = tuple(a.keyword.value for a in node.args if a.keyword is not None)
            self.sites.append(CallSite(canonical(callee), arg0, kws, self._dynamic(node)))
        if name:
            self._export_call(node, name, canonical(callee) if callee else name)

    def _export_call(self, node: cst.Call, name: str, callee: str) -> None:
        """Record ``node`` if it exports a model (see ``targets.EXPORT_API_TARGETS``)."""
        obj: Optional[cst.BaseExpression] = None
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: (_default_literal(a.value) or "") for a in node.args if a.keyword is not None}
        if callee in EXPORT_API_TARGETS and not callee.startswith("."):
            api = callee
            obj = positional[0] if positional else None
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value in ("save", "export"):
            receiver = dotted(node.func.value)
            if receiver is None or receiver.split(".")[0] in self.imported:
                return  # ``torch.save(...)``, ``np.save(...)``: a module's function, not a model's method
            api = "." + node.func.attr.value
            if api == ".save":
                path = positional[0] if positional else next(
                    (a.value for a in node.args if a.keyword is not None and a.keyword.value == "filepath"), None)
                if not _ends_with(path, ".keras"):
                    return
            elif not self.uses_tf:
                return
            obj = node.func.value
        else:
            return
        target = export_target(api, keywords)
        if target is None:
            return
        arg, via = (None, "path") if api in _PATH_EXPORTS else self._exported(obj)
        self.exports.append(ExportCall(api, target, self._line(name), arg, via))

    def _exported(self, node: Optional[cst.BaseExpression]) -> Tuple[Optional[str], str]:
        """What an export call's model argument is, statically: (qualified name, how it was found)."""
        if node is None:
            return None, ""
        built = self._built_class(node)
        if built is not None:
            return built, "class"
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in _SELF_RETURNING:
            node = node.func.value
        if isinstance(node, cst.Name) and node.value in self.factory:
            return self.factory[node.value], "factory"
        if isinstance(node, cst.Call):
            n = dotted(node.func)
            return ((self.local.get(n) or qualify(n, self.aliases) or n), "factory") if n else (None, "")
        n = dotted(node)
        if n is None or n.split(".")[0] == "self" or (isinstance(node, cst.Name) and node.value in self.assigned):
            return None, ""
        return self.local.get(n) or qualify(n, self.aliases) or n, "name"

    def _line(self, name: str) -> int:
        """The line of the next call of ``name`` in the text (calls are met in source order)."""
        k = self.seen.get(name, 0)
        self.seen[name] = k + 1
        pattern = re.compile(r"(?<![\w.])(?<!def )" + re.escape(name).replace(r"\.", r"\s*\.\s*") + r"\s*\(")
        for i, m in enumerate(pattern.finditer(self.text)):
            if i == k:
                return self.text.count("\n", 0, m.start()) + 1
        return 0

    def _remember(self, name: str, value: cst.BaseExpression) -> None:
        self.assigned[name] = value
        cls = self._built_class(value)
        self.factory.pop(name, None)
        if cls is not None:
            self.bound[name] = cls
        else:
            self.bound.pop(name, None)
            arg, via = self._exported(value) if isinstance(value, cst.Call) else (None, "")
            if via == "factory" and arg is not None:
                self.factory[name] = arg

    def _built_class(self, node: cst.BaseExpression) -> Optional[str]:
        """``Net(...)`` or ``Net(...).eval().to(device)``: the qualified class it builds, if it looks like one."""
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in _SELF_RETURNING:
            node = node.func.value
        if isinstance(node, cst.Name) and node.value in self.bound:
            return self.bound[node.value]
        if not isinstance(node, cst.Call):
            return None
        n = dotted(node.func)
        if not n or not n.split(".")[-1][:1].isupper():
            return None
        return self.local.get(n) or qualify(n, self.aliases) or n

    def _dynamic(self, node: cst.Call) -> Tuple[Tuple[str, Tuple[int, ...]], ...]:
        """The dims a ``dynamic_shapes=`` / ``dynamic_axes=`` literal (or a name bound to one) declares."""
        spec = input_names = None
        for arg in node.args:
            if arg.keyword is None:
                continue
            value = arg.value
            if isinstance(value, cst.Name) and value.value in self.assigned:
                value = self.assigned[value.value]
            if arg.keyword.value in ("dynamic_shapes", "dynamic_axes"):
                spec = value
            elif arg.keyword.value == "input_names":
                input_names = value
        if spec is None:
            return ()
        names: List[str] = []
        if isinstance(input_names, (cst.List, cst.Tuple)):
            names = [e.value.evaluated_value if isinstance(e.value, cst.SimpleString) else "" for e in input_names.elements]
        return spec_dims(spec, names, self.aliases, self.assigned)


def spec_dims(spec: cst.BaseExpression, names: Sequence[str] = (), aliases: Optional[Dict[str, str]] = None,
              bound: Optional[Dict[str, cst.BaseExpression]] = None) -> Tuple[Tuple[str, Tuple[int, ...]], ...]:
    """A ``dynamic_shapes`` / ``dynamic_axes`` literal -> (input name or "#<position>", dynamic dims) pairs;
    ``names`` are the call's ``input_names`` (legacy ONNX keys name them). Not a literal: nothing.

    Dims declared with a named ``Dim("batch")`` (no ``min`` above 2; written there or bound to a name in
    ``bound``) are listed again under "!<key>": export refuses any guard that does not hold over that whole
    range, where ``Dim.AUTO`` / ``Dim.DYNAMIC`` narrow it silently (PT111 reads them)."""
    out: List[Tuple[str, Tuple[int, ...]]] = []
    strict: List[Tuple[str, Tuple[int, ...]]] = []

    def add(key: str, value: cst.BaseExpression) -> None:
        out.append((key, _declared_dims(value)))
        strict.append(("!" + key, _named_dims(value, aliases or {}, bound or {})))

    if isinstance(spec, cst.Dict):
        for el in spec.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString):
                key = el.key.evaluated_value
                if isinstance(key, str):
                    add(f"#{list(names).index(key)}" if key in names else key, el.value)
    elif isinstance(spec, (cst.Tuple, cst.List)):
        for i, el in enumerate(spec.elements):
            if isinstance(el, cst.Element):
                add(f"#{i}", el.value)
    return tuple((k, dims) for k, dims in out + strict if dims)


#: ``torch.export.Dim`` under the names torch exposes it
_DIM_CLASSES = frozenset({"torch.export.Dim", "torch.export.dynamic_shapes.Dim"})


def _named_dims(node: cst.BaseExpression, aliases: Dict[str, str], bound: Dict[str, cst.BaseExpression]) -> Tuple[int, ...]:
    """The dims of one input's spec declared with a named ``Dim(...)`` whose range starts at 2 or below."""
    def named(value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.Name) and value.value in bound:
            value = bound[value.value]
        if not isinstance(value, cst.Call):
            return False
        name = dotted(value.func)
        if not name or (qualify(name, aliases) or name) not in _DIM_CLASSES:
            return False
        for arg in value.args:
            if arg.keyword is not None and arg.keyword.value == "min":
                return isinstance(arg.value, cst.Integer) and int(arg.value.value) <= 2
        return True

    if isinstance(node, cst.Dict):
        return tuple(sorted({int(el.key.value) for el in node.elements if isinstance(el, cst.DictElement)
                             and isinstance(el.key, cst.Integer) and named(el.value)}))
    if isinstance(node, (cst.Tuple, cst.List)):
        return tuple(i for i, e in enumerate(node.elements) if isinstance(e, cst.Element) and named(e.value))
    return ()


def _is_spec_name(name: str) -> bool:
    """The name ExportDB (and code following it) gives the spec that goes with a model."""
    return name.lower() == "dynamic_shapes"


def _module_level_spec(small: cst.BaseSmallStatement, summary: ModuleSummary, local_classes: Dict[str, str],
                       bound: Dict[str, cst.BaseExpression]) -> None:
    """``dynamic_shapes = {...}`` and ``model = Cls(...)`` at module level: read for ``module_entry_points``;
    ``bound`` collects the module's assignments so far (``batch = Dim("batch")``)."""
    if not isinstance(small, cst.Assign) or len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
        return
    name = small.targets[0].target.value
    bound[name] = small.value
    if _is_spec_name(name):
        summary.dynamic_spec = spec_dims(small.value, (), summary.aliases, bound)
    elif name == "model":
        value: cst.BaseExpression = small.value
        while isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in _SELF_RETURNING:
            value = value.func.value
        built = local_classes.get(dotted(value.func) or "") if isinstance(value, cst.Call) else None
        summary.model_binding = built


#: Export APIs that convert a saved artifact (a path), not a model object: they name a target, no model.
_PATH_EXPORTS = frozenset({
    "tensorflow.lite.TFLiteConverter.from_saved_model", "tensorflowjs.converters.convert_tf_saved_model",
    "tensorflowjs.converters.convert",
})

#: Methods that return the module itself, so ``Net().eval()`` is still a ``Net``.
_SELF_RETURNING = frozenset({"eval", "train", "to", "cuda", "cpu", "float", "half", "double", "bfloat16",
                             "requires_grad_"})


def _is_static_marker(node: cst.BaseExpression) -> bool:
    name = dotted(node)
    return (isinstance(node, cst.Name) and node.value == "None") or bool(name and name.endswith(".STATIC"))


def _declared_dims(node: cst.BaseExpression) -> Tuple[int, ...]:
    """``{0: batch}`` / ``(batch, None)`` / ``[0, 1]`` (dynamic_axes) -> the dynamic dims."""
    dims: List[int] = []
    if isinstance(node, cst.Dict):
        for el in node.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.Integer) and not _is_static_marker(el.value):
                dims.append(int(el.key.value))
    elif isinstance(node, (cst.Tuple, cst.List)):
        items = [e.value for e in node.elements if isinstance(e, cst.Element)]
        if items and all(isinstance(v, cst.Integer) for v in items):
            dims = [int(v.value) for v in items]  # dynamic_axes={"x": [0, 1]}
        else:
            dims = [i for i, v in enumerate(items) if not _is_static_marker(v)]
    return tuple(sorted(set(dims)))


def _factory_builds(fn: cst.FunctionDef, local_classes: Dict[str, str], aliases: Dict[str, str]) -> Optional[str]:
    """The class a factory builds, when every ``return`` returns ``Cls(...)`` (or a local bound to one, or the
    ``--confirm`` forms ``(model, args)`` / ``{"model": model}``) of one class. Statements only (``return`` and
    assignments), so it costs little on any function."""
    if not isinstance(fn.body, cst.IndentedBlock):
        return None
    collector = _CallSiteCollector(aliases, local_classes, {})
    found: Set[str] = set()
    unclear = [False]

    def block(stmts: Sequence[cst.CSTNode]) -> None:
        for stmt in stmts:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                        collector._remember(small.targets[0].target.value, small.value)
                    elif isinstance(small, cst.Return):
                        value = small.value
                        # the --confirm factory forms: ``return model, (x,)`` and ``return {"model": model, ...}``
                        if isinstance(value, cst.Tuple) and value.elements:
                            value = value.elements[0].value
                        elif isinstance(value, cst.Dict):
                            value = next((e.value for e in value.elements if isinstance(e, cst.DictElement)
                                          and isinstance(e.key, cst.SimpleString) and e.key.evaluated_value == "model"),
                                         None)
                        cls = collector._built_class(value) if value is not None else None
                        if cls is None:
                            unclear[0] = True
                        else:
                            found.add(cls)
            elif isinstance(stmt, cst.BaseCompoundStatement) and not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                for part in (stmt, getattr(stmt, "orelse", None), getattr(stmt, "finalbody", None), *getattr(stmt, "handlers", ())):
                    while part is not None:
                        body = getattr(part, "body", None)
                        if isinstance(body, cst.IndentedBlock):
                            block(body.body)
                        part = part.orelse if isinstance(part, cst.If) else None

    block(fn.body.body)
    return found.pop() if len(found) == 1 and not unclear[0] else None


def _ends_with(node: Optional[cst.BaseExpression], suffix: str) -> bool:
    """A string literal (or an f-string whose last part is text) ending with ``suffix``."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return isinstance(value, str) and value.endswith(suffix)
    if isinstance(node, cst.FormattedString) and node.parts:
        last = node.parts[-1]
        return isinstance(last, cst.FormattedStringText) and last.value.endswith(suffix)
    return False


def _collect_call_sites(module: cst.Module, aliases: Dict[str, str], local_classes: Dict[str, str],
                        summary: ModuleSummary, text: str = "") -> Tuple[List[CallSite], List[ExportCall]]:
    prefix = f"{summary.module}." if summary.module else ""
    local_functions = {n: prefix + n for n in summary.functions}
    collector = _CallSiteCollector(aliases, local_classes, local_functions, text, summary.uses_tf)
    collector.block(module.body)
    return collector.sites, collector.exports
