"""Python constructs that some PyTorch targets reject or silently freeze (family: unsupported).

TorchScript scripting compiles the *source* of ``forward`` and everything it calls, so it is strict
about Python: PT201-PT208. Tracing and the exporters run the Python once and record tensor ops, so
they freeze Python-side behaviour instead: PT209-PT215. Severities and effects per target live in
``rules/unsupported/PT2*.md``; the facts behind them are re-checked by tests/test_torch_construct_facts.py.
"""

from __future__ import annotations

import math
from typing import Dict, FrozenSet, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from mllint.analysis.names import child_nodes, dotted
from mllint.analysis.summary import ClassSummary, FuncSummary
from mllint.analysis.values import SEQUENCE_TENSOR_METHODS, Kind, Value, annotation_kind, is_optional_annotation
from mllint.analysis.walker import FunctionContext, scripting_exits
from mllint.checks.base import BranchTests, Check, tested_operands
from mllint.optables.torch_tables import load_torch_tables
from mllint.targets import TORCH_TARGETS, targets_where

SCRIPT = next(iter(targets_where(capture="script")))
_EXPORT_TARGETS: FrozenSet[str] = targets_where(capture="dynamo")

#: How TorchScript's ``is_scripting()`` pruning applies to a construct (see ``report``).
FRONTEND, EMITTER, PLAIN = "frontend", "emitter", "plain"


# -- reporting with TorchScript's own notion of which code it compiles ---------------------------
def _not_taken_when_scripting(ctx: FunctionContext) -> bool:
    """Inside a branch that ``torch.jit.is_scripting()`` rules out, which scripting does not compile."""
    for test, polarity in ctx.tests:
        operands = [test]
        if polarity and isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
            operands = list(_and_operands(test))
        for operand in operands:
            negate = False
            while isinstance(operand, cst.UnaryOperation) and isinstance(operand.operator, cst.Not):
                negate = not negate
                operand = operand.expression
            if isinstance(operand, cst.Call) and ctx.qualname(operand.func) == "torch.jit.is_scripting":
                value_when_scripting = not negate
                if len(operands) > 1 and not value_when_scripting:
                    return True  # ``not is_scripting() and ...`` is false when scripting
                if len(operands) == 1 and value_when_scripting != polarity:
                    return True
    return False


def _and_operands(test: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        yield from _and_operands(test.left)
        yield from _and_operands(test.right)
    else:
        yield test




def _pruned_after_exit(ctx: FunctionContext) -> Set[cst.CSTNode]:
    """Statements after ``if torch.jit.is_scripting(): return/raise`` in the same block (not compiled)."""
    return ctx.scratch.get(lambda: _pruned_statements(ctx), "PT201.pruned")


def _pruned_statements(ctx: FunctionContext) -> Set[cst.CSTNode]:
    found: Set[cst.CSTNode] = set()
    body = ctx.node.body
    _scan_block(ctx, body.body if isinstance(body, cst.IndentedBlock) else [], False, found)
    return found


def _scan_block(ctx: FunctionContext, stmts: Sequence[cst.CSTNode], pruned: bool, out: Set[cst.CSTNode]) -> None:
    for stmt in stmts:
        if pruned:
            out.add(stmt)
        for block in _child_blocks(stmt):
            _scan_block(ctx, block, pruned, out)
        if not pruned and isinstance(stmt, cst.If):
            else_exits = isinstance(stmt.orelse, cst.Else) and _block_exits(stmt.orelse.body.body)
            pruned = scripting_exits(ctx, stmt.test, _block_exits(stmt.body.body), else_exits)


def _child_blocks(stmt: cst.CSTNode) -> List[Sequence[cst.CSTNode]]:
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef, cst.SimpleStatementLine)):
        return []
    out: List[Sequence[cst.CSTNode]] = []
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        out.append(body.body)
    for handler in getattr(stmt, "handlers", ()):
        out.append(handler.body.body)
    for extra in ("orelse", "finalbody"):
        part = getattr(stmt, extra, None)
        if isinstance(part, cst.If):
            out.append([part])
        elif part is not None and isinstance(getattr(part, "body", None), cst.IndentedBlock):
            out.append(part.body.body)
    return out


def _block_exits(stmts: Sequence[cst.CSTNode]) -> bool:
    last = stmts[-1] if stmts else None
    return (isinstance(last, cst.SimpleStatementLine) and bool(last.body)
            and isinstance(last.body[-1], (cst.Return, cst.Raise, cst.Continue, cst.Break)))


def script_exempt(ctx: FunctionContext, level: str) -> FrozenSet[str]:
    """``ctx.exempt`` as TorchScript sees it.

    Scripting compiles every branch (``self.training`` and ``is_tracing()`` guards included), so
    those guards do not exempt it; a function-level exemption (``@torch.jit.ignore``/``unused``)
    does. ``is_scripting()`` guards prune a branch after parsing: they help with what the compiler's
    emitter rejects (``EMITTER``), not with syntax its front end refuses to parse (``FRONTEND``).
    """
    exempt = set(ctx.exempt)
    exempt.discard(SCRIPT)
    if SCRIPT in ctx.task.exempt or (level == EMITTER and (
            _not_taken_when_scripting(ctx) or ctx.stmt in _pruned_after_exit(ctx))):
        exempt.add(SCRIPT)
    return frozenset(exempt)


def report(ctx: FunctionContext, code: str, node: cst.CSTNode, level: str = PLAIN,
           also_exempt: FrozenSet[str] = frozenset(), stmt: Optional[cst.CSTNode] = None, **fmt: object) -> None:
    """Report ``code``; ``level`` says how TorchScript guards apply (PLAIN: the walker's exemptions)."""
    exempt = ctx.exempt if level == PLAIN else script_exempt(ctx, level)
    ctx.file.report(code, node, ctx.top, ctx.stmt if stmt is None else stmt, exempt=exempt | also_exempt, **fmt)


# -- small syntax helpers ---------------------------------------------------------------------------
def _foreign_tensor_method(ctx: FunctionContext, call: cst.Call) -> bool:
    """``x.jax()`` on a value mllint takes for a tensor: not a ``torch.Tensor`` method, so the value is some
    other framework's (code behind ``hasattr(x, "jax")``), not evidence of a torch computation."""
    known = load_torch_tables().tensor_attributes
    func = call.func
    return (bool(known) and isinstance(func, cst.Attribute) and func.attr.value not in known
            and ctx.kind(func.value) == Kind.TENSOR)


def _tries_tensor_op(ctx: FunctionContext, body: cst.BaseSuite) -> bool:
    """Whether a ``try`` body computes on a tensor (a call, operator or index whose value is one)."""
    stack: List[cst.CSTNode] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Call) and _foreign_tensor_method(ctx, node):
            stack.extend(child_nodes(node))
            continue
        if isinstance(node, (cst.Call, cst.BinaryOperation, cst.Subscript, cst.Comparison)):
            try:
                if ctx.kind(node) == Kind.TENSOR:
                    return True
            except Exception:  # noqa: BLE001 - an expression mllint cannot evaluate is not evidence
                pass
        stack.extend(child_nodes(node))
    return False


