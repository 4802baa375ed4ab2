"""PT225 export-unflattenable-output: ``forward`` returns an object torch.export cannot flatten.

``torch.export`` (and the ONNX dynamo exporter, which runs it) flattens a model's outputs with torch's
pytree: tensors, tuples, lists, dicts, NamedTuples and registered classes. Anything else, most often a
key/value cache object like transformers' ``DynamicCache``, fails with "Found <class ...> in output, which
is not a known type". The object is usually made conditionally (``if use_cache and cache is None:``), so
the rule follows the values the code can see on the path export takes: the ``forward`` parameters'
defaults (export passes the example inputs only), literals and a config class's declared defaults
(``self.config.use_cache`` with ``use_cache: bool = True`` in the config class). A test those values do
not decide leaves the object unknown, and nothing is reported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.summary import ClassSummary
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check

_DATACLASS_DECORATORS = frozenset({"dataclasses.dataclass", "dataclass"})
#: bases that add nothing a pytree could flatten: the class is still a plain Python object
_PLAIN_BASES = frozenset({"object", "builtins.object"})
#: containers torch's pytree flattens, whose elements end up in the output as they are
_CONTAINER_CALLS = frozenset({"dict", "tuple", "list", "collections.OrderedDict", "OrderedDict"})
#: decorators that fill ``forward``'s None arguments from the model's config (transformers)
_CONFIG_DEFAULTS_DECORATORS = ("merge_with_config_defaults",)
_CONFIG_DEFAULT_ARGS = ("use_cache",)


class _Unknown:
    """A value the code does not fix at export time."""


class _Instance:
    """An object made by a class call: truthy and not None (its contents do not matter here)."""


UNKNOWN = _Unknown()
INSTANCE = _Instance()


@dataclass(frozen=True)
class _Made:
    """An unflattenable object: its class, the call that made it, the tests the defaults decided on the way."""

    cls: str
    call: cst.Call
    tests: Tuple[str, ...]


class _State:
    """Per walk of an exported ``forward``: what the defaults make of local names."""

    def __init__(self, config: Optional[ClassSummary]) -> None:
        self.config = config
        self.values: Dict[str, object] = {}
        self.holds: Dict[str, Tuple[_Made, ...]] = {}


def _literal(text: Optional[str]) -> object:
    if text is None:
        return UNKNOWN
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


def _truth(value: object) -> Optional[bool]:
    if isinstance(value, _Unknown):
        return None
    if isinstance(value, _Instance):
        return True
    try:
        return bool(value)
    except Exception:  # noqa: BLE001 - a literal without a truth value stays unknown
        return None


def _same(a: object, b: object) -> bool:
    if isinstance(a, (_Unknown, _Instance)) or isinstance(b, (_Unknown, _Instance)):
        return a is b and not isinstance(a, _Unknown)
    return type(a) is type(b) and a == b


class ExportUnflattenableOutput(Check):
    """PT225 (see rules/unsupported/PT225-export-unflattenable-output.md)."""

    codes = ("PT225",)
    frameworks = ("torch",)

    @staticmethod
    def _state(ctx: FunctionContext) -> Optional[_State]:
        return ctx.scratch.get(lambda: None, "PT225.state")

    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        cls = ctx.self_class
        if ctx.task.depth != 0 or node.name.value != "forward" or cls is None or ctx.index.framework_of(cls) != "torch":
            return
        state = _State(_config_class(ctx, cls))
        for p in ctx.func.params[1:]:
            if p.star in ("*", "**") or p.default is None:
                continue
            state.values[p.name] = None if p.default == "none" else _literal(p.literal)
        if any(d.split(".")[-1] in _CONFIG_DEFAULTS_DECORATORS for d in ctx.func.decorators):
            for name in _CONFIG_DEFAULT_ARGS:
                if name in state.values and state.values[name] is None:
                    state.values[name] = _config_default(ctx, state, name)
        ctx.scratch.get(lambda: state, "PT225.state")

    # -- bindings -----------------------------------------------------------------------------------------
    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(ctx, target.target, node.value)

    def visit_AnnAssign(self, ctx: FunctionContext, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(ctx, node.target, node.value)

    def visit_AugAssign(self, ctx: FunctionContext, node: cst.AugAssign) -> None:
        self._bind(ctx, node.target, None)

    def _bind(self, ctx: FunctionContext, target: cst.BaseExpression, value: Optional[cst.BaseExpression]) -> None:
        state = self._state(ctx)
        if state is None:
            return
        path = _path_truth(ctx, state)
        if path is False:
            return  # not on the path export takes
        if not isinstance(target, cst.Name):
            for name in _target_names(target):
                state.values[name] = UNKNOWN
                state.holds.pop(name, None)
            return
        name = target.value
        new = _value(ctx, state, value) if value is not None else UNKNOWN
        held = _held(ctx, state, value) if value is not None else ()
        if path is True:
            state.values[name] = new
            state.holds[name] = held
            return
        old = state.values.get(name, UNKNOWN)
        state.values[name] = new if _same(new, old) else UNKNOWN
        if state.holds.get(name, ()) != held:
            state.holds[name] = ()  # held on some paths only: unknown

    # -- the output ---------------------------------------------------------------------------------------
    def visit_Return(self, ctx: FunctionContext, node: cst.Return) -> None:
        state = self._state(ctx)
        if state is None or node.value is None or _path_truth(ctx, state) is not True:
            return
        made = next(iter(_returned(ctx, state, node.value)), None)
        if made is None:
            return
        when = (
            f" under `{' and '.join(made.tests)}`, which holds with the default arguments and config"
            if made.tests
            else ""
        )
        ctx.report("PT225", node.value, cls=made.cls, made=f"`{ctx.code(made.call)}`{when}")


def _target_names(target: cst.CSTNode) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _target_names(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _config_class(ctx: FunctionContext, cls: ClassSummary) -> Optional[ClassSummary]:
    """The config class ``__init__(self, config: XConfig)`` declares, whose defaults ``self.config`` has."""
    init = ctx.index.find_method(cls, "__init__")
    if init is None:
        return None
    param = next((p for p in init[1].params if p.name == "config"), None)
    if param is None or not param.annotation:
        return None
    found = ctx.index.resolve_class(param.annotation)
    if found is None and "." not in param.annotation:  # a class of the file that defines ``__init__``
        found = ctx.index.resolve_class(f"{ctx.index.module_of_class(init[0])}.{param.annotation}")
    return found


def _config_default(ctx: FunctionContext, state: _State, attr: str) -> object:
    if state.config is None:
        return UNKNOWN
    for c in ctx.index.mro(state.config):
        for name, text in c.class_literals:
            if name == attr:
                return _literal(text)
    return UNKNOWN


def _path_truth(ctx: FunctionContext, state: _State) -> Optional[bool]:
    """Whether the enclosing tests hold with the defaults: False when one fails, None when one is unknown
    (or a loop may run the code zero times)."""
    unknown = bool(ctx.loops)
    # a test's truth is what it was when the walk entered its branch (later bindings inside do not change it);
    # remembering it per walk also keeps a long ``elif`` chain linear
    truths: Dict[cst.CSTNode, Optional[bool]] = ctx.scratch.get(dict, "PT225.truths")
    for test, polarity in ctx.tests:
        if test not in truths:
            truths[test] = _truth(_value(ctx, state, test))
        truth = truths[test]
        if truth is None:
            unknown = True
        elif truth != polarity:
            return False
    return None if unknown else True


def _value(ctx: FunctionContext, state: _State, node: cst.BaseExpression) -> object:
    """What ``node`` evaluates to with the defaults (UNKNOWN when they do not fix it)."""
    if isinstance(node, cst.Name):
        if node.value in ("True", "False", "None"):
            return _literal(node.value)
        return state.values.get(node.value, UNKNOWN)
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
        return _literal(node.value)
    if isinstance(node, cst.Attribute):
        name = dotted(node) or ""
        parts = name.split(".")
        if len(parts) == 3 and parts[:2] == ["self", "config"]:
            return _config_default(ctx, state, parts[2])
        if name == "self.training":
            return False  # exported models are in eval mode
        return UNKNOWN
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        truth = _truth(_value(ctx, state, node.expression))
        return UNKNOWN if truth is None else not truth
    if isinstance(node, cst.BooleanOperation):
        left = _value(ctx, state, node.left)
        truth = _truth(left)
        is_and = isinstance(node.operator, cst.And)
        if truth is None:
            right = _truth(_value(ctx, state, node.right))
            # ``unknown and False`` is falsy whatever the left is; ``unknown or True`` truthy
            return False if is_and and right is False else True if not is_and and right is True else UNKNOWN
        if truth is is_and:
            return _value(ctx, state, node.right)
        return left
    if isinstance(node, cst.Comparison) and len(node.comparisons) == 1:
        op = node.comparisons[0].operator
        a, b = _value(ctx, state, node.left), _value(ctx, state, node.comparisons[0].comparator)
        if isinstance(op, (cst.Is, cst.IsNot)):
            if isinstance(a, _Unknown) or isinstance(b, _Unknown):
                return UNKNOWN
            same = (a is b) if not isinstance(a, _Instance) and not isinstance(b, _Instance) else False
            return same if isinstance(op, cst.Is) else not same
        if isinstance(op, (cst.Equal, cst.NotEqual)):
            if any(isinstance(v, (_Unknown, _Instance)) for v in (a, b)):
                return UNKNOWN
            return (a == b) if isinstance(op, cst.Equal) else (a != b)
        return UNKNOWN
    if isinstance(node, cst.IfExp):
        truth = _truth(_value(ctx, state, node.test))
        if truth is None:
            return UNKNOWN
        return _value(ctx, state, node.body if truth else node.orelse)
    if isinstance(node, cst.Call) and _class_of(ctx, node) is not None:
        return INSTANCE
    return UNKNOWN


def _held(ctx: FunctionContext, state: _State, node: cst.BaseExpression) -> Tuple[_Made, ...]:
    """The unflattenable objects ``node``'s value is (known only when the defaults decide every choice)."""
    if isinstance(node, cst.Name):
        return state.holds.get(node.value, ())
    if isinstance(node, cst.Call):
        cls = _unflattenable(ctx, node)
        if cls is None:
            return ()
        tests = tuple(ctx.code(t) if polarity else f"not ({ctx.code(t)})" for t, polarity in ctx.tests)
        return (_Made(cls, node, tests),)
    if isinstance(node, cst.IfExp):
        truth = _truth(_value(ctx, state, node.test))
        return () if truth is None else _held(ctx, state, node.body if truth else node.orelse)
    if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
        truth = _truth(_value(ctx, state, node.left))
        return () if truth is None else _held(ctx, state, node.left if truth else node.right)
    return ()


