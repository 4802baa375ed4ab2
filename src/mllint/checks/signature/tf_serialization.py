"""Keras 3 ``.keras`` save and load of custom classes (family: signature).

TF405 a Layer / Model subclass that is not registered (``load_model`` cannot find it), TF406
``__init__`` parameters that Keras' automatic config cannot store and no ``get_config``, TF407
``get_config()`` keys that do not match the ``__init__`` parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from mllint.analysis.names import child_nodes, dotted
from mllint.analysis.summary import ClassSummary, FuncSummary
from mllint.analysis.walker import FileContext
from mllint.checks.base import Check

_REGISTERING = ("register_keras_serializable", "keras_export", "keras_hub_export", "keras_cv_export", "keras_nlp_export")
#: Packages whose unregistered classes Keras 3.15 still finds, by importing the module path it saved
#: (``serialization_lib._retrieve_class_or_fn``; measured in tests/test_keras_verdicts.py).
_RESOLVED_BY_MODULE = frozenset({"keras", "keras_hub", "keras_cv", "keras_nlp"})
_PRIMITIVE = frozenset({
    "str", "int", "float", "bool", "None", "NoneType", "Optional", "Union", "List", "list", "Tuple", "tuple",
    "Dict", "dict", "Sequence", "Mapping", "Literal", "?", "",
})
_OBJECT_HINTS = ("keras.", "tensorflow.", "tf_keras.", "numpy.", "Callable", "collections.abc.Callable")
#: What Keras' own ``Layer.get_config()`` returns.
_BASE_CONFIG_KEYS = frozenset({"name", "trainable", "dtype"})
#: Keys that Layer/Model.__init__ accept themselves (super().get_config() emits some of them).
_BASE_KEYS = frozenset({"name", "trainable", "dtype", "autocast", "input_shape", "batch_input_shape", "batch_size",
                        "input_dim", "weights", "activity_regularizer", "dynamic", "input_dtype", "sparse", "ragged"})


def _base_named(name: str) -> bool:
    return name.startswith(("Base", "Abstract", "_Base")) or name.endswith(("Base", "Mixin", "Interface"))


def _resolved_by_module(module: str) -> bool:
    return module.split(".")[0] in _RESOLVED_BY_MODULE


def _base_class(fctx: FileContext, node: cst.ClassDef, cls: ClassSummary) -> bool:
    """A class written to be derived from rather than saved: another class of the file derives from
    it, its name says so (``BaseBlock``, ``AbstractHead``, ``...Mixin``), or it has abstract methods.

    Only this file is read, so the answer does not depend on which other modules were loaded.
    """
    if _base_named(cls.name):
        return True
    for other in fctx.summary.classes.values():
        if other.qualname != cls.qualname and any(
                getattr(fctx.index.resolve_class(b), "qualname", None) == cls.qualname for b in other.bases):
            return True
    for stmt in node.body.body:
        if isinstance(stmt, cst.FunctionDef):
            if any((dotted(d.decorator) or "").endswith("abstractmethod") for d in stmt.decorators):
                return True
    return False


def _annotation_tokens(annotation: str) -> List[str]:
    tokens = [t.strip() for t in re.split(r"[\[\],]", annotation) if t.strip()]
    out = []
    for t in tokens:
        for prefix in ("typing.", "builtins.", "collections.abc.", "typing_extensions."):
            if t.startswith(prefix) and t[len(prefix):] in _PRIMITIVE:
                t = t[len(prefix):]
        out.append(t)
    return out


def _object_annotation(fctx: FileContext, annotation: Optional[str]) -> Optional[str]:
    """The non-primitive type named by ``annotation`` (a layer, array, callable, project class)."""
    if not annotation:
        return None
    for token in _annotation_tokens(annotation):
        if token in _PRIMITIVE:
            continue
        if token.startswith(_OBJECT_HINTS) or token.endswith("Callable"):
            return token
        if fctx.index.resolve_class(token) is not None:
            return token
    return None


def _registered_by_summary(fctx: FileContext, cls: ClassSummary) -> bool:
    """Registered by a decorator (Keras' own, or a project decorator / decorator class whose body
    registers, followed through project functions and re-exports), or by a module-level statement of
    the class's own file."""
    index = fctx.index
    module = index.module_of_class(cls)
    for d in cls.decorators:
        if d.endswith(_REGISTERING):
            return True
        if index.registers_keras(d) or (module and "." not in d and index.registers_keras(f"{module}.{d}")):
            return True
    summary = index.summaries.get(module) if module != fctx.summary.module else fctx.summary
    return summary is not None and cls.name in summary.keras_registered