def _is_literal(node: cst.BaseExpression) -> bool:
    """A literal non-None Python value (what TorchScript cannot pass as a Tensor)."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return True
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return True
    if isinstance(node, (cst.Tuple, cst.List)) and node.elements:
        return all(isinstance(e, cst.Element) and _is_literal(e.value) for e in node.elements)
    return False


def _is_int_or_str_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.SimpleString))


def _self_attr_name(node: cst.BaseExpression) -> Optional[str]:
    """``attr`` for ``self.attr``."""
    name = dotted(node)
    if name and name.startswith("self.") and name.count(".") == 1:
        return name[5:]
    return None


def _params(fn: cst.FunctionDef) -> List[cst.Param]:
    p = fn.params
    return list(p.posonly_params) + list(p.params)


def _is_method(ctx: FunctionContext) -> bool:
    return ctx.task.func.cls is not None


def _callee(ctx: FunctionContext, call: cst.Call) -> Optional[Tuple[FuncSummary, Optional[ClassSummary], bool]]:
    """The project function a call reaches: (summary, owning class, is_method); None if unknown."""
    func = call.func
    attr = _self_attr_name(func)
    if attr is not None and ctx.self_class is not None:
        found = ctx.index.find_method(ctx.self_class, attr)
        if found is not None:
            owner, method = found
            return method, owner, True
        module = ctx.value(func)  # ``self.block(x, H, W)``: a submodule's forward
        sub = ctx.index.resolve_class(module.cls) if module.kind == Kind.MODULE and module.cls else None
        forward = ctx.index.find_method(sub, "forward") if sub is not None else None
        if forward is not None:
            return forward[1], forward[0], True
        return None
    if isinstance(func, (cst.Name, cst.Attribute)):
        q = ctx.qualname(func)
        if q is None and isinstance(func, cst.Name) and func.value in ctx.file.summary.functions:
            return ctx.file.summary.functions[func.value], None, False
        resolved = ctx.index.resolve(q) if q else None
        if resolved is not None and resolved[0] == "function":
            fn: FuncSummary = resolved[1]  # type: ignore[assignment]
            parts = (q or "").split(".")
            cls = ctx.index.resolve_class(".".join(parts[:-1])) if len(parts) > 1 else None
            return fn, cls if cls is not None and fn.name in cls.methods else None, False
    return None


# -- PT201-PT208: TorchScript scripting ------------------------------------------------------------------
_LOGGING_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log"})
_LOGGER_NAMES = frozenset({"logger", "log", "_logger", "_log", "LOGGER", "LOG", "logging"})
#: Tensor methods TorchScript has no binding for (``torch/jit/unsupported_tensor_ops.py``'s algorithm,
#: torch 2.13; re-derived by tests/test_torch_construct_facts.py). ``numpy`` is PT105, storage access PT210.
STORAGE_METHODS = frozenset({"data_ptr", "const_data_ptr", "storage", "untyped_storage"})
#: Tensor methods TorchScript cannot compile, from the generated tables; storage access (PT210) and
#: ``.numpy()`` (PT105) have rules of their own.
SCRIPT_UNSUPPORTED_TENSOR_METHODS = load_torch_tables().script_unsupported_methods - STORAGE_METHODS - {"numpy"}
_DATACLASS_DECORATORS = frozenset({"dataclasses.dataclass", "dataclass"})
_PYTREE_REGISTRATIONS = ("register_pytree_node", "register_dataclass", "_register_pytree_node", "register_constant")
#: Decorators that change nothing a scripted model computes (or are TorchScript's own).
_HARMLESS_DECORATORS = (
    "torch.jit.", "torch.no_grad", "torch.inference_mode", "torch.enable_grad", "torch.compiler.", "torch._dynamo.",
    "typing.overload", "overload", "staticmethod", "classmethod", "property", "abc.abstractmethod",
    "functools.cached_property", "typing.final", "typing_extensions.override", "typing.override", "override",
)


def _documents_only(name: str) -> bool:
    """``@auto_docstring``, ``@add_start_docstrings_to_model_forward``: they only write ``__doc__``."""
    return "docstring" in name.rsplit(".", 1)[-1].lower()


def _logger_call(ctx: FunctionContext, func: cst.BaseExpression) -> bool:
    if not isinstance(func, cst.Attribute) or func.attr.value not in _LOGGING_METHODS:
        return False
    q = ctx.qualname(func) or ""
    if q.startswith("logging."):
        return True
    receiver = dotted(func.value)
    if receiver is None or ctx.kind(func.value) == Kind.TENSOR:
        return False
    return receiver.split(".")[-1] in _LOGGER_NAMES or _module_logger(ctx, receiver)


def _module_logger(ctx: FunctionContext, name: str) -> bool:
    """``log = logging.getLogger(...)`` at the top of the file."""
    if "." in name:
        return False
    for stmt in ctx.file.module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (isinstance(small, cst.Assign) and isinstance(small.value, cst.Call)
                        and any(isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets)):
                    return (ctx.file.qualify(dotted(small.value.func)) or "").startswith("logging.")
    return False


def _autograd_function(ctx: FunctionContext, func: cst.BaseExpression) -> Optional[str]:
    """``Fn.apply`` for a project ``torch.autograd.Function`` subclass: its name."""
    if not (isinstance(func, cst.Attribute) and func.attr.value == "apply"):
        return None
    cls = ctx.index.resolve_class(ctx.qualname(func.value))
    if cls is None and isinstance(func.value, cst.Name):
        cls = ctx.file.summary.classes.get(func.value.value)
    if cls is None:
        return None
    bases = ctx.index.external_bases(cls)
    if any(b in ("torch.autograd.Function", "torch.autograd.function.Function") for b in bases):
        return cls.name
    return None


def _element_kind(ctx: FunctionContext, comp: cst.BaseExpression) -> Kind:
    """Kind of the elements a list literal or a one-level comprehension produces."""
    if isinstance(comp, (cst.List, cst.Tuple)):
        kinds = {ctx.kind(e.value) for e in comp.elements if isinstance(e, cst.Element)}
        return kinds.pop() if len(kinds) == 1 else Kind.UNKNOWN
    if not isinstance(comp, (cst.GeneratorExp, cst.ListComp)) or comp.for_in.inner_for_in is not None:
        return Kind.UNKNOWN
    target, it = comp.for_in.target, comp.for_in.iter
    if not isinstance(target, cst.Name):
        return Kind.UNKNOWN
    source = ctx.value(it)
    elem: Optional[Value] = None
    if source.kind == Kind.TENSOR:
        elem = Value(Kind.TENSOR)
    elif source.kind == Kind.MODULE_LIST:
        elem = Value(Kind.MODULE, None, source.cls)
    elif (isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in SEQUENCE_TENSOR_METHODS
          and ctx.kind(it.func.value) == Kind.TENSOR):
        elem = Value(Kind.TENSOR)
    if elem is None:
        return Kind.UNKNOWN
    saved = ctx.env.get(target.value)
    ctx.env[target.value] = elem
    ctx.evaluator.invalidate()
    try:
        return ctx.kind(comp.elt)
    finally:
        if saved is None:
            ctx.env.pop(target.value, None)
        else:
            ctx.env[target.value] = saved
        ctx.evaluator.invalidate()


def _drop_true(dec: cst.Decorator) -> bool:
    expr = dec.decorator
    return isinstance(expr, cst.Call) and any(
        a.keyword is not None and a.keyword.value == "drop" and isinstance(a.value, cst.Name) and a.value.value == "True"
        for a in expr.args)


def _ignored_for_good(ctx: FunctionContext, fn: FuncSummary, owner: Optional[ClassSummary]) -> bool:
    """``@torch.jit.ignore`` (not ``drop=True``): the call stays a Python call in the scripted model."""
    if "torch.jit.ignore" not in fn.decorators:
        return False
    if owner is not None and ctx.index.module_of_class(owner) == ctx.file.summary.module:
        found = ctx.file.function_node(owner.name, fn.name)
    elif owner is None and ctx.file.summary.functions.get(fn.name) is fn:
        found = ctx.file.function_node(None, fn.name)
    else:
        found = None
    if found is not None:
        for dec in found[0].decorators:
            if (ctx.file.qualify(dotted(dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator))
                    == "torch.jit.ignore" and _drop_true(dec)):
                return False
    return True


def _project_function(ctx: FunctionContext, raw: str, qualified: str) -> bool:
    """A decorator defined in the project as a function (its effect on values is unknown, so it may change them;
    decorators from libraries, such as ``torch.compiler.disable`` re-exports, are not judged)."""
    if raw in ctx.file.summary.functions:
        return True
    found = ctx.index.resolve(qualified)
    return found is not None and found[0] == "function"


def _passes_through(ctx: FunctionContext, raw: str, qualified: str) -> bool:
    """A project decorator whose wrapper returns ``fn(*args, **kwargs)`` unchanged: scripting skips it, but it
    changes no value the method computes (a renamed deprecated keyword, ``autocast(enabled=False)``)."""
    fn = ctx.file.summary.functions.get(raw)
    if fn is None:
        found = ctx.index.resolve(qualified)
        fn = found[1] if found is not None and found[0] == "function" else None  # type: ignore[assignment]
    return isinstance(fn, FuncSummary) and fn.wrapper is not None and fn.wrapper.passes_result


def _tests_none(fn: cst.FunctionDef, name: str) -> bool:
    """``name is None`` / ``name is not None`` somewhere in the body."""
    stack: List[cst.CSTNode] = [fn.body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Comparison) and isinstance(node.left, cst.Name) and node.left.value == name:
            if any(isinstance(c.operator, (cst.Is, cst.IsNot)) and isinstance(c.comparator, cst.Name)
                   and c.comparator.value == "None" for c in node.comparisons):
                return True
        if isinstance(node, (cst.FunctionDef, cst.Lambda)):
            continue
        stack.extend(child_nodes(node))
    return False


class ScriptConstructs(Check):
    """PT201-PT208: what ``torch.jit.script`` cannot compile, and its quiet traps."""

    codes = ("PT201", "PT202", "PT203", "PT204", "PT205", "PT206", "PT207", "PT208")

    # PT201: syntax the TorchScript front end refuses (no guard helps) ---------------------------
    def visit_Lambda(self, ctx: FunctionContext, node: cst.Lambda) -> None:
        report(ctx, "PT201", node, FRONTEND, construct="a `lambda`")

    def visit_FunctionDef(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        report(ctx, "PT201", node.name, FRONTEND, construct=f"the nested function `{node.name.value}`")

    def visit_ClassDef(self, ctx: FunctionContext, node: cst.ClassDef) -> None:
        report(ctx, "PT201", node.name, FRONTEND, construct=f"the nested class `{node.name.value}`")

    def visit_Yield(self, ctx: FunctionContext, node: cst.Yield) -> None:
        report(ctx, "PT201", node, FRONTEND, construct="`yield`")

    def visit_Global(self, ctx: FunctionContext, node: cst.Global) -> None:
        report(ctx, "PT201", node, FRONTEND, construct="a `global` statement")

    def visit_Nonlocal(self, ctx: FunctionContext, node: cst.Nonlocal) -> None:
        report(ctx, "PT201", node, FRONTEND, construct="a `nonlocal` statement")

    def visit_Import(self, ctx: FunctionContext, node: cst.Import) -> None:
        report(ctx, "PT201", node, FRONTEND, construct="an `import` statement")

    def visit_ImportFrom(self, ctx: FunctionContext, node: cst.ImportFrom) -> None:
        report(ctx, "PT201", node, FRONTEND, construct="an `import` statement")

    def visit_List(self, ctx: FunctionContext, node: cst.List) -> None:
        if any(isinstance(e, cst.StarredElement) for e in node.elements):
            report(ctx, "PT201", node, EMITTER, construct=f"the unpacking list `{ctx.code(node)}`")

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        lists: Dict[str, bool] = ctx.scratch.get(dict, "PT201.lists")
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Name):
                lists[target.value] = _list_valued(ctx, node.value)
            elif isinstance(target, (cst.Tuple, cst.List)):
                star = next((e for e in target.elements if isinstance(e, cst.StarredElement)), None)
                if star is not None and _list_valued(ctx, node.value):
                    report(ctx, "PT201", target, EMITTER,
                           construct=f"the starred target in `{ctx.code(target)} = {ctx.code(node.value)}`, which "
                                     "unpacks a list of unknown length (only tuples unpack with `*`)")
                for el in target.elements:
                    for name in _names_in(el.value):
                        lists[name] = False

    def visit_For(self, ctx: FunctionContext, node: cst.For) -> None:
        lists: Dict[str, bool] = ctx.scratch.get(dict, "PT201.lists")
        for name in _names_in(node.target):
            lists[name] = False

    def visit_Arg(self, ctx: FunctionContext, node: cst.Arg) -> None:
        if node.star == "*" and _list_valued(ctx, node.value):
            report(ctx, "PT201", node, EMITTER,
                   construct=f"the argument `*{ctx.code(node.value)}`, which unpacks a list of unknown length into "
                             "the call (only tuples unpack with `*`)")

    def visit_With(self, ctx: FunctionContext, node: cst.With) -> None:
        for item in node.items:
            call = item.item
            q = ctx.qualname(call.func) if isinstance(call, cst.Call) else None
            reason = _WITH_UNSUPPORTED.get(q or "")
            if reason is not None and isinstance(call, cst.Call):
                report(ctx, "PT204", call, EMITTER, call=ctx.code(call), reason=reason)

    def visit_Attribute(self, ctx: FunctionContext, node: cst.Attribute) -> None:
        if node.attr.value == "__class__" and dotted(node.value) == "self" and ctx.framework == "torch":
            report(ctx, "PT204", node, EMITTER, call=ctx.code(node),
                   reason="TorchScript cannot compile class reflection (scripting fails with `type object 'type' has "
                          "no attribute '__globals__'`); call the method or read the attribute directly")

    def visit_Dict(self, ctx: FunctionContext, node: cst.Dict) -> None:
        for el in node.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.Tuple):
                report(ctx, "PT201", el.key, EMITTER, construct=f"the tuple dict key `{ctx.code(el.key)}`")
                return

    # PT202: try/except (script rejects it; tracing crashes when the exception fires) -------------
    def visit_Try(self, ctx: FunctionContext, node: cst.Try) -> None:
        if not node.handlers:  # try/finally alone catches nothing
            return
        # Tracing and the exporters only crash or misbehave when the exception fires while they
        # run; with no tensor operation inside the ``try`` (``try: import apex``, a version check)
        # nothing they capture can raise, and only scripting, which rejects the syntax, is left.
        quiet = frozenset() if _tries_tensor_op(ctx, node.body) else frozenset(TORCH_TARGETS) - {SCRIPT}
        report(ctx, "PT202", node, FRONTEND, also_exempt=quiet)

    def visit_TryStar(self, ctx: FunctionContext, node: cst.CSTNode) -> None:  # pragma: no cover - Python 3.11+
        self.visit_Try(ctx, node)  # type: ignore[arg-type]

    # PT201 (signature) / PT205 / PT206 / PT207: per function --------------------------------------
    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        if SCRIPT in ctx.task.exempt or ctx.framework != "torch":
            return
        p = node.params
        star = p.star_arg if isinstance(p.star_arg, cst.Param) else None
        for param, what in ((star, "`*{}`"), (p.star_kwarg, "`**{}`")):
            if param is not None:
                self._entry(ctx, "PT201", param, construct="the variadic parameter " + what.format(param.name.value))
        if p.kwonly_params:
            first = p.kwonly_params[0]
            self._entry(ctx, "PT201", first, construct=f"the keyword-only parameter `{first.name.value}`")
        params = _params(node)[1:] if _is_method(ctx) else _params(node)
        values = dict(ctx.task.params)
        for param in params:
            if param.annotation is not None:
                continue
            if param.default is None:
                continue
            name = param.name.value
            if _is_literal(param.default):
                self._entry(ctx, "PT205", param, param=name, detail=f"its default `{ctx.code(param.default)}`")
            elif (isinstance(param.default, cst.Name) and param.default.value == "None"
                  and values.get(name, Value(Kind.STATIC)).kind != Kind.TENSOR and _tests_none(node, name)):
                self._entry(ctx, "PT206", param, param=name)
        # A variadic or keyword-only signature already fails scripting (PT201, an error): the silent loss of a
        # decorator cannot happen on top of it, so PT207 is not reported there.
        loud = star is not None or p.star_kwarg is not None or bool(p.kwonly_params)
        if not loud and _is_method(ctx) and ctx.self_class is not None \
                and ctx.index.framework_of(ctx.self_class) == "torch":
            for dec in node.decorators:
                expr = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
                raw = dotted(expr) or ""
                name = ctx.file.qualify(raw) or raw
                if (name and not name.startswith(_HARMLESS_DECORATORS) and not _documents_only(name)
                        and _project_function(ctx, raw, name) and not _passes_through(ctx, raw, name)):
                    self._entry(ctx, "PT207", dec, decorator=raw, function=node.name.value)

    @staticmethod
    def _entry(ctx: FunctionContext, code: str, node: cst.CSTNode, **fmt: object) -> None:
        ctx.file.report(code, node, ctx.top, None, exempt=ctx.task.exempt, **fmt)

    # PT203 / PT204 / PT205 (call sites) / PT208 ----------------------------------------------------------
    def visit_Subscript(self, ctx: FunctionContext, node: cst.Subscript) -> None:
        value = ctx.value(node.value)
        if value.kind != Kind.MODULE_LIST or value.cls in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            return
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return
        index = node.slice[0].slice.value
        if not _is_int_or_str_literal(index):
            report(ctx, "PT203", node, EMITTER, construct=f"`{ctx.code(node)}` indexes a module container with a variable")

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if ctx.framework != "torch":
            return
        func = node.func
        name = dotted(func)
        # PT203: dynamic attribute access and super()
        if name == "getattr" and "getattr" not in ctx.env and len(node.args) >= 2 and not any(
                a.star or a.keyword is not None for a in node.args[:2]):
            if not isinstance(node.args[1].value, cst.SimpleString):
                report(ctx, "PT203", node, EMITTER, construct=f"`{ctx.code(node)}` looks up an attribute by a computed name")
            return
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and dotted(func.value.func) == "super":
            if _is_method(ctx):
                report(ctx, "PT203", node, EMITTER, construct=f"`{ctx.code(node)}` calls the parent class through `super()`")
            return
        # PT204: calls TorchScript cannot compile
        what = self._python_only(ctx, node)
        if what:
            # NumPy calls inside a reported NumPy call's arguments (one finding per expression), for this walk
            covered: List[cst.CSTNode] = ctx.scratch.get(list, "PT204.numpy_inner")
            if not any(n is node for n in covered):
                report(ctx, "PT204", node, EMITTER, call=ctx.code(node), reason=what)
            if (ctx.qualname(func) or "").startswith("numpy."):
                # ``np.concatenate([np.zeros(2), np.ones(2)])``: one finding for the expression
                covered.extend(_nested_calls(node))
            return
        callee = _callee(ctx, node)
        if callee is None:
            return
        fn, owner, is_method = callee
        if any(d in ("torch.jit.ignore", "torch.jit.unused") for d in fn.decorators):
            if _ignored_for_good(ctx, fn, owner):
                report(ctx, "PT208", node, EMITTER, function=fn.name)
            return
        self._literal_args(ctx, node, fn, is_method, owner.name if owner is not None else None)

    def _python_only(self, ctx: FunctionContext, node: cst.Call) -> Optional[str]:
        """Why TorchScript cannot compile the call, and what to write instead, for this call only."""
        func = node.func
        if _logger_call(ctx, func):
            return ("logging calls are Python objects TorchScript cannot compile; move it out of `forward` or "
                    "under `if not torch.jit.is_scripting():`")
        q = ctx.qualname(func) or ""
        if isinstance(func, cst.Name) and func.value not in ctx.env:
            if func.value == "setattr" and "setattr" not in ctx.file.summary.functions:
                return "the builtin `setattr` is not supported by TorchScript; assign the attribute (`self.name = ...`)"
            if (func.value == "type" and len(node.args) == 1 and dotted(node.args[0].value) == "self"
                    and "type" not in ctx.file.summary.functions):
                return "TorchScript cannot compile `type(self)`; call the method on `self` or the class by name"
        if q in _SYM_FUNCTIONS:
            return (f"`{q}` is a symbolic-shape helper TorchScript has no operator for (`Unknown builtin op: "
                    f"aten::{q.split('.')[-1]}`); use {_SYM_FUNCTIONS[q]}")
        if q in _CONTEXTLIB:
            return f"`{q}` is a Python context manager TorchScript cannot compile; {_CONTEXTLIB[q]}"
        if q.startswith("functools."):
            return f"`{q}` is a Python builtin TorchScript does not support; write the loop or the call out"
        if q.startswith("numpy.") and not q.startswith("numpy.random."):
            if not any(ctx.kind(a.value) in (Kind.TENSOR, Kind.DATA) for a in node.args):  # tensor data: PT105
                last = q.split(".")[-1]
                numbers = node.args and all(ctx.kind(a.value) in (Kind.STATIC, Kind.SHAPE) for a in node.args)
                instead = (f"use `math.{last}` on Python numbers" if numbers and hasattr(math, last)
                           else f"use the torch function (`torch.{last}` where it exists)")
                return f"NumPy (`{q}`) is not supported by TorchScript; {instead}"
        fn = _autograd_function(ctx, func)
        if fn:
            return (f"`{fn}.apply` (a `torch.autograd.Function`) cannot be scripted: compiling fails, or the "
                    "scripted model cannot be saved; call its ops directly, or register a custom op (`torch.library`)")
        if isinstance(func, cst.Attribute) and func.attr.value in SCRIPT_UNSUPPORTED_TENSOR_METHODS:
            if ctx.kind(func.value) == Kind.TENSOR:
                method, recv = func.attr.value, ctx.code(func.value)
                instead = _METHOD_INSTEAD.get(method, "use the `torch.` function that does the same").format(x=recv)
                return f"TorchScript has no Tensor method `{method}`; {instead}"
        if isinstance(func, cst.Name) and func.value == "sum" and node.args and func.value not in ctx.env:
            if _element_kind(ctx, node.args[0].value) == Kind.TENSOR:
                return ("the builtin `sum` only adds numbers in TorchScript, not tensors; add them in a loop or "
                        "with `torch.stack(...).sum(0)`")
        if (isinstance(func, cst.Name) and func.value == "tuple" and func.value not in ctx.env and len(node.args) == 1
                and isinstance(node.args[0].value, (cst.GeneratorExp, cst.ListComp))):
            return "TorchScript cannot infer the length of a tuple built from a comprehension; build a list instead"
        return None

    def _literal_args(self, ctx: FunctionContext, node: cst.Call, fn: FuncSummary, is_method: bool,
                      owner: Optional[str] = None) -> None:
        """PT205 at a call: a literal passed to an unannotated parameter (typed Tensor by TorchScript)."""
        params = [p for p in (fn.params[1:] if is_method else fn.params) if p.star == ""]
        by_name = {p.name: p for p in params}
        shown = f"{owner}.{fn.name}" if owner and fn.name == "forward" else fn.name
        for i, arg in enumerate(node.args):
            if arg.star:
                return
            param = by_name.get(arg.keyword.value) if arg.keyword is not None else (params[i] if i < len(params) else None)
            if param is None or param.annotation:
                continue
            if _is_literal(arg.value):
                detail = f"the argument `{ctx.code(arg.value)}` passed to `{shown}`"
            else:
                # a size (``H, W = x.shape[2:]``) or a fixed Python value (``self.heads = 4``): an int, not a Tensor
                value = ctx.value(arg.value)
                if not (value.kind == Kind.SHAPE
                        or (value.kind == Kind.STATIC and value.literal not in (None, "None"))):
                    continue
                what = "the size" if value.kind == Kind.SHAPE else "the Python value"
                detail = f"{what} `{ctx.code(arg.value)}` passed to `{shown}`"
            report(ctx, "PT205", arg.value, EMITTER, param=param.name, detail=detail)


# -- PT209-PT215: what tracing and the exporters drop or freeze ----------------------------------------------
_VIEW_METHODS = frozenset({
    "view", "view_as", "reshape", "reshape_as", "transpose", "permute", "squeeze", "unsqueeze", "expand",
    "expand_as", "narrow", "select", "flatten", "t", "T", "mT", "contiguous", "detach", "unflatten", "movedim",
    "swapaxes", "swapdims", "diagonal", "as_strided", "unfold", "real", "imag", "view_as_real",
})
_NOT_DATA_INPLACE = frozenset({"requires_grad_", "share_memory_", "retain_grad", "names_", "rename_"})


def _is_inplace_method(name: str) -> bool:
    return name.endswith("_") and not name.startswith("_") and name not in _NOT_DATA_INPLACE


def _basic_index(node: cst.Subscript) -> bool:
    """Indexing with ints, slices, ``...`` and ``None`` gives a view; indexing with tensors copies."""
    for el in node.slice:
        s = el.slice
        if isinstance(s, cst.Slice):
            continue
        v = s.value
        if isinstance(v, cst.UnaryOperation):
            v = v.expression
        if not (isinstance(v, (cst.Integer, cst.Ellipsis)) or (isinstance(v, cst.Name) and v.value == "None")):
            return False
    return True


class _MutationState:
    """Per analysed function: names that still hold (a view of) a forward input; ``self`` attribute events."""

    def __init__(self, inputs: Dict[str, str]) -> None:
        self.inputs = inputs  # local name -> the forward parameter it is (a view of)
        self.events: Optional["_AttrEvents"] = None


class _AttrEvents:
    """Where a function reads and writes ``self.<attr>``, in evaluation order.

    A write that follows a read of the same attribute (``if self.cache is None: self.cache = ...``,
    ``self.n = self.n + 1``, ``self.n += 1``) carries state from one call into the next.
    """

    def __init__(self, fn: cst.FunctionDef) -> None:
        self.first_read: Dict[str, int] = {}
        self.read_anywhere: Set[str] = set()
        self.write_at: Dict[cst.CSTNode, int] = {}
        self._n = 0
        self._visit(fn.body)

    def _tick(self) -> int:
        self._n += 1
        return self._n

    def _visit(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Assign):
            self._visit(node.value)
            for t in node.targets:
                self._target(t.target)
            return
        if isinstance(node, (cst.AugAssign, cst.AnnAssign)):
            if node.value is not None:
                self._visit(node.value)
            self._target(node.target)
            return
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and _is_inplace_method(node.func.attr.value):
            for arg in node.args:
                self._visit(arg)
            self._target(node.func.value)
            return
        if isinstance(node, cst.Attribute):
            attr = _self_attr_name(node)
            if attr is not None:
                self.first_read.setdefault(attr, self._tick())
                self.read_anywhere.add(attr)
                return
        for child in child_nodes(node):
            self._visit(child)

    def _target(self, target: cst.BaseExpression) -> None:
        """A store (or in-place update) into ``target``: its indices are reads, ``self.<attr>`` is written."""
        while True:
            if _self_attr_name(target) is not None:
                self.write_at[target] = self._tick()
                return
            if isinstance(target, cst.Subscript):
                for el in target.slice:
                    self._visit(el)
                target = target.value
            elif isinstance(target, cst.Attribute) and target.attr.value == "data":
                target = target.value
            elif isinstance(target, (cst.Tuple, cst.List)):
                for el in target.elements:
                    self._target(el.value)
                return
            else:
                self._visit(target)
                return

    def read_before(self, attr: str, target: cst.CSTNode) -> bool:
        first = self.first_read.get(attr)
        return first is not None and first < self.write_at.get(target, 0)


class GraphStateAndInternals(Check):
    """PT209-PT215, PT217: dataclass and dict outputs, tensor internals, input/buffer/attribute mutation, Python
    randomness."""

    codes = ("PT209", "PT210", "PT211", "PT212", "PT213", "PT214", "PT215", "PT217")

    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        inputs: Dict[str, str] = {}
        if ctx.task.depth == 0 and not building_block(ctx):
            inputs = {name: name for name, value in ctx.task.params if value.kind == Kind.TENSOR}
        ctx.scratch.get(lambda: _MutationState(inputs), "PT212.state")

    def _st(self, ctx: FunctionContext) -> _MutationState:
        """This walk's record of input and attribute mutations."""
        return ctx.scratch.get(lambda: _MutationState({}), "PT212.state")

    def _events(self, ctx: FunctionContext) -> _AttrEvents:
        st = self._st(ctx)
        if st.events is None:
            st.events = _AttrEvents(ctx.node)
        return st.events

    # PT212 helpers: which expressions are (views of) inputs ----------------------------------------
    def _input_view(self, ctx: FunctionContext, node: cst.BaseExpression) -> Optional[str]:
        """The input a tensor expression aliases (``x``, ``x[:, 0]``, ``x.view(-1)``), if any."""
        st = self._st(ctx)
        while True:
            if isinstance(node, cst.Name):
                return st.inputs.get(node.value)
            if isinstance(node, cst.Subscript) and _basic_index(node):
                node = node.value
            elif isinstance(node, cst.Attribute) and node.attr.value in ("data", "T", "mT", "real", "imag"):
                node = node.value
            elif (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                  and node.func.attr.value in _VIEW_METHODS):
                node = node.func.value
            else:
                return None

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        st = self._st(ctx)
        if ctx.task.depth == 0:
            _DictLocals.of(ctx).bind(node.targets, _dict_output(ctx, node.value))
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Name):
                source = self._input_view(ctx, node.value) if st.inputs else None
                if source is not None:
                    st.inputs[target.value] = source
                else:
                    st.inputs.pop(target.value, None)
            elif isinstance(target, (cst.Tuple, cst.List)):
                for el in target.elements:
                    if isinstance(el.value, cst.Name):
                        st.inputs.pop(el.value.value, None)
            elif isinstance(target, cst.Subscript):
                self._inplace(ctx, target, target.value, f"`{ctx.code(target)} = ...`")
            elif isinstance(target, cst.Attribute):
                self._attr_store(ctx, target, node, accumulates=False)

    def visit_AugAssign(self, ctx: FunctionContext, node: cst.AugAssign) -> None:
        target = node.target
        if isinstance(target, cst.Subscript):
            self._inplace(ctx, target, target.value, f"`{ctx.code(node)}`")
        elif isinstance(target, cst.Name) and ctx.kind(target) == Kind.TENSOR:
            self._inplace(ctx, target, target, f"`{ctx.code(node)}`")
        elif isinstance(target, cst.Attribute):
            self._attr_store(ctx, target, node, accumulates=True)

    def visit_AnnAssign(self, ctx: FunctionContext, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and ctx.task.depth == 0 and node.value is not None:
            written = dotted(node.annotation.annotation) or ""
            what = _dict_output(ctx, node.value) or _dict_class(ctx, ctx.file.qualify(written) or written, "annotated",
                                                                written)
            _DictLocals.of(ctx).bind([cst.AssignTarget(node.target)], what)
        if isinstance(node.target, cst.Name):
            self._st(ctx).inputs.pop(node.target.value, None)
        elif isinstance(node.target, cst.Attribute) and node.value is not None:
            self._attr_store(ctx, node.target, node, accumulates=False)

    def visit_For(self, ctx: FunctionContext, node: cst.For) -> None:
        if isinstance(node.target, cst.Name):
            self._st(ctx).inputs.pop(node.target.value, None)

    def _inplace(self, ctx: FunctionContext, node: cst.CSTNode, dest: cst.BaseExpression, what: str) -> None:
        """An in-place update of ``dest``: a forward input (PT212) or a buffer read in this function (PT213)."""
        source = self._input_view(ctx, dest)
        if source is not None:
            ctx.report("PT212", node, what=what, param=source)
            return
        attr = self._buffer_of(ctx, dest)
        if attr is not None and attr in self._events(ctx).read_anywhere:
            ctx.report("PT213", node, what=what, attr=attr)

    @staticmethod
    def _buffer_of(ctx: FunctionContext, node: cst.BaseExpression) -> Optional[str]:
        """``attr`` when ``node`` is ``self.attr`` (or an index / ``.data`` of it) holding a tensor."""
        while _self_attr_name(node) is None:
            if isinstance(node, cst.Subscript) or (isinstance(node, cst.Attribute) and node.attr.value == "data"):
                node = node.value
            else:
                return None
        attr = _self_attr_name(node)
        return attr if ctx.kind(node) == Kind.TENSOR else None

    def _attr_store(self, ctx: FunctionContext, target: cst.Attribute, stmt: cst.CSTNode, accumulates: bool) -> None:
        """``self.attr += ...`` / ``self.attr = f(self.attr)`` / a cache of input data (``if self.c is None: self.c = x``).

        A cache of something computed from sizes or constants (``self.grid = make_grid(h, w)``) gives the
        same outputs when export recomputes it, and is not reported.
        """
        attr = _self_attr_name(target)
        if attr is None or attr == "training" or ctx.self_class is None:
            return
        kind = ctx.kind(target)
        if kind in (Kind.MODULE, Kind.MODULE_LIST):
            return
        events = self._events(ctx)
        value = getattr(stmt, "value", None)
        if accumulates:
            carried = attr in events.read_anywhere
        else:
            carried = value is not None and (_mentions_attr(value, attr) or (
                events.read_before(attr, target) and _mentions_input_data(ctx, value)))
        if carried:
            ctx.report("PT213" if kind == Kind.TENSOR else "PT214", target, what=f"`{ctx.code(stmt)}`", attr=attr)

    # calls: in-place methods, storage access, randomness ------------------------------------------------
    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if ctx.framework != "torch":
            return
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if _is_inplace_method(method) and ctx.kind(func.value) == Kind.TENSOR:
                self._inplace(ctx, node, func.value, f"`.{method}()`")
                return
            if method in STORAGE_METHODS and ctx.kind(func.value) == Kind.TENSOR:
                report(ctx, "PT210", node, EMITTER, expr=ctx.code(node))
                return
        q = ctx.qualname(func) or ""
        if q.startswith(("random.", "numpy.random.")):
            if q.split(".")[-1] not in ("seed", "get_state", "set_state", "getstate", "setstate", "default_rng"):
                report(ctx, "PT215", node, EMITTER, expr=ctx.code(node))
            return
        if q.startswith("torch."):
            for arg in node.args:
                key = arg.keyword.value if arg.keyword is not None else None
                if key == "out":
                    self._inplace(ctx, node, arg.value, f"`out=` of `{q}`")
                elif key == "inplace" and dotted(arg.value) == "True" and node.args and node.args[0].keyword is None:
                    first = node.args[0].value
                    if ctx.kind(first) == Kind.TENSOR:
                        self._inplace(ctx, node, first, f"`{q}(..., inplace=True)`")

    # PT211: x.data ------------------------------------------------------------------------------------------
    def visit_Attribute(self, ctx: FunctionContext, node: cst.Attribute) -> None:
        if node.attr.value == "data" and ctx.framework == "torch" and ctx.kind(node.value) == Kind.TENSOR:
            ctx.report("PT211", node, expr=ctx.code(node))

    # PT209: dataclass outputs; PT217: dict outputs -------------------------------------------------------------
    def visit_Return(self, ctx: FunctionContext, node: cst.Return) -> None:
        if ctx.task.depth != 0 or ctx.framework != "torch" or node.value is None:
            return
        what = _dict_output(ctx, node.value)
        if what is not None and not building_block(ctx):
            ctx.report("PT217", node.value, what=what)
        if not isinstance(node.value, cst.Call):
            return
        cls = ctx.index.resolve_class(ctx.qualname(node.value.func))
        if cls is None and isinstance(node.value.func, cst.Name):
            cls = ctx.file.summary.classes.get(node.value.func.value)
        if cls is None or not any(d in _DATACLASS_DECORATORS for d in cls.decorators) or ctx.index.external_bases(cls):
            return  # dataclasses deriving from dicts or registered output types (ModelOutput) are flattened
        local = ctx.file.summary.classes.get(cls.name) is cls
        registered = not local or _registered_pytree(ctx, cls.name)
        exempt = _EXPORT_TARGETS if registered else frozenset()
        if building_block(ctx):  # an intermediate value of the model that builds this one
            exempt = frozenset(TORCH_TARGETS) - {SCRIPT}
        ctx.report("PT209", node.value, also_exempt=exempt, cls=cls.name)


_CONVERSIONS = frozenset({"to", "type", "float", "half", "double", "bfloat16", "cpu", "cuda", "contiguous", "detach",
                          "clone", "type_as"})
_METADATA = frozenset({"device", "dtype", "shape", "ndim", "is_cuda", "requires_grad", "layout"})


def _mentions_attr(node: cst.CSTNode, attr: str) -> bool:
    """The new value is computed from ``self.attr`` (``self.n + 1``, ``f(self.n)``); keeping it as is
    (``a if c else self.n``), testing it against None or converting its dtype/device does not count."""
    stack: List[Tuple[cst.CSTNode, bool]] = [(node, False)]
    while stack:
        n, computed = stack.pop()
        if isinstance(n, cst.Comparison) and all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in n.comparisons):
            continue
        if (isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value in _CONVERSIONS
                and _self_attr_name(n.func.value) == attr):
            stack.extend((a.value, True) for a in n.args)
            continue
        if isinstance(n, cst.Attribute) and _self_attr_name(n) == attr:
            if computed:
                return True
            continue
        inner = computed or isinstance(n, (cst.BinaryOperation, cst.UnaryOperation, cst.Call, cst.Subscript,
                                           cst.BooleanOperation, cst.Comparison))
        stack.extend((c, inner) for c in child_nodes(n))
    return False