def _returned(ctx: FunctionContext, state: _State, node: cst.BaseExpression) -> List[_Made]:
    """The unflattenable objects in a returned value: itself, or in the tuples, lists, dicts and output
    classes (ModelOutput-style, NamedTuples) it builds."""
    if isinstance(node, (cst.Tuple, cst.List)):
        return [m for el in node.elements if isinstance(el, cst.Element) for m in _returned(ctx, state, el.value)]
    if isinstance(node, cst.Dict):
        return [m for el in node.elements if isinstance(el, cst.DictElement) for m in _returned(ctx, state, el.value)]
    if isinstance(node, cst.Call) and _unflattenable(ctx, node) is None:
        if not _container_call(ctx, node):
            return []
        return [m for arg in node.args if not arg.star for m in _returned(ctx, state, arg.value)]
    if isinstance(node, cst.IfExp):
        truth = _truth(_value(ctx, state, node.test))
        return [] if truth is None else _returned(ctx, state, node.body if truth else node.orelse)
    return list(_held(ctx, state, node))


def _class_of(ctx: FunctionContext, call: cst.Call) -> Optional[ClassSummary]:
    cls = ctx.index.resolve_class(ctx.qualname(call.func))
    if cls is None and isinstance(call.func, cst.Name):
        cls = ctx.file.summary.classes.get(call.func.value)
    return cls