def _is_model(fctx: FileContext, cls: ClassSummary) -> bool:
    """A ``keras.Model`` (``Sequential`` / ``Functional``) subclass: what ``model.save`` writes as the top object."""
    if any(c.qualname == "keras.src.models.model.Model" for c in fctx.index.mro(cls)):
        return True
    return any(b.rsplit(".", 1)[-1] in _MODEL_BASES and b.startswith(_KERAS_PREFIXES)
               for b in fctx.index.external_bases(cls))


_LAMBDA_LAYERS = frozenset({"keras.layers.Lambda", "keras.layers.core.Lambda", "tensorflow.keras.layers.Lambda",
                            "tf_keras.layers.Lambda"})
_LAMBDA_KEY = "<Lambda>"
_MODEL_BASES = frozenset({"Model", "Sequential", "Functional"})
_KERAS_PREFIXES = ("keras.", "tensorflow.keras.", "tensorflow.python.keras.")


@dataclass
class _Uses:
    """Where the file constructs project Keras classes: ``own`` = the object is saved with its own
    config (functional model, ``Sequential``, module level, a model builder), ``inner`` = built by
    another Keras class's ``__init__`` / ``build`` (that class's config rebuilds it on load)."""

    own: Dict[str, List[Tuple[cst.Call, cst.CSTNode]]] = field(default_factory=dict)  # (call, top statement)
    inner: Set[str] = field(default_factory=set)
    lambdas: List[Tuple[cst.Call, cst.CSTNode]] = field(default_factory=list)  # ``keras.layers.Lambda(...)`` saved alone
    #: every ``keras.layers.Lambda(...)`` of the file (saved alone or not): its function is traced with the model
    all_lambdas: List[Tuple[cst.Call, cst.CSTNode]] = field(default_factory=list)
    #: module-level functions that build (or feed) a functional model / Sequential
    builders: Set[str] = field(default_factory=set)


def keras_uses(fctx: FileContext) -> _Uses:
    """Where the file builds Keras models and layers (computed once per tree)."""
    return _uses(fctx)


def _uses(fctx: FileContext) -> _Uses:
    return fctx.memo.get(lambda: _scan_uses(fctx), "tf_serialization.uses")


