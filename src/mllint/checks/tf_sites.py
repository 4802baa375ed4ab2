"""Where a file saves, exports or converts TensorFlow / Keras models, and what it hands them.

A straight-line read of each function body (and of the module's top level): ``m = Model(...)``
bindings, then ``tf.saved_model.save(m, ...)``, ``m.export(...)``, ``m.save(...)``, TFLite converter
calls, and every other use of ``m`` in between (a call builds a subclassed Keras model). Branches
are read in source order; a name bound to anything else stops being tracked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from mllint.analysis.names import child_nodes, dotted
from mllint.analysis.summary import ClassSummary
from mllint.analysis.walker import FileContext
from mllint.checks.tf_scope import walk

_FUNCTIONAL = frozenset({
    "Model", "Sequential", "models.Model", "models.Sequential", "Functional",
})
_KERAS_ROOTS = {"keras.": "keras3", "tensorflow.keras.": "keras3", "tf_keras.": "tf_keras"}
_LOADERS = ("saving.load_model", "models.load_model")
#: Methods of a model that neither call nor build it.
_PASSIVE_METHODS = frozenset({"compile", "export", "save", "save_weights", "get_config", "to_json"})


@dataclass
class ModelBinding:
    """A local name bound to a model the file constructs."""

    name: str
    origin: str  # "project" (a project class), "functional" (keras.Model/Sequential/applications), "loaded"
    cls: Optional[ClassSummary]
    framework: Optional[str]  # "keras" or "tf" (tf.Module)
    flavor: Optional[str]  # "keras3" / "tf_keras" for Keras models
    used: bool = False  # called, built or handed to other code since it was bound
    concrete: Set[str] = field(default_factory=set)  # methods whose get_concrete_function was called


@dataclass
class Site:
    api: str  # "saved_model.save", "export", "keras-save", "from_keras_model", "from_concrete_functions", "from_saved_model"
    call: cst.Call
    top: cst.CSTNode
    stmt: cst.CSTNode
    obj: Optional[ModelBinding]
    keywords: Tuple[str, ...]
    built: bool = True  # False: a subclassed Keras model that was never called before this site
    format: Optional[str] = None  # export(format=...)


@dataclass
class FileSites:
    sites: List[Site] = field(default_factory=list)
    select_ops: List[Tuple[cst.CSTNode, cst.CSTNode, cst.CSTNode]] = field(default_factory=list)  # node, top, stmt

    def any(self, api: str) -> bool:
        return any(s.api == api for s in self.sites)


def file_sites(fctx: FileContext) -> FileSites:
    """The sites of ``fctx`` (computed once per parsed module, kept with its tree)."""
    return fctx.memo.get(lambda: _Scanner(fctx).scan(), "tf_sites.sites")


def _keyword(call: cst.Call, name: str, position: Optional[int] = None) -> Optional[cst.BaseExpression]:
    for i, arg in enumerate(call.args):
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
        if arg.keyword is None and position is not None and i == position and not arg.star:
            return arg.value
    return None


def _string(node: Optional[cst.BaseExpression]) -> Optional[str]:
    if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
        return node.evaluated_value
    return None


class _Scanner:
    def __init__(self, fctx: FileContext) -> None:
        self.fctx = fctx
        self.index = fctx.index
        self.out = FileSites()

    def scan(self) -> FileSites:
        for stmts in self._scopes():
            self._scope(stmts)
        return self.out

    # -- scopes ------------------------------------------------------------------------------
    def _scopes(self) -> Iterator[List[Tuple[cst.CSTNode, cst.CSTNode]]]:
        """The module's top level, then every function body (each read on its own)."""
        yield self._flatten(self.fctx.module.body, None)
        for top in self.fctx.module.body:
            for fn in self._functions(top):
                if isinstance(fn.body, cst.IndentedBlock):
                    yield self._flatten(fn.body.body, top)

    def _functions(self, node: cst.CSTNode) -> Iterator[cst.FunctionDef]:
        if isinstance(node, cst.FunctionDef):
            yield node
        for child in child_nodes(node):
            if isinstance(child, (cst.BaseStatement, cst.BaseSuite, cst.BaseCompoundStatement)) or isinstance(
                    child, (cst.IndentedBlock, cst.Else, cst.ExceptHandler, cst.Finally)):
                yield from self._functions(child)

    def _flatten(self, stmts: Sequence[cst.CSTNode], top: Optional[cst.CSTNode]) -> List[Tuple[cst.CSTNode, cst.CSTNode]]:
        """(small statement or compound header expression, top-level statement) in source order."""
        out: List[Tuple[cst.CSTNode, cst.CSTNode]] = []
        for stmt in stmts:
            owner = top if top is not None else stmt
            if isinstance(stmt, cst.SimpleStatementLine):
                out.extend((small, owner) for small in stmt.body)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            elif isinstance(stmt, cst.BaseCompoundStatement):
                for header in ("test", "iter"):
                    expr = getattr(stmt, header, None)
                    if isinstance(expr, cst.BaseExpression):
                        out.append((expr, owner))
                for item in getattr(stmt, "items", ()):
                    out.append((item.item, owner))
                parts: List[cst.CSTNode] = [stmt]
                orelse = getattr(stmt, "orelse", None)
                while orelse is not None:
                    parts.append(orelse)
                    if isinstance(orelse, cst.If):
                        out.append((orelse.test, owner))
                    orelse = getattr(orelse, "orelse", None) if isinstance(orelse, cst.If) else None
                parts.extend(getattr(stmt, "handlers", ()))
                final = getattr(stmt, "finalbody", None)
                if final is not None:
                    parts.append(final)
                for part in parts:
                    body = getattr(part, "body", None)
                    if isinstance(body, cst.IndentedBlock):
                        out.extend(self._flatten(body.body, owner))
        return out

    # -- one scope ---------------------------------------------------------------------------------
    def _scope(self, stmts: List[Tuple[cst.CSTNode, cst.CSTNode]]) -> None:
        bindings: Dict[str, ModelBinding] = {}
        for small, top in stmts:
            nodes = [small, *walk(small, into_functions=True)]
            found = []
            passive: Set[cst.CSTNode] = set()
            for call in (n for n in nodes if isinstance(n, cst.Call)):
                classified = self._classify(call, bindings, top, small)
                if classified is not None:
                    found.append(classified)
                    if classified[1] is not None:
                        passive.add(classified[1])
                self._concrete(call, bindings)
                func = call.func
                if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.attr.value in _PASSIVE_METHODS:
                    passive.add(func.value)
            for node in nodes:
                if isinstance(node, cst.Name) and node.value in bindings and node not in passive:
                    if not self._is_binding_target(small, node):
                        bindings[node.value].used = True
                elif self._is_select(node):
                    self.out.select_ops.append((node, top, small))
            for call, obj_expr, api, fmt in found:
                self._add_site(call, obj_expr, api, fmt, bindings, top, small)
            self._bind(small, bindings)

    def _is_binding_target(self, small: cst.CSTNode, node: cst.Name) -> bool:
        if isinstance(small, cst.Assign):
            return any(t.target is node for t in small.targets)
        return False

    def _bind(self, small: cst.CSTNode, bindings: Dict[str, ModelBinding]) -> None:
        if not isinstance(small, (cst.Assign, cst.AnnAssign)):
            return
        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
        names = [t.value for t in targets if isinstance(t, cst.Name)]
        binding = self._model_ctor(small.value) if small.value is not None else None
        for name in names:
            if binding is not None:
                bindings[name] = ModelBinding(name, *binding)
            else:
                bindings.pop(name, None)

    def _concrete(self, call: cst.Call, bindings: Dict[str, ModelBinding]) -> None:
        """``m.f.get_concrete_function(...)``: ``f`` is traced (and saved) for that signature."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "get_concrete_function":
            name = dotted(func.value) or ""
            parts = name.split(".")
            if len(parts) == 2 and parts[0] in bindings:
                bindings[parts[0]].concrete.add(parts[1])

    def _model_ctor(self, value: cst.BaseExpression):  # type: ignore[no-untyped-def]
        """(origin, cls, framework, flavor) when ``value`` constructs or loads a model."""
        if not isinstance(value, cst.Call):
            return None
        raw = dotted(value.func)
        q = self.fctx.qualify(raw) if raw else None
        if q is None and raw and raw in self.fctx.summary.classes:
            mod = self.fctx.summary.module
            q = f"{mod}.{raw}" if mod else raw
        if q is None:
            return None
        cls = self.index.resolve_class(q)
        if cls is not None:
            fw = self.index.framework_of(cls)
            if fw in ("keras", "tf"):
                return ("project", cls, fw, self.index.keras_flavor_of(cls) if fw == "keras" else None)
            return None
        for root, flavor in _KERAS_ROOTS.items():
            if q.startswith(root):
                rest = q[len(root):]
                if rest in _FUNCTIONAL or rest.startswith("applications."):
                    return ("functional", None, "keras", flavor)
                if rest in _LOADERS:
                    return ("loaded", None, "keras", flavor)
        return None

    def _classify(self, call: cst.Call, bindings: Dict[str, ModelBinding], top: cst.CSTNode, stmt: cst.CSTNode):  # type: ignore[no-untyped-def]
        """(call, object expression, api, export format) for a save/export/convert call, else None."""
        raw = dotted(call.func)
        q = self.fctx.qualify(raw) if raw else None
        if q == "tensorflow.saved_model.save":
            return call, _keyword(call, "obj", 0), "saved_model.save", None
        if q and q.endswith("lite.TFLiteConverter.from_keras_model"):
            return call, _keyword(call, "model", 0), "from_keras_model", None
        if q and q.endswith("lite.TFLiteConverter.from_concrete_functions"):
            return call, _keyword(call, "trackable_obj", 1), "from_concrete_functions", None
        if q and q.endswith("lite.TFLiteConverter.from_saved_model"):
            return call, None, "from_saved_model", None
        if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in ("export", "save"):
            return None
        receiver = call.func.value
        bound = isinstance(receiver, cst.Name) and receiver.value in bindings
        if call.func.attr.value == "save":
            return (call, receiver, "keras-save", None) if bound else None
        fmt = _string(_keyword(call, "format", 1))
        keywords = {a.keyword.value for a in call.args if a.keyword is not None}
        if fmt in ("litert", "tflite") and "target_spec" not in keywords:
            self.out.select_ops.append((call, top, stmt))  # Keras enables SELECT_TF_OPS by itself
        return (call, receiver, "export", fmt) if bound else None

    def _add_site(self, call: cst.Call, obj_expr: Optional[cst.BaseExpression], api: str, fmt: Optional[str],
                  bindings: Dict[str, ModelBinding], top: cst.CSTNode, stmt: cst.CSTNode) -> None:
        obj = bindings.get(obj_expr.value) if isinstance(obj_expr, cst.Name) else None
        if obj is None and isinstance(obj_expr, cst.Call):
            ctor = self._model_ctor(obj_expr)
            if ctor is not None:
                obj = ModelBinding("", *ctor)
        built = True
        if obj is not None and obj.origin == "project" and obj.framework == "keras" and not obj.used:
            built = bool(obj.cls and any(c.builds_in_init for c in self.index.mro(obj.cls)))
        keywords = tuple(a.keyword.value for a in call.args if a.keyword is not None)
        self.out.sites.append(Site(api, call, top, stmt, obj, keywords, built, fmt))

    def _is_select(self, node: cst.CSTNode) -> bool:
        if not isinstance(node, cst.Attribute) or node.attr.value != "SELECT_TF_OPS":
            return False
        q = self.fctx.qualify(dotted(node)) or ""
        return q.startswith("tensorflow.")