#: Calls that read only the shape, dtype or device of their tensor arguments.
_METADATA_CALLS = frozenset({"type_as", "to", "new_zeros", "new_ones", "new_empty", "new_full", "zeros_like",
                             "ones_like", "empty_like", "full_like", "size", "dim", "numel", "get_device"})


def _mentions_input_data(ctx: FunctionContext, node: cst.CSTNode) -> bool:
    """A tensor parameter of the function appears in ``node`` as data (not only for its device, dtype or shape)."""
    inputs = {name for name, value in ctx.task.params if value.kind == Kind.TENSOR}
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Attribute) and n.attr.value in _METADATA:
            continue
        if isinstance(n, cst.Call):
            last = (dotted(n.func) or "").split(".")[-1] if not isinstance(n.func, cst.Attribute) else n.func.attr.value
            if last in _METADATA_CALLS:
                if isinstance(n.func, cst.Attribute):
                    stack.append(n.func.value)
                continue
        if isinstance(n, cst.Name) and n.value in inputs and ctx.env.get(n.value, Value(Kind.UNKNOWN)).kind == Kind.TENSOR:
            return True
        stack.extend(child_nodes(n))
    return False


_DICT_TYPES = frozenset({"dict", "builtins.dict", "collections.OrderedDict", "OrderedDict", "typing.Dict",
                         "typing.OrderedDict", "collections.UserDict", "transformers.utils.ModelOutput",
                         "transformers.utils.generic.ModelOutput", "transformers.modeling_outputs.ModelOutput"})