def _scan_uses(fctx: FileContext) -> _Uses:
    index = fctx.index
    prefix = f"{fctx.summary.module}." if fctx.summary.module else ""
    local_functions = {s.name.value for s in fctx.module.body if isinstance(s, cst.FunctionDef)}
    # (class qualname, call, module-level function or None, inner?) and calls of local functions
    found: List[Tuple[str, cst.Call, cst.CSTNode, Optional[str], bool]] = []
    # local function -> for each call in the file: (calling module-level function or None, inside a Keras class?)
    callers: Dict[str, List[Tuple[Optional[str], bool]]] = {}
    builders: Set[str] = set()  # functions that build a functional model / Sequential themselves

    def keras_class(node: cst.ClassDef) -> bool:
        cls = fctx.summary.classes.get(node.name.value)
        return cls is not None and index.framework_of(cls) == "keras"

    # (node, top-level statement, module-level function, inside a Keras class), pre-order in source order
    stack: List[Tuple[cst.CSTNode, cst.CSTNode, Optional[str], bool]] = [
        (s, s, None, False) for s in reversed(fctx.module.body)]
    while stack:
        node, top, func, inner = stack.pop()
        if isinstance(node, cst.ClassDef):
            is_keras = keras_class(node) or inner
            for item in reversed(node.body.body):
                if isinstance(item, cst.FunctionDef):
                    # layers a Keras class builds (in __init__ / build, or lazily elsewhere) are rebuilt by it;
                    # a method of another class is a function of its own (a model builder if it builds one)
                    method = func if func is not None else f"{node.name.value}.{item.name.value}"
                    stack.append((item.body, top, method, is_keras))
                else:
                    stack.append((item, top, func, inner))
            continue
        if isinstance(node, cst.FunctionDef):
            stack.append((node.body, top, func if func is not None else node.name.value, inner))
            continue
        if isinstance(node, cst.Call):
            name = dotted(node.func)
            if name:
                if name in local_functions:
                    callers.setdefault(name, []).append((func, inner))
                q = prefix + name if name in fctx.summary.classes else fctx.qualify(name)
                if func is not None and q and _model_constructor(q):
                    builders.add(func)
                if q in _LAMBDA_LAYERS:
                    found.append((_LAMBDA_KEY, node, top, func, inner))
                cls = index.resolve_class(q) if q else None
                if cls is not None and index.framework_of(cls) == "keras":
                    found.append((cls.qualname, node, top, func, inner))
        for child in reversed(list(child_nodes(node))):
            stack.append((child, top, func, inner))
    # functions whose layers end up in a model saved with its layers' configs: those that build a
    # functional model / Sequential, those that call such a builder, and (transitively) helpers they or
    # the module level call; a function only called from Keras classes builds parts of those classes
    own_funcs: Set[str] = set()
    changed = True
    while changed:
        changed = False
        for f in sorted(local_functions | builders):
            if f in own_funcs:
                continue
            calls = callers.get(f, [])
            if calls and all(inner for _, inner in calls):
                continue
            hands_to_builder = any((f, False) in callers.get(g, []) for g in own_funcs)  # ``wrap(Layer())``
            if f in builders or hands_to_builder or any(
                    not inner and (caller is None or caller in own_funcs) for caller, inner in calls):
                own_funcs.add(f)
                changed = True
    out = _Uses()
    out.builders = {f for f in own_funcs if f in local_functions}
    for qualname, call, top, func, inner in found:
        if qualname == _LAMBDA_KEY and (inner or (func is not None and func not in own_funcs)):
            out.all_lambdas.append((call, top))  # traced with whatever model holds it
        if not inner and func is not None and func not in own_funcs:
            if qualname == _LAMBDA_KEY or callers.get(func, []) == [] or not all(i for _, i in callers[func]):
                continue  # unknown: a helper whose callers this file does not show
            inner = True  # a helper only Keras classes call builds their parts
        if qualname == _LAMBDA_KEY:
            if not inner:
                out.all_lambdas.append((call, top))
                out.lambdas.append((call, top))
        elif inner:
            out.inner.add(qualname)
        else:
            out.own.setdefault(qualname, []).append((call, top))
    return out


def _model_constructor(q: str) -> bool:
    for prefix in ("tensorflow.keras.", "keras.", "tf_keras."):
        if q.startswith(prefix):
            return q[len(prefix):] in _MODEL_CONSTRUCTORS
    return False


_MODEL_CONSTRUCTORS = frozenset({"Input", "layers.Input", "Model", "models.Model", "Sequential", "models.Sequential"})


def _saved_alone(fctx: FileContext, cls: ClassSummary) -> bool:
    """Whether loading a ``.keras`` file calls this class's ``from_config`` (``cls(**config)``): it is a
    model (the saved top object) that the file does not only build inside other Keras classes, or a
    layer the file uses on its own (a functional model, ``Sequential``, a model builder). A layer that
    only other Keras classes construct is rebuilt by their ``__init__``; one never constructed here is
    unknown and not judged."""
    uses = _uses(fctx)
    if cls.qualname in uses.own:
        return True
    if _is_model(fctx, cls):
        return cls.qualname not in uses.inner
    return False