def _container_call(ctx: FunctionContext, call: cst.Call) -> bool:
    """A call building a container whose values the output keeps: a dict / tuple / list, a NamedTuple, a
    dataclass or ``ModelOutput``-style class (an OrderedDict dataclass; both flatten to their fields)."""
    qname = ctx.qualname(call.func) or dotted(call.func) or ""
    if qname in _CONTAINER_CALLS or qname.startswith("builtins.") and qname[len("builtins.") :] in _CONTAINER_CALLS:
        return True
    if qname.startswith("transformers.") and qname.split(".")[-1].endswith("Output"):
        return True
    cls = _class_of(ctx, call)
    if cls is None:
        return False
    for c in ctx.index.mro(cls):
        if c.name == "ModelOutput" or any(d in _DATACLASS_DECORATORS for d in c.decorators):
            return True
    return any(b.split(".")[-1] in ("NamedTuple", "OrderedDict", "dict") for b in ctx.index.external_bases(cls))


def _unflattenable(ctx: FunctionContext, call: cst.Call) -> Optional[str]:
    """The name of the class ``call`` instantiates when torch's pytree cannot flatten it: a project class
    that is only a Python object (no tensor, container, NamedTuple, module or other library base), not a
    dataclass (PT209's), and not registered as a pytree node by module-level code of its file or this one."""
    cls = _class_of(ctx, call)
    if cls is None or ctx.index.framework_of(cls) is not None:
        return None
    if any(b not in _PLAIN_BASES for b in ctx.index.external_bases(cls)):
        return None
    for c in ctx.index.mro(cls):
        if any(d in _DATACLASS_DECORATORS for d in c.decorators):
            return None
        if "__init_subclass__" in c.methods or "__torch_function__" in c.methods:
            return None  # registers its subclasses / behaves as a tensor
    registered = set(ctx.file.summary.pytree_registered)
    home = ctx.index.module_summary(ctx.index.module_of_class(cls))
    if home is not None:
        registered.update(home.pytree_registered)
    if cls.name in {r.split(".")[-1] for r in registered}:
        return None
    return cls.name