def _dict_output(ctx: FunctionContext, value: cst.BaseExpression) -> Optional[str]:
    """How ``value`` is a dict (for PT217's message), or None when it is not known to be one."""
    if isinstance(value, (cst.Dict, cst.DictComp)):
        return "a dict"
    if isinstance(value, cst.Name):
        return _DictLocals.of(ctx).get(value.value)
    if not isinstance(value, cst.Call):
        return None
    qname = ctx.qualname(value.func) or dotted(value.func) or ""
    if qname in _DICT_TYPES:
        return f"a dict (`{ctx.code(value.func)}(...)`)"
    sub = _submodule_output(ctx, value.func)
    if sub is not None:
        return sub
    if not qname:
        return None
    return _dict_class(ctx, qname, "built", value.func.value if isinstance(value.func, cst.Name) else None)


def _dict_class(ctx: FunctionContext, qname: str, how: str, local: Optional[str] = None) -> Optional[str]:
    """``qname`` (a class) is a dict type: how to say so, or None. ``how``: "built", "annotated", "returned"."""
    if not qname:
        return None
    short = qname.split(".")[-1]
    if qname in _DICT_TYPES:
        return f"a dict (`{short}`, {how})" if how != "built" else f"a dict (`{short}(...)`)"
    if qname.startswith("transformers.") and short.endswith("Output"):
        return f"`{short}`, a transformers `ModelOutput` (an `OrderedDict`)"
    cls = ctx.index.resolve_class(qname) or (ctx.file.summary.classes.get(local) if local else None)
    if cls is None:
        return None
    for base in ctx.index.external_bases(cls):
        if base in _DICT_TYPES or base.split(".")[-1] == "OrderedDict":
            return f"`{cls.name}`, which derives from `{base.split('.')[-1]}`"
    return None