class TFKerasSerialization(Check):
    """TF405-TF407: custom Keras classes that do not survive a ``.keras`` round trip."""

    codes = ("TF405", "TF406", "TF407", "TF408")
    frameworks = ("tensorflow",)

    def check_file(self, fctx: FileContext) -> None:
        if not fctx.summary.uses_tf:
            return
        # Keras resolves unregistered classes of its own packages by module path.
        by_module = _resolved_by_module(fctx.summary.module)
        for node, cls in fctx.class_nodes():
            if fctx.index.framework_of(cls) != "keras" or fctx.index.keras_flavor_of(cls) != "keras3":
                continue
            if not _saved_alone(fctx, cls):
                continue
            top = node
            if not by_module and not _registered_by_summary(fctx, cls) and not _base_class(fctx, node, cls):
                fctx.report("TF405", node.name, top, None, cls=cls.name)
            self._init_args(fctx, node, cls)
            self._config_keys(fctx, node, cls)
        self._imported_classes(fctx)
        self._lambda_layers(fctx)

    # -- TF408 --------------------------------------------------------------------------------
    def _lambda_layers(self, fctx: FileContext) -> None:
        if fctx.summary.keras_flavor != "keras3":
            return
        for call, top in _uses(fctx).lambdas:
            fn = _keyword_or_first(call, "function")
            if isinstance(fn, cst.Lambda):
                fctx.report("TF408", call, top, None, expr=_short(fctx, call), what="a Python lambda",
                            effect="`load_model` refuses to deserialize it in safe mode (the default)")
                continue
            name = dotted(fn) if fn is not None else None
            if not name:
                continue
            prefix = f"{fctx.summary.module}." if fctx.summary.module else ""
            q = prefix + name if name in fctx.summary.functions else fctx.qualify(name)
            found = fctx.index.resolve(q) if q else None
            if not found or found[0] != "function":
                continue
            decorators = found[1].decorators
            module = found[2]
            if any(d.endswith(_REGISTERING) or fctx.index.registers_keras(d)
                   or ("." not in d and fctx.index.registers_keras(f"{module}.{d}")) for d in decorators):
                continue
            if found[1].name in (fctx.index.summaries.get(module) or fctx.summary).keras_registered:
                continue
            fctx.report("TF408", call, top, None, expr=_short(fctx, call), what=f"`{name}`, an unregistered function",
                        effect="`load_model` cannot locate it")

    def _imported_classes(self, fctx: FileContext) -> None:
        """Project layers of other files that this file saves on their own (a functional model built by a
        function here): reported at the first such use, as their own file cannot see it."""
        index = fctx.index
        for qualname, calls in _uses(fctx).own.items():
            cls = index.resolve_class(qualname)
            module = index.module_of_class(cls) if cls is not None else ""
            if cls is None or module == fctx.summary.module or _resolved_by_module(module):
                continue
            if index.keras_flavor_of(cls) != "keras3" or _is_model(fctx, cls) or _base_named(cls.name):
                continue  # a model is judged in its own file
            if not _registered_by_summary(fctx, cls):
                call, top = calls[0]
                fctx.report("TF405", call.func, top, None, cls=cls.name)

    # -- TF406 --------------------------------------------------------------------------------
    def _init_args(self, fctx: FileContext, node: cst.ClassDef, cls: ClassSummary) -> None:
        init = cls.methods.get("__init__")
        if init is None or any("get_config" in c.methods for c in fctx.index.mro(cls)):
            return
        fn = _method_node(node, "__init__")
        if fn is None:
            return
        params = {p.name.value: p for p in list(fn.params.posonly_params) + list(fn.params.params)
                  + list(fn.params.kwonly_params)}
        for p in init.params[1:]:
            if p.star in ("*", "**"):
                continue
            kind = _object_annotation(fctx, p.annotation)
            if kind is not None and p.name in params:
                fctx.report("TF406", params[p.name].name, node, None, cls=cls.name, param=p.name, annotation=kind)
                return

    # -- TF407 --------------------------------------------------------------------------------
    def _config_keys(self, fctx: FileContext, node: cst.ClassDef, cls: ClassSummary) -> None:
        fn = _method_node(node, "get_config")
        if fn is None or any("from_config" in c.methods for c in fctx.index.mro(cls)):
            return
        found = fctx.index.find_method(cls, "__init__")
        if found is None:
            return
        init: FuncSummary = found[1]
        names = {p.name for p in init.params[1:] if p.star not in ("*", "**")}
        keys = _config_keys(fn)
        if keys is None:
            return
        key_nodes, complete, from_base = keys
        if from_base and any("get_config" in c.methods for c in fctx.index.mro(cls)[1:]):
            complete = False  # a project base class adds keys of its own
        for key, key_node in key_nodes.items():
            if key not in names and key not in _BASE_KEYS:
                fctx.report("TF407", key_node, node, None, cls=cls.name, problem=f"has key `{key}`, which "
                            f"`__init__` does not take")
                return
        if complete:
            present = set(key_nodes) | (_BASE_CONFIG_KEYS if from_base else set())
            missing = [p.name for p in init.params[1:] if p.star == "" and p.default is None and p.name not in present]
            if missing:
                fctx.report("TF407", fn.name, node, None, cls=cls.name,
                            problem=f"has no key for the required `__init__` parameter `{missing[0]}`")


