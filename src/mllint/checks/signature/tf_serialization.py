"""Keras 3 ``.keras`` save and load of custom classes (family: signature).

TF405 a Layer / Model subclass that is not registered (``load_model`` cannot find it), TF406
``__init__`` parameters that Keras' automatic config cannot store and no ``get_config``, TF407
``get_config()`` keys that do not match the ``__init__`` parameters.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.summary import ClassSummary, FuncSummary
from mllint.analysis.walker import FileContext
from mllint.checks.base import Check
from mllint.checks.tf_scope import walk

_REGISTERING = ("register_keras_serializable", "keras_export", "keras_hub_export", "keras_cv_export", "keras_nlp_export")
#: Packages whose unregistered classes Keras 3 still finds, by importing the module path it saved.
_RESOLVED_BY_MODULE = frozenset({"keras", "keras_hub", "keras_cv", "keras_nlp", "tf_keras"})
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


def _base_class(fctx: FileContext, node: cst.ClassDef, cls: ClassSummary) -> bool:
    """A class written to be derived from rather than saved: another class of the file derives from
    it, its name says so (``BaseBlock``, ``AbstractHead``, ``...Mixin``), or it has abstract methods.

    Only this file is read, so the answer does not depend on which other modules were loaded.
    """
    name = cls.name
    if name.startswith(("Base", "Abstract", "_Base")) or name.endswith(("Base", "Mixin", "Interface")):
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


def _registered(fctx: FileContext, node: cst.ClassDef, cls: ClassSummary) -> bool:
    if any(d.endswith(_REGISTERING) for d in cls.decorators):
        return True
    # registered by a call at module level: register_keras_serializable()(Cls), get_custom_objects()[...] = Cls
    for stmt in fctx.module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for n in walk(stmt):
                if isinstance(n, cst.Name) and n.value == node.name.value:
                    text = fctx.module.code_for_node(stmt)
                    if "register_keras_serializable" in text or "custom_objects" in text:
                        return True
    return False


class TFKerasSerialization(Check):
    """TF405-TF407: custom Keras classes that do not survive a ``.keras`` round trip."""

    codes = ("TF405", "TF406", "TF407")
    frameworks = ("tensorflow",)

    def check_file(self, fctx: FileContext) -> None:
        if not fctx.summary.uses_tf:
            return
        # Keras resolves unregistered classes of its own packages by module path.
        by_module = fctx.summary.module.split(".")[0] in _RESOLVED_BY_MODULE
        for node, cls in fctx.class_nodes():
            if fctx.index.framework_of(cls) != "keras" or fctx.index.keras_flavor_of(cls) != "keras3":
                continue
            top = node
            if not by_module and not _registered(fctx, node, cls) and not _base_class(fctx, node, cls):
                fctx.report("TF405", node.name, top, None, cls=cls.name)
            self._init_args(fctx, node, cls)
            self._config_keys(fctx, node, cls)

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