def _submodule_output(ctx: FunctionContext, func: cst.BaseExpression) -> Optional[str]:
    """``self.encoder(...)``: a submodule whose class's ``forward`` is annotated to return a dict type only."""
    if isinstance(func, cst.Attribute) and func.attr.value == "forward":
        func = func.value
    if not (isinstance(func, cst.Attribute) and dotted(func.value) == "self") or ctx.self_class is None:
        return None
    info = ctx.index.attr_of(ctx.self_class, func.attr.value)
    if info is None or info.kind != "module" or not info.cls:
        return None
    cls = ctx.index.resolve_class(info.cls)
    found = ctx.index.find_method(cls, "forward") if cls is not None else None
    if found is None or not found[1].returns:
        return None
    returns = found[1].returns
    if "." not in returns:  # a class of the submodule's own file
        returns = f"{ctx.index.module_of_class(found[0])}.{returns}"
    what = _dict_class(ctx, returns, "returned")
    if what is None:
        return None
    return f"the output of `self.{func.attr.value}`, {what} (`{found[0].name}.forward`'s return annotation)"


class _DictLocals:
    """Per walk of an exported ``forward``: local names bound to a dict on every assignment seen so far."""

    def __init__(self) -> None:
        self.dicts: Dict[str, str] = {}
        self.spoiled: Set[str] = set()  # also bound to something else: not known to be a dict

    @staticmethod
    def of(ctx: FunctionContext) -> "_DictLocals":
        return ctx.scratch.get(_DictLocals, "PT217.locals")

    def bind(self, targets: Sequence[cst.AssignTarget], what: Optional[str]) -> None:
        for t in targets:
            names = [t.target] if isinstance(t.target, cst.Name) else [
                e.value for e in getattr(t.target, "elements", ()) if isinstance(e.value, cst.Name)]
            for n in names:
                if what is not None and isinstance(t.target, cst.Name) and n.value not in self.spoiled:
                    self.dicts[n.value] = what
                else:
                    self.spoiled.add(n.value)
                    self.dicts.pop(n.value, None)

    def get(self, name: str) -> Optional[str]:
        return self.dicts.get(name)