def _keyword_or_first(call: cst.Call, keyword: str) -> Optional[cst.BaseExpression]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    first = call.args[0] if call.args else None
    return first.value if first is not None and first.keyword is None and not first.star else None


def _short(fctx: FileContext, node: cst.CSTNode) -> str:
    text = " ".join(fctx.module.code_for_node(node).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _method_node(node: cst.ClassDef, name: str) -> Optional[cst.FunctionDef]:
    for stmt in node.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return stmt
    return None


def _is_super_config(expr: cst.BaseExpression) -> bool:
    return (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "get_config"
            and isinstance(expr.func.value, cst.Call) and dotted(expr.func.value.func) == "super")


def _config_keys(fn: cst.FunctionDef) -> Optional[Tuple[Dict[str, cst.CSTNode], bool, bool]]:
    """String keys a ``get_config`` visibly produces, whether that is all of them, and whether it
    starts from ``super().get_config()``.

    Returns None when the config is built in a way this reading cannot follow.
    """
    keys: Dict[str, cst.CSTNode] = {}
    complete = True
    base_names: Set[str] = set()
    config_names: Set[str] = set()
    from_super = [False]  # ``{**super().get_config(), ...}`` / ``dict(**super().get_config(), ...)``

    def add_dict(d: cst.Dict) -> bool:
        nonlocal complete
        for el in d.elements:
            if isinstance(el, cst.DictElement):
                if isinstance(el.key, cst.SimpleString) and isinstance(el.key.evaluated_value, str):
                    keys.setdefault(el.key.evaluated_value, el.key)
                else:
                    return False
            elif isinstance(el, cst.StarredDictElement):
                v = el.value
                if _is_super_config(v) or (isinstance(v, cst.Name) and v.value in base_names | config_names):
                    from_super[0] = from_super[0] or _is_super_config(v) or (isinstance(v, cst.Name) and v.value in base_names)
                    continue
                complete = False
        return True

    body = fn.body.body if isinstance(fn.body, cst.IndentedBlock) else []
    for stmt in body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            return None  # branches: keys depend on state
        for small in stmt.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
                if isinstance(target, cst.Name):
                    if _is_super_config(value):
                        base_names.add(target.value)
                        config_names.add(target.value)
                    elif isinstance(value, cst.Dict):
                        if not add_dict(value):
                            return None
                        config_names.add(target.value)
                    else:
                        complete = False
                elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) \
                        and target.value.value in config_names:
                    index = target.slice[0].slice if len(target.slice) == 1 else None
                    if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString) \
                            and isinstance(index.value.evaluated_value, str):
                        keys.setdefault(index.value.evaluated_value, index.value)
                    else:
                        return None
            elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                call = small.value
                func = call.func
                if isinstance(func, cst.Attribute) and func.attr.value == "update" and dotted(func.value) in config_names:
                    for arg in call.args:
                        if arg.keyword is not None:
                            keys.setdefault(arg.keyword.value, arg.keyword)
                        elif isinstance(arg.value, cst.Dict):
                            if not add_dict(arg.value):
                                return None
                        else:
                            return None
            elif isinstance(small, cst.Return):
                if small.value is None:
                    return None
                value = small.value
                if isinstance(value, cst.Dict):
                    if not add_dict(value):
                        return None
                elif isinstance(value, cst.Name) and value.value in config_names:
                    pass
                elif isinstance(value, cst.Call) and dotted(value.func) == "dict" and value.args:
                    for arg in value.args:
                        if arg.keyword is not None:
                            keys.setdefault(arg.keyword.value, arg.keyword)
                        elif arg.star == "**" and (_is_super_config(arg.value) or dotted(arg.value) in config_names):
                            from_super[0] = True
                            continue
                        else:
                            return None
                else:
                    return None
    if not keys:
        return None
    return keys, complete, bool(base_names) or from_super[0]
