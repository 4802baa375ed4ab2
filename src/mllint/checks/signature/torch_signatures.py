"""What PyTorch export calls leave unsaid (family: signature).

At each ``torch.onnx.export`` / ``torch.export.export`` / ``torch.jit.trace`` call in a file:
PT401 no dynamic dimensions for ONNX, PT402 no input/output names for ONNX, PT403 ``torch.export``
without ``dynamic_shapes`` for a model the file feeds several sizes, PT404 tracing a model whose
``forward`` branches on tensor data (the model may live in another file: its summary carries the
facts), PT405 exporting a freshly built model that was never put in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

import libcst as cst

from mllint.analysis.index import ProjectIndex
from mllint.analysis.names import add_import_aliases, child_nodes, dotted, literal_strings, qualify
from mllint.analysis.summary import ClassSummary
from mllint.analysis.torch_model_facts import is_mode_module
from mllint.analysis.walker import FileContext
from mllint.checks.base import Check
from mllint.targets import TORCH_TARGETS

#: Export APIs (qualified) -> short kind.
EXPORT_APIS = {
    "torch.onnx.export": "onnx",
    "torch.export.export": "export",
    "torch.jit.trace": "trace",
    "torch.jit.trace_module": "trace",
}
#: Methods that return the module itself, so ``Net().eval()`` is still a ``Net``.
_SELF_RETURNING = frozenset({"eval", "train", "to", "cuda", "cpu", "float", "half", "double", "bfloat16",
                             "requires_grad_", "zero_grad", "share_memory"})
_FACTORIES = frozenset({"torch.randn", "torch.rand", "torch.zeros", "torch.ones", "torch.empty", "torch.randint",
                        "torch.full"})
Shape = Tuple[int, ...]


@dataclass
class Binding:
    """A local name bound to a model the file builds (or to an exported program)."""

    cls: Optional[str]  # qualified class name
    evaled: Optional[bool]  # True after .eval(); None when unknown (handed to other code, global)
    program: bool = False  # the result of torch.export.export
    fed: Set[Shape] = field(default_factory=set)  # literal input shapes this model is called or exported with


@dataclass
class Site:
    api: str  # "onnx", "export", "trace"
    qualname: str
    call: cst.Call
    top: cst.CSTNode
    stmt: cst.CSTNode
    model: Optional[Binding]
    var: Optional[str]
    example: Optional[Shape]
    keywords: Tuple[str, ...]
    splat: bool  # **kwargs passed: options unknown


@dataclass
class _Scope:
    aliases: Dict[str, str]
    bindings: Dict[str, Binding] = field(default_factory=dict)
    shapes: Dict[str, Shape] = field(default_factory=dict)


class _Scanner:
    """Reads each function body (and the module's top level) in source order."""

    def __init__(self, fctx: FileContext) -> None:
        self.fctx = fctx
        self.sites: List[Site] = []
        self.globals: Dict[str, Binding] = {}

    def scan(self) -> "_Scanner":
        module_scope = _Scope(dict(self.fctx.summary.aliases))
        functions: List[Tuple[cst.FunctionDef, cst.CSTNode]] = []
        self._block(module_scope, self.fctx.module.body, None, functions)
        self.globals = {k: Binding(v.cls, None, v.program, set(v.fed)) for k, v in module_scope.bindings.items()}
        while functions:
            fn, top = functions.pop(0)
            scope = _Scope(dict(module_scope.aliases), dict(self.globals), dict(module_scope.shapes))
            body = fn.body.body if isinstance(fn.body, cst.IndentedBlock) else []
            self._block(scope, body, top, functions)
        return self

    def _block(self, scope: _Scope, stmts: Iterable[cst.CSTNode], top: Optional[cst.CSTNode],
               functions: List[Tuple[cst.FunctionDef, cst.CSTNode]]) -> None:
        for stmt in stmts:
            here = top if top is not None else stmt
            if isinstance(stmt, cst.FunctionDef):
                functions.append((stmt, here))
            elif isinstance(stmt, cst.ClassDef):
                for inner in stmt.body.body:
                    if isinstance(inner, cst.FunctionDef):
                        functions.append((inner, here))
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self._small(scope, small, stmt, here)
            elif isinstance(stmt, cst.BaseCompoundStatement):
                for expr in _header_exprs(stmt):
                    self._calls(scope, expr, stmt, here)
                for body in _bodies(stmt):
                    self._block(scope, body, here, functions)

    def _small(self, scope: _Scope, small: cst.CSTNode, stmt: cst.CSTNode, top: cst.CSTNode) -> None:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            add_import_aliases(small, scope.aliases, self.fctx.summary.module, self.fctx.summary.is_package)
            return
        value = getattr(small, "value", None)
        if isinstance(value, cst.BaseExpression):
            self._calls(scope, value, stmt, top)
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if isinstance(target, cst.Name):
                self._bind(scope, target.value, small.value)
            else:
                for name in _target_names(target):
                    scope.bindings.pop(name, None)
                    scope.shapes.pop(name, None)

    def _bind(self, scope: _Scope, name: str, value: cst.BaseExpression) -> None:
        shape = self._shape(scope, value)
        binding = None
        if isinstance(value, cst.Call) and self._qualify(scope, value.func) == "torch.export.export":
            binding = Binding(None, None, program=True)
        elif shape is None:
            binding = self._construction(scope, value)
        scope.bindings.pop(name, None)
        scope.shapes.pop(name, None)
        if shape is not None:
            scope.shapes[name] = shape
        if binding is not None:
            scope.bindings[name] = binding

    def _construction(self, scope: _Scope, value: cst.BaseExpression) -> Optional[Binding]:
        """``Net(...)``, ``Net(...).eval()``, ``model.to(device)``: a model of a known class."""
        evaled = False
        while (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
               and value.func.attr.value in _SELF_RETURNING):
            evaled = evaled or _sets_eval(value)
            value = value.func.value
        if isinstance(value, cst.Name):
            known = scope.bindings.get(value.value)
            if known is not None and evaled:
                known.evaled = True
            return known
        if not isinstance(value, cst.Call):
            return None
        name = dotted(value.func)
        if not name or not name.split(".")[-1][:1].isupper():
            return None
        cls = self._qualify(scope, value.func) or (
            f"{self.fctx.summary.module}.{name}" if self.fctx.summary.module else name)
        return Binding(cls, evaled)

    def _qualify(self, scope: _Scope, func: cst.BaseExpression) -> Optional[str]:
        name = dotted(func)
        if name is None:
            return None
        q = qualify(name, scope.aliases)
        if q is None and name in self.fctx.summary.classes:
            q = self.fctx.summary.classes[name].qualname
        return q

    def _shape(self, scope: _Scope, value: cst.BaseExpression) -> Optional[Shape]:
        """Literal shape of ``torch.randn(2, 3)`` / ``(torch.zeros(2, 3),)`` / a name bound to one."""
        if isinstance(value, cst.Name):
            return scope.shapes.get(value.value)
        if isinstance(value, (cst.Tuple, cst.List)) and value.elements:
            return self._shape(scope, value.elements[0].value)
        if not isinstance(value, cst.Call):
            return None
        q = self._qualify(scope, value.func)
        if q not in _FACTORIES:
            return None
        positional = [a.value for a in value.args if a.keyword is None and not a.star]
        by_key = {a.keyword.value: a.value for a in value.args if a.keyword is not None}
        if q == "torch.randint":
            size = by_key.get("size") or (positional[2] if len(positional) >= 3 else
                                          positional[1] if len(positional) == 2 else None)
            return _literal_shape([size]) if size is not None else None
        if q == "torch.full":
            size = by_key.get("size") or (positional[0] if positional else None)
            return _literal_shape([size]) if size is not None else None
        if "size" in by_key:
            return _literal_shape([by_key["size"]])
        return _literal_shape(positional)

    def _calls(self, scope: _Scope, expr: cst.CSTNode, stmt: cst.CSTNode, top: cst.CSTNode) -> None:
        stack: List[cst.CSTNode] = [expr]
        calls: List[cst.Call] = []
        while stack:
            node = stack.pop()
            if isinstance(node, (cst.Lambda, cst.FunctionDef)):
                continue
            if isinstance(node, cst.Call):
                calls.append(node)
            stack.extend(child_nodes(node))
        for call in reversed(calls):  # inner calls first, in source order
            self._call(scope, call, stmt, top)

    def _call(self, scope: _Scope, call: cst.Call, stmt: cst.CSTNode, top: cst.CSTNode) -> None:
        func = call.func
        q = self._qualify(scope, func)
        api = EXPORT_APIS.get(q or "")
        if api is not None:
            self._site(scope, api, q or "", call, stmt, top)
            return
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            binding = scope.bindings.get(func.value.value)
            if binding is not None:
                method = func.attr.value
                if method in ("eval", "train"):
                    binding.evaled = _sets_eval(call)
                elif method == "forward":
                    self._fed(scope, binding, call)
                return
        if isinstance(func, cst.Name) and func.value in scope.bindings:
            self._fed(scope, scope.bindings[func.value], call)
            return
        for arg in call.args:  # handed to other code: its mode is unknown from here
            if isinstance(arg.value, cst.Name) and arg.value.value in scope.bindings:
                scope.bindings[arg.value.value].evaled = None

    def _fed(self, scope: _Scope, binding: Binding, call: cst.Call) -> None:
        if not call.args:
            return
        shape = self._shape(scope, call.args[0].value)
        if shape is not None:
            binding.fed.add(shape)

    def _site(self, scope: _Scope, api: str, q: str, call: cst.Call, stmt: cst.CSTNode, top: cst.CSTNode) -> None:
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        model: Optional[Binding] = None
        var: Optional[str] = None
        if positional:
            first = positional[0]
            if isinstance(first, cst.Name):
                var = first.value
                model = scope.bindings.get(var)
            else:
                model = self._construction(scope, first)
        example = None
        if len(positional) >= 2:
            example = self._shape(scope, positional[1])
        keywords = tuple(a.keyword.value for a in call.args if a.keyword is not None)
        splat = any(a.star == "**" for a in call.args)
        self.sites.append(Site(api, q, call, top, stmt, model, var, example, keywords, splat))
        if model is not None and example is not None:
            model.fed.add(example)


def _literal_shape(args: List[cst.BaseExpression]) -> Optional[Shape]:
    if len(args) == 1 and isinstance(args[0], (cst.Tuple, cst.List)):
        args = [e.value for e in args[0].elements]
    dims = []
    for a in args:
        if not isinstance(a, cst.Integer):
            return None
        dims.append(int(a.value))
    return tuple(dims) if dims else None


def _sets_eval(call: cst.Call) -> bool:
    """``m.eval()`` / ``m.train(False)`` -> True; ``m.train()`` -> False."""
    func = call.func
    if not isinstance(func, cst.Attribute):
        return False
    if func.attr.value == "eval":
        return True
    if func.attr.value == "train":
        return bool(call.args) and dotted(call.args[0].value) == "False"
    return False


def _target_names(node: cst.BaseExpression) -> List[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for el in node.elements for n in _target_names(el.value)]
    return []


def _header_exprs(stmt: cst.CSTNode) -> List[cst.CSTNode]:
    if isinstance(stmt, (cst.If, cst.While)):
        return [stmt.test]
    if isinstance(stmt, cst.For):
        return [stmt.iter]
    if isinstance(stmt, cst.With):
        return [item.item for item in stmt.items]
    return []


def _bodies(stmt: cst.CSTNode) -> List[List[cst.CSTNode]]:
    out: List[List[cst.CSTNode]] = []
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        out.append(list(body.body))
    for handler in getattr(stmt, "handlers", ()):
        out.append(list(handler.body.body))
    for extra in ("orelse", "finalbody"):
        part = getattr(stmt, extra, None)
        while part is not None:
            inner = getattr(part, "body", None)
            if isinstance(inner, cst.IndentedBlock):
                out.append(list(inner.body))
            part = part.orelse if isinstance(part, cst.If) else None
    return out


# -- facts about the exported model, across files -----------------------------------------------------
def model_facts(index: ProjectIndex, cls: ClassSummary, depth: int = 0,
                seen: Optional[Set[str]] = None) -> Tuple[List[Tuple[str, str]], bool]:
    """(where, test) data-dependent tests reachable from ``cls.forward`` and whether it depends on train mode."""
    seen = set() if seen is None else seen
    if cls.qualname in seen or depth > 4:
        return [], False
    seen.add(cls.qualname)
    found = index.find_method(cls, "forward")
    if found is None:
        return [], False
    owner = found[0]
    facts = owner.torch_facts
    if facts is None:
        return [], False
    tests = [(f"{cls.name}.{method}", test) for method, test in facts.data_tests]
    mode = facts.mode_dependent
    for attr in facts.called_attrs:
        info = index.attr_of(cls, attr)
        if info is None or info.kind not in ("module", "module_list") or not info.cls:
            continue
        if is_mode_module(info.cls):
            mode = True
            continue
        sub = index.resolve_class(info.cls)
        if sub is not None:
            sub_tests, sub_mode = model_facts(index, sub, depth + 1, seen)
            tests.extend(sub_tests)
            mode = mode or sub_mode
    return tests, mode


def _exempt_except(*targets: str) -> FrozenSet[str]:
    return frozenset(TORCH_TARGETS) - set(targets)


def _dynamo_flag(call: cst.Call) -> Optional[bool]:
    """``dynamo=`` of torch.onnx.export: True (the default), False, or None when not a literal."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "dynamo":
            name = dotted(arg.value)
            return True if name == "True" else False if name == "False" else None
    return True


def _onnx_exempt(dynamo: Optional[bool]) -> FrozenSet[str]:
    if dynamo is None:
        return _exempt_except("onnx-dynamo", "onnx-legacy")
    return _exempt_except("onnx-dynamo") if dynamo else _exempt_except("onnx-legacy")


class TorchExportSignatures(Check):
    """PT401-PT405 at PyTorch export call sites."""

    codes = ("PT401", "PT402", "PT403", "PT404", "PT405", "PT408")

    def check_file(self, fctx: FileContext) -> None:
        if not fctx.summary.uses_torch or not any(s.callee in EXPORT_APIS for s in fctx.summary.call_sites):
            return
        scanner = _Scanner(fctx).scan()
        for site in scanner.sites:
            model = site.model
            cls = fctx.index.resolve_class(model.cls) if model is not None and model.cls else None
            if site.api == "onnx":
                self._onnx(fctx, site)
            elif site.api == "export" and not site.splat and "dynamic_shapes" not in site.keywords:
                self._export_sizes(fctx, site)
            if cls is None:
                continue
            tests, mode = model_facts(fctx.index, cls)
            dynamo = _dynamo_flag(site.call) if site.api == "onnx" else None
            traced = site.api == "trace" or (site.api == "onnx" and dynamo is False)
            if traced and tests:
                where, test = tests[0]
                exempt = _exempt_except("torchscript-trace") if site.api == "trace" else _exempt_except("onnx-legacy")
                fctx.report("PT404", site.call, site.top, site.stmt, exempt=exempt, api=_api_text(site),
                            cls=cls.name, where=where, test=test)
            if mode and model is not None and model.evaled is False and not (site.api == "onnx" and dynamo is not True):
                target = {"trace": "torchscript-trace", "export": "torch-export", "onnx": "onnx-dynamo"}[site.api]
                fctx.report("PT405", site.call, site.top, site.stmt, exempt=_exempt_except(target),
                            api=_api_text(site), var=site.var or cls.name, cls=cls.name)

    @staticmethod
    def _onnx(fctx: FileContext, site: Site) -> None:
        if site.splat or (site.model is not None and site.model.program):
            return
        dynamo = _dynamo_flag(site.call)
        exempt = _onnx_exempt(dynamo)
        if "dynamic_shapes" not in site.keywords and "dynamic_axes" not in site.keywords:
            spec = {True: "dynamic_shapes=", False: "dynamic_axes="}.get(dynamo, "dynamic_shapes= / dynamic_axes=")  # type: ignore[arg-type]
            fctx.report("PT401", site.call, site.top, site.stmt, exempt=exempt, api=_api_text(site), spec=spec)
        missing = [k for k in ("input_names", "output_names") if k not in site.keywords]
        if missing:
            fctx.report("PT402", site.call, site.top, site.stmt, exempt=exempt, api=_api_text(site),
                        missing=" and ".join(f"`{m}=`" for m in missing))
        if dynamo is True and "dynamic_axes" in site.keywords and "dynamic_shapes" not in site.keywords:
            short = _dynamic_axes_short(site.call)
            if short is not None:
                fctx.report("PT408", site.call, site.top, site.stmt, exempt=_exempt_except("onnx-dynamo"),
                            api=_api_text(site), why=short)

    @staticmethod
    def _export_sizes(fctx: FileContext, site: Site) -> None:
        model = site.model
        if model is None:
            return
        shapes = set(model.fed)  # fed anywhere in its scope, before or after the export
        if site.example is not None:
            shapes.add(site.example)
        if len(shapes) < 2:
            return
        cls = (model.cls or "model").rsplit(".", 1)[-1]
        shown = ", ".join(str(s) for s in sorted(shapes))
        fctx.report("PT403", site.call, site.top, site.stmt, exempt=_exempt_except("torch-export"),
                    api=_api_text(site), cls=cls, shapes=shown)


def _keyword(call: cst.Call, name: str) -> Optional[cst.BaseExpression]:
    return next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def _dynamic_axes_short(call: cst.Call) -> Optional[str]:
    """PT408: why the dynamo exporter cannot turn this call's ``dynamic_axes`` into ``dynamic_shapes``, or
    None. Measured on torch 2.13: the conversion fails ("Failed to convert 'dynamic_axes' to
    'dynamic_shapes'") when the model takes several inputs and ``input_names`` names fewer of them, or,
    without ``input_names``, ``dynamic_axes`` has fewer entries than inputs."""
    positional = [a for a in call.args if a.keyword is None]
    args = positional[1].value if len(positional) > 1 else _keyword(call, "args")
    if not isinstance(args, cst.Tuple) or any(not isinstance(e, cst.Element) for e in args.elements):
        return None
    count = len(args.elements)
    if count < 2 or any(isinstance(e.value, (cst.Dict, cst.DictComp)) for e in args.elements):
        return None  # one input, or keyword inputs in a trailing dict
    inputs = literal_strings(_keyword(call, "input_names"))
    if inputs is not None:
        if len(inputs) < count:
            return f"`input_names` names {len(inputs)} of the {count} inputs"
        return None
    if _keyword(call, "input_names") is not None or _keyword(call, "output_names") is not None:
        return None  # names not literal, or dynamic_axes keys may be outputs: unknown
    axes = _keyword(call, "dynamic_axes")
    if not isinstance(axes, cst.Dict) or any(not isinstance(e, cst.DictElement) for e in axes.elements):
        return None
    if len(axes.elements) < count:
        return f"without `input_names`, `dynamic_axes` has entries for {len(axes.elements)} of the {count} inputs"
    return None


def _api_text(site: Site) -> str:
    return {"onnx": "torch.onnx.export", "export": "torch.export.export"}.get(site.api, site.qualname)