def building_block(ctx: FunctionContext) -> bool:
    """The model class is (probably) a part of a bigger model: its ``forward`` inputs are that model's
    intermediates, not the exported graph's inputs.

    It is, when its class lives in another file than the code being walked (an inherited ``forward``), or
    when this file uses the class inside another class or in a container (``{"pad": PadPrompter}``), unless
    the configuration or an export call names the class itself (``torch.jit.trace(BertModel(cfg), ...)``).
    """
    cls = ctx.self_class
    if cls is None or ctx.task.named:
        return False
    if ctx.index.module_of_class(cls) != ctx.file.summary.module:
        return True
    return cls.used_as_part


def _registered_pytree(ctx: FunctionContext, cls_name: str) -> bool:
    """The file registers ``cls_name`` with torch's pytree (then torch.export can flatten it)."""
    stack: List[cst.CSTNode] = list(ctx.file.module.body)
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call):
            name = dotted(node.func) or ""
            if name.split(".")[-1] in _PYTREE_REGISTRATIONS and node.args and dotted(node.args[0].value) == cls_name:
                return True
        if isinstance(node, cst.Decorator):
            name = dotted(node.decorator.func if isinstance(node.decorator, cst.Call) else node.decorator) or ""
            if name.split(".")[-1] in _PYTREE_REGISTRATIONS:
                return True
        if isinstance(node, cst.ClassDef) and node.name.value != cls_name:
            continue
        if isinstance(node, cst.FunctionDef):
            continue
        stack.extend(child_nodes(node))
    return False


#: PT204: ``torch.sym_*`` helpers (measured: ``Unknown builtin op: aten::sym_min``) and what to write instead.
_SYM_FUNCTIONS = {
    "torch.sym_min": "the builtin `min`", "torch.sym_max": "the builtin `max`", "torch.sym_not": "`not`",
    "torch.sym_int": "`int(...)`", "torch.sym_float": "`float(...)`",
    "torch.sym_ite": "a conditional expression (`a if cond else b`)",
}
#: PT204: ``contextlib`` helpers scripting cannot compile (measured: ``nullcontext`` fails with ``Expected
#: <function nullcontext.__aenter__> to be a function``, ``suppress`` on its variadic ``__init__``).
_CONTEXTLIB = {
    "contextlib.nullcontext": "write the block twice, or use `torch.no_grad()` / `torch.autocast(..., enabled=flag)`",
    "contextlib.suppress": "TorchScript has no exception handling; check the condition instead",
    "contextlib.ExitStack": "enter the context managers TorchScript supports directly",
}
#: PT204: context managers scripting rejects in a ``with`` (measured on torch 2.13; ``torch.no_grad()``,
#: ``torch.autocast(...)``, ``torch.autograd.profiler.record_function(...)`` compile).
_WITH_UNSUPPORTED = {
    "torch.enable_grad": "TorchScript has no `enable_grad` context (`Unknown builtin op: aten::enable_grad`); only "
                         "`torch.no_grad()` is supported",
    "torch.inference_mode": "TorchScript has no `inference_mode` context (`Unknown builtin op: "
                            "aten::inference_mode`); use `torch.no_grad()`",
    "torch.set_grad_enabled": "`set_grad_enabled` is a plain call in TorchScript, not a context manager (`With item "
                              "expression must return an object`); use `torch.no_grad()`",
    "torch.nn.attention.sdpa_kernel": "TorchScript cannot compile `sdpa_kernel` (its implementation uses `try`); "
                                      "select the kernel outside the scripted code",
}
_LIST_METHODS = frozenset({"unbind", "chunk", "split", "tensor_split", "tolist"})
_LIST_FUNCTIONS = frozenset({"torch.unbind", "torch.chunk", "torch.split", "torch.tensor_split"})


def _list_valued(ctx: FunctionContext, node: cst.BaseExpression) -> bool:
    """A value TorchScript types as a ``List`` (not a tuple): a list display or comprehension, a tensor's
    ``.shape`` / ``.size()`` (``List[int]``) or a slice of it, ``x.unbind()`` / ``x.chunk(n)`` / ``x.split(n)``,
    a list plus anything, or a local name last bound to one of those."""
    if isinstance(node, (cst.List, cst.ListComp)):
        return True
    if isinstance(node, cst.Name):
        lists: Dict[str, bool] = ctx.scratch.get(dict, "PT201.lists")
        return lists.get(node.value, False) and node.value in ctx.env
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _list_valued(ctx, node.left)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice):
        return _list_valued(ctx, node.value)
    if isinstance(node, cst.Attribute) and node.attr.value == "shape":
        return ctx.kind(node.value) == Kind.TENSOR
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and ctx.kind(func.value) == Kind.TENSOR:
            if func.attr.value == "size":
                return not node.args
            return func.attr.value in _LIST_METHODS and func.attr.value != "tolist"
        return (ctx.qualname(func) or "") in _LIST_FUNCTIONS
    return False


def _names_in(node: cst.BaseExpression) -> List[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for e in node.elements for n in _names_in(e.value)]
    if isinstance(node, cst.StarredElement):
        return _names_in(node.value)
    return []


#: PT204: what to write instead of a Tensor method TorchScript does not bind (``{x}``: the receiver).
_METHOD_INSTEAD = {
    "bool": "use `{x}.to(torch.bool)`", "unique": "use `torch.unique({x})`", "nelement": "use `{x}.numel()`",
    "ndimension": "use `{x}.dim()`", "bfloat16": "use `{x}.to(torch.bfloat16)`", "half": "use `{x}.to(torch.float16)`",
    "new_tensor": "use `torch.tensor(..., dtype={x}.dtype, device={x}.device)`",
    "register_hook": "register hooks outside `forward`", "is_shared": "remove it from `forward`",
    "share_memory_": "remove it from `forward`", "pin_memory": "remove it from `forward`",
}


# -- PT216: the truth value of an Optional -----------------------------------------------------------
class _OptionalParams:
    """Per function: the parameters annotated ``Optional[<non-tensor>]`` still holding the argument."""

    def __init__(self, params: Dict[str, str]) -> None:
        self.params = params  # name -> annotation as written
        self.rebound: Dict[str, cst.CSTNode] = {}  # name -> the statement that rebinds it


def _none_tested(test: cst.BaseExpression, name: str) -> bool:
    """``name is None`` / ``is not None`` anywhere in the test (TorchScript refines the Optional)."""
    stack: List[cst.CSTNode] = [test]
    while stack:
        n = stack.pop()
        if (isinstance(n, cst.Comparison) and isinstance(n.left, cst.Name) and n.left.value == name
                and any(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in n.comparisons)):
            return True
        stack.extend(child_nodes(n))
    return False


class ScriptOptionalTruth(BranchTests, Check):
    """PT216: ``cache = cache or {}`` / ``if k:`` on an ``Optional[...]`` parameter fails scripting only."""

    codes = ("PT216",)

    @staticmethod
    def _state(ctx: FunctionContext) -> Optional["_OptionalParams"]:
        """This walk's Optional parameters (set at the function's entry)."""
        box: List[_OptionalParams] = ctx.scratch.get(list, "PT216.optionals")
        return box[0] if box else None

    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        found: Dict[str, str] = {}
        if SCRIPT not in ctx.task.exempt:
            for p in ctx.func.params:
                if p.star or not is_optional_annotation(p.annotation) or annotation_kind(p.annotation) == Kind.TENSOR:
                    continue
                param = next((q for q in _params(node) if q.name.value == p.name), None)
                if param is not None and param.annotation is not None:
                    found[p.name] = ctx.code(param.annotation.annotation)
        box: List[_OptionalParams] = ctx.scratch.get(list, "PT216.optionals")
        box[:] = [_OptionalParams(found)]

    def _rebind(self, ctx: FunctionContext, target: cst.CSTNode) -> None:
        state = self._state(ctx)
        if state is None or not state.params:
            return
        stack = [target]
        while stack:
            n = stack.pop()
            if isinstance(n, cst.Name) and n.value in state.params:
                state.rebound.setdefault(n.value, ctx.stmt or n)
            elif isinstance(n, (cst.Tuple, cst.List, cst.StarredElement, cst.Element)):
                stack.extend(child_nodes(n))

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        for t in node.targets:
            self._rebind(ctx, t.target)

    def visit_AugAssign(self, ctx: FunctionContext, node: cst.AugAssign) -> None:
        self._rebind(ctx, node.target)

    def visit_AnnAssign(self, ctx: FunctionContext, node: cst.AnnAssign) -> None:
        self._rebind(ctx, node.target)

    def visit_For(self, ctx: FunctionContext, node: cst.For) -> None:
        self._rebind(ctx, node.target)

    def visit_BooleanOperation(self, ctx: FunctionContext, node: cst.BooleanOperation) -> None:
        if not isinstance(ctx.stmt, (cst.If, cst.While)) or not _within(node, ctx.stmt.test):
            self.check_test(ctx, node.left, node.operator.__class__.__name__.lower())

    def check_test(self, ctx: FunctionContext, test: cst.BaseExpression, construct: str) -> None:
        state = self._state(ctx)
        if state is None or not state.params:
            return
        for operand in tested_operands(test):
            if not isinstance(operand, cst.Name) or operand.value not in state.params:
                continue
            name = operand.value
            if state.rebound.get(name, ctx.stmt) is not ctx.stmt or _none_tested(test, name):
                continue
            report(ctx, "PT216", operand, EMITTER, construct=construct, param=name,
                   annotation=state.params[name])


def _nested_calls(call: cst.Call) -> List[cst.CSTNode]:
    out: List[cst.CSTNode] = []
    stack: List[cst.CSTNode] = [a.value for a in call.args]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Call):
            out.append(n)
        stack.extend(child_nodes(n))
    return out


def _within(node: cst.CSTNode, root: cst.CSTNode) -> bool:
    stack = [root]
    while stack:
        n = stack.pop()
        if n is node:
            return True
        stack.extend(child_nodes(n))
    return False
