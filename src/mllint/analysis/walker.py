"""The function walker: one pass over each reachable function, all rules at once.

The walker visits a function's statements in order, keeps the value kind of every local name,
dispatches each node to every check that has a ``visit_<NodeType>`` method, and follows calls into
project code (``self.method``, helpers, submodules) by emitting new tasks. Only reachable code is
walked; the rest of the tree is never visited.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple, TypeVar

import re

import libcst as cst

from mllint._compat import SLOTS
from mllint.analysis.guards import TRAINING, GuardSets, call_guard, guard_sets
from mllint.analysis.index import (
    TORCH_EXEMPT_DECORATORS, EntryPoint, FunctionRef, ProjectIndex,
)
from mllint.analysis.names import child_nodes, dotted, qualify
from mllint.analysis.summary import AttrInfo, ClassSummary, FuncSummary, ModuleSummary, ParamSummary
from mllint.analysis.values import (
    STATIC, TENSOR, UNKNOWN, Evaluator, Kind, Value, annotation_kind, code_of, merge,
)
from mllint.targets import ALL_TARGETS, TORCH_TARGETS

ALL_TARGETS_SET: FrozenSet[str] = frozenset(ALL_TARGETS)

#: Optional parameters that carry training targets (``labels``, ``start_positions``): exported models
#: are called without them, so code under ``if labels is not None:`` (the loss) is not in the artifact.
#: ``@torch.jit.script_if_tracing``: the targets that script the function instead of tracing it.
SCRIPTED_UNDER_TRACE: FrozenSet[str] = frozenset({"torchscript-trace", "onnx-legacy"})
LABEL_PARAM = re.compile(r"(^|_)(labels?|targets?)$|^(start|end)_positions$")

_T = TypeVar("_T")

#: The walker's own report: a call into project code at the depth limit, not followed (not judged).
CALLS_TOO_DEEP = "ML007"


class Scratch:
    """State checks keep for one walk (``FunctionContext.scratch``) or one parsed tree
    (``FileContext.memo``). The engine creates it with the walk or the tree and drops it with them,
    so nothing a check remembers outlives what it was computed from (no ``id()``-keyed tables)."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: Dict[Tuple[object, ...], object] = {}

    def get(self, factory: Callable[[], _T], *key: object) -> _T:
        """The value stored under ``key`` (made by ``factory`` on first use)."""
        if key not in self._slots:
            self._slots[key] = factory()
        return self._slots[key]  # type: ignore[return-value]


@dataclass(frozen=True, **SLOTS)
class Task:
    """Analyse one function under one calling context."""

    func: FunctionRef
    self_class: Optional[str]
    framework: str
    params: Tuple[Tuple[str, Value], ...]
    exempt: FrozenSet[str]
    entry: str  # display name of the entry point that reaches this code
    autograph: bool = False  # TF: converted by AutoGraph (inside tf.function)
    depth: int = 0
    #: reached from an entry point export runs (not a training step): rules decide from it
    exported: bool = True
    #: how the parent built ``self``: constructor arguments (name, literal text or ""); None: unknown
    ctor: Optional[Tuple[Tuple[str, str], ...]] = None
    #: the entry point is a class the configuration or an export call names: the exported model itself,
    #: never a part of a bigger one (``checks.unsupported.torch_constructs.building_block``)
    named: bool = False

    @property
    def key(self) -> Tuple[object, ...]:
        """Everything the walk reads from the task: not the entry point's name (credited afterwards),
        and of the depth only whether this is the entry point itself (the depth limit is the engine's)."""
        return (self.func.qualname, self.self_class, self.framework, self.params, self.exempt, self.autograph,
                self.exported, self.depth == 0, self.ctor, self.named and self.depth == 0)


@dataclass
class RawFinding:
    """A report before positions, severity and message text are resolved."""

    code: str
    node: cst.CSTNode
    top: cst.CSTNode
    stmt: Optional[cst.CSTNode]
    fmt: Dict[str, object]
    exempt: FrozenSet[str]
    entry: Optional[str]
    edits: Tuple[Tuple[cst.CSTNode, str], ...] = ()


@dataclass
class FileContext:
    """One parsed file and what the rules need from it."""

    display: str
    module: cst.Module
    summary: ModuleSummary
    index: ProjectIndex
    findings: List[RawFinding] = field(default_factory=list)
    #: what checks derive from this tree (dropped with it)
    memo: Scratch = field(default_factory=Scratch)
    _functions: Optional[Dict[Tuple[Optional[str], str], Tuple[cst.FunctionDef, cst.CSTNode]]] = None

    def qualify(self, name: Optional[str]) -> Optional[str]:
        return qualify(name, self.summary.aliases)

    def function_node(self, cls: Optional[str], name: str) -> Optional[Tuple[cst.FunctionDef, cst.CSTNode]]:
        if self._functions is None:
            table: Dict[Tuple[Optional[str], str], Tuple[cst.FunctionDef, cst.CSTNode]] = {}
            for stmt in self.module.body:
                if isinstance(stmt, cst.FunctionDef):
                    table[(None, stmt.name.value)] = (stmt, stmt)
                elif isinstance(stmt, cst.ClassDef):
                    for inner in stmt.body.body:
                        if isinstance(inner, cst.FunctionDef):
                            table[(stmt.name.value, inner.name.value)] = (inner, stmt)
            self._functions = table
        return self._functions.get((cls, name))

    def class_nodes(self) -> Iterable[Tuple[cst.ClassDef, ClassSummary]]:
        for stmt in self.module.body:
            if isinstance(stmt, cst.ClassDef) and stmt.name.value in self.summary.classes:
                yield stmt, self.summary.classes[stmt.name.value]

    def report(self, code: str, node: cst.CSTNode, top: cst.CSTNode, stmt: Optional[cst.CSTNode] = None,
               exempt: FrozenSet[str] = frozenset(), entry_point: Optional[str] = None,
               edits: Tuple[Tuple[cst.CSTNode, str], ...] = (), **fmt: object) -> None:
        self.findings.append(RawFinding(code, node, top, stmt, dict(fmt), exempt, entry_point, edits))


class FunctionContext:
    """What a check sees while the walker is inside one function."""

    def __init__(self, file: FileContext, task: Task, node: cst.FunctionDef, top: cst.CSTNode,
                 self_class: Optional[ClassSummary], func: FuncSummary, scratch: Optional[Scratch] = None) -> None:
        self.file = file
        #: what checks keep during this walk (the engine's, dies with the walk)
        self.scratch = scratch if scratch is not None else Scratch()
        self.task = task
        self.node = node
        self.top = top
        self.self_class = self_class
        self.func = func
        self.env: Dict[str, Value] = {}
        self.stmt: Optional[cst.CSTNode] = None
        self.exempt: FrozenSet[str] = task.exempt
        self.loop_depth = 0
        self.loops: List[cst.CSTNode] = []
        self.tests: List[Tuple[cst.BaseExpression, bool]] = []  # enclosing if/while tests, polarity
        #: ``ckpt = self.grad_checkpointing and not torch.jit.is_scripting()``: names holding a guard test
        self.guards: Dict[str, cst.BaseExpression] = {}
        #: (targets where a test is never true, never false): set by the walker (guards.py)
        self.guard_sets: Callable[[cst.BaseExpression], GuardSets] = lambda test: (frozenset(), frozenset())
        self.evaluator = Evaluator(self.env, self.file.qualify, self._self_attr)

    # -- queries for checks ---------------------------------------------------------------
    @property
    def framework(self) -> str:
        return self.task.framework

    @property
    def entry(self) -> str:
        return self.task.entry

    @property
    def index(self) -> ProjectIndex:
        return self.file.index

    def value(self, node: cst.BaseExpression) -> Value:
        return self.evaluator.value(node)

    def kind(self, node: cst.BaseExpression) -> Kind:
        return self.evaluator.value(node).kind

    def qualname(self, node: cst.BaseExpression) -> Optional[str]:
        """Qualified dotted name of an expression (``F.relu`` -> ``torch.nn.functional.relu``)."""
        return self.file.qualify(dotted(node))

    def code(self, node: cst.CSTNode) -> str:
        return code_of(node)

    def report(self, code: str, node: cst.CSTNode, edits: Tuple[Tuple[cst.CSTNode, str], ...] = (),
               also_exempt: FrozenSet[str] = frozenset(), **fmt: object) -> None:
        """Report ``code`` at ``node``; ``also_exempt`` names targets this occurrence does not break.
        A message's ``{entry}`` is the engine's: the entry point the task is finally credited to."""
        self.file.report(code, node, self.top, self.stmt, exempt=self.exempt | also_exempt, edits=edits, **fmt)

    def _self_attr(self, attr: str) -> Value:
        if self.self_class is None:
            return UNKNOWN
        info = self.file.index.attr_of(self.self_class, attr)
        if info is None:
            for c in self.file.index.mro(self.self_class):
                if attr in c.class_attrs:
                    return STATIC
            found = self.file.index.find_method(self.self_class, attr)
            return STATIC if found is None else UNKNOWN
        if info.kind == "module":
            return Value(Kind.MODULE, None, self.file.index.canonical_class(info.cls))
        if info.kind == "module_list":
            return Value(Kind.MODULE_LIST, None, self.file.index.canonical_class(info.cls))
        if info.kind == "tensor":
            if info.constant and not any(a == attr for c in self.file.index.mro(self.self_class)
                                         for a, _ in c.mutated_attrs):
                return Value(Kind.TENSOR, f"self.{attr}", constant=True)
            return TENSOR
        if info.kind == "static":
            return Value(Kind.STATIC, literal=self._attr_literal(attr, info))
        return UNKNOWN

    def _attr_literal(self, attr: str, info: AttrInfo) -> Optional[str]:
        """The constant ``self.<attr>`` holds: a literal, or the constructor argument the parent passed
        (its default when not passed); None when unknown or when another method reassigns it."""
        assert self.self_class is not None
        if any(a == attr for c in self.file.index.mro(self.self_class) for a, _ in c.mutated_attrs):
            return None
        if info.literal is not None or info.param is None or self.task.ctor is None:
            return info.literal
        init = self.file.index.find_method(self.self_class, "__init__")
        owner = next((c for c in self.file.index.mro(self.self_class) if attr in c.attrs), None)
        if init is None or owner is None or init[0] is not owner:
            return None  # stored by a base class's __init__: the arguments may be forwarded changed
        passed = dict(self.task.ctor)
        if info.param in passed:
            return passed[info.param] or None
        param = next((p for p in init[1].params if p.name == info.param), None)
        return param.literal if param is not None and param.default is not None else None


Dispatch = Dict[str, List[Callable[[FunctionContext, cst.CSTNode], None]]]
_EXPR_CHILD = (cst.BaseExpression, cst.Arg, cst.Element, cst.DictElement, cst.StarredElement, cst.StarredDictElement,
               cst.SubscriptElement, cst.Index, cst.Slice, cst.ComparisonTarget, cst.FormattedStringExpression)
ErrorSink = Callable[[object, BaseException], None]


def declared_value(p: ParamSummary) -> Optional[Value]:
    """The value a parameter's annotation gives it (authoritative), or None when it says nothing."""
    kind = annotation_kind(p.annotation)
    if kind is None:
        return None
    return Value(kind, literal=p.literal) if kind == Kind.STATIC else Value(kind)


def param_values(func: FuncSummary, is_method: bool, entry: bool, part: bool = False) -> Tuple[Tuple[str, Value], ...]:
    """Values of an entry point's parameters: tensors unless annotated or defaulted otherwise.

    ``part``: the class is also built inside other models, whose calls bind its parameters
    precisely; as an entry only its first input is assumed a tensor (``forward(self, x, H, W)``)."""
    out = []
    params = func.params[1:] if is_method and func.params else func.params
    for i, p in enumerate(params):
        if p.star in ("*", "**"):
            out.append((p.name, UNKNOWN))
            continue
        # An entry's caller is the user: a default is not the value it is called with (no literal).
        declared = declared_value(p)
        if declared is not None:
            out.append((p.name, replace(declared, literal=None)))
        elif p.annotation:
            out.append((p.name, STATIC if entry else UNKNOWN))
        elif p.default in ("none", "literal"):
            out.append((p.name, STATIC))
        elif p.default == "other":
            out.append((p.name, UNKNOWN))
        else:
            out.append((p.name, TENSOR if entry and (i == 0 or not part) else UNKNOWN))
    return tuple(out)


class Walker:
    """Walks functions for one file; collects raw findings and follow-up tasks."""

    def __init__(self, file: FileContext, dispatch: Dispatch, on_error: ErrorSink, max_depth: int = 8,
                 returns: Optional[Callable[[Task], Optional[Value]]] = None,
                 scratch: Optional[Scratch] = None) -> None:
        self.file = file
        self.scratch = scratch
        self.dispatch = dispatch
        self.on_error = on_error
        self.max_depth = max_depth
        self.returns = returns  # value a project function returns under a context (engine-provided)
        self.new_tasks: List[Task] = []
        self.returned: Optional[Value] = None  # merged value of this function's ``return`` statements

    # -- entry --------------------------------------------------------------------------
    def run(self, task: Task) -> None:
        found = self.file.function_node(task.func.cls, task.func.name)
        if found is None:
            return
        node, top = found
        summary = self.file.summary
        func = (summary.classes[task.func.cls].methods[task.func.name] if task.func.cls
                else summary.functions[task.func.name])
        self_class = self.file.index.resolve_class(task.self_class) if task.self_class else (
            summary.classes.get(task.func.cls) if task.func.cls else None)
        ctx = FunctionContext(self.file, task, node, top, self_class, func, self.scratch)
        for name, value in task.params:
            ctx.env[name] = value
        ctx.evaluator.call_result = lambda call: self._call_value(ctx, call)
        ctx.guard_sets = lambda test: self._guard_exemptions(ctx, test)
        self._emit(ctx, node, "FunctionEntry")
        self._block(ctx, node.body.body if isinstance(node.body, cst.IndentedBlock) else [node.body])

    # -- dispatch -------------------------------------------------------------------------
    def _emit(self, ctx: FunctionContext, node: cst.CSTNode, name: Optional[str] = None) -> None:
        handlers = self.dispatch.get(name or type(node).__name__)
        if not handlers:
            return
        for handler in list(handlers):
            try:
                handler(ctx, node)
            except Exception as exc:  # a crashing rule must not lose other findings
                self.on_error(handler, exc)

    # -- statements ----------------------------------------------------------------------
    def _block(self, ctx: FunctionContext, stmts: Sequence[cst.CSTNode]) -> None:
        for stmt in stmts:
            self._stmt(ctx, stmt)

    def _stmt(self, ctx: FunctionContext, stmt: cst.CSTNode) -> None:
        ctx.stmt = stmt
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._emit(ctx, small)
                self._small(ctx, small)
            return
        self._emit(ctx, stmt)
        if isinstance(stmt, cst.If):
            self._if(ctx, stmt)
        elif isinstance(stmt, (cst.For,)):
            self._expr(ctx, stmt.iter)
            before = dict(ctx.env)
            self._bind_loop_target(ctx, stmt.target, stmt.iter)
            ctx.loops.append(stmt)
            self._block(ctx, stmt.body.body)
            ctx.loops.pop()
            self._merge_into(ctx, before)
            if stmt.orelse is not None:
                self._block(ctx, stmt.orelse.body.body)
        elif isinstance(stmt, cst.While):
            self._expr(ctx, stmt.test)
            before = dict(ctx.env)
            ctx.loops.append(stmt)
            ctx.tests.append((stmt.test, True))
            self._block(ctx, stmt.body.body)
            ctx.tests.pop()
            ctx.loops.pop()
            self._merge_into(ctx, before)
        elif isinstance(stmt, cst.Try) or type(stmt).__name__ == "TryStar":
            self._block(ctx, stmt.body.body)
            for handler in stmt.handlers:
                self._emit(ctx, handler)
                if handler.name is not None and isinstance(handler.name.name, cst.Name):
                    ctx.env[handler.name.name.value] = UNKNOWN
                self._block(ctx, handler.body.body)
            if stmt.orelse is not None:
                self._block(ctx, stmt.orelse.body.body)
            if stmt.finalbody is not None:
                self._block(ctx, stmt.finalbody.body.body)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                self._expr(ctx, item.item)
                if item.asname is not None:
                    self._bind(ctx, item.asname.name, UNKNOWN, None)
            self._block(ctx, stmt.body.body)
        elif isinstance(stmt, cst.FunctionDef):
            ctx.env[stmt.name.value] = STATIC
            if ctx.task.framework == "tensorflow":
                _nested(ctx)[stmt.name.value] = stmt
        elif isinstance(stmt, cst.ClassDef):
            ctx.env[stmt.name.value] = STATIC
        elif isinstance(stmt, cst.Match) if hasattr(cst, "Match") else False:
            self._expr(ctx, stmt.subject)
            for case in stmt.cases:
                self._block(ctx, case.body.body)
        ctx.evaluator.invalidate()

    def _if(self, ctx: FunctionContext, stmt: cst.If) -> None:
        self._expr(ctx, stmt.test)
        truth = static_truth(ctx, stmt.test)
        if truth is not None:  # constants decide it: only the branch taken is in the artifact
            if truth:
                self._block(ctx, stmt.body.body)
            elif isinstance(stmt.orelse, cst.If):
                ctx.stmt = stmt.orelse
                self._emit(ctx, stmt.orelse)
                self._if(ctx, stmt.orelse)
            elif isinstance(stmt.orelse, cst.Else):
                self._block(ctx, stmt.orelse.body.body)
            return
        before = dict(ctx.env)
        saved_exempt = ctx.exempt
        body_exempt, else_exempt = self._guard_exemptions(ctx, stmt.test)
        ctx.exempt = saved_exempt | body_exempt
        narrowed = narrowed_away(ctx, stmt.test)
        for name in narrowed:
            ctx.env[name] = UNKNOWN
        ctx.evaluator.invalidate()
        ctx.tests.append((stmt.test, True))
        self._block(ctx, stmt.body.body)
        ctx.tests.pop()
        for name in narrowed:  # not rebound in the body: the value from before the ``if`` goes on
            if ctx.env.get(name) is UNKNOWN and name in before:
                ctx.env[name] = before[name]
        after_body = dict(ctx.env)
        ctx.env.clear()
        ctx.env.update(before)
        ctx.exempt = saved_exempt | else_exempt
        ctx.tests.append((stmt.test, False))
        if isinstance(stmt.orelse, cst.If):
            ctx.stmt = stmt.orelse
            self._emit(ctx, stmt.orelse)
            self._if(ctx, stmt.orelse)
        elif isinstance(stmt.orelse, cst.Else):
            self._block(ctx, stmt.orelse.body.body)
        ctx.tests.pop()
        ctx.exempt = saved_exempt
        body_returns = ends_with_exit(stmt.body.body)
        else_returns = isinstance(stmt.orelse, cst.Else) and ends_with_exit(stmt.orelse.body.body)
        if body_returns != else_returns:
            # ``if not self.training: return self.inference(x)``, ``if torch.jit.is_scripting(): return``:
            # the rest of the block runs only where the test took the other branch.
            ctx.exempt = saved_exempt | (else_exempt if body_returns else body_exempt)
        if body_returns and not else_returns:
            return  # only the else path continues
        if else_returns and not body_returns:
            ctx.env.clear()
            ctx.env.update(after_body)
            return
        merged = {}
        for name in set(after_body) | set(ctx.env):
            a = after_body.get(name, before.get(name, UNKNOWN))
            b = ctx.env.get(name, before.get(name, UNKNOWN))
            merged[name] = merge(a, b)
        ctx.env.clear()
        ctx.env.update(merged)
        ctx.evaluator.invalidate()

    def _guard_exemptions(self, ctx: FunctionContext, test: cst.BaseExpression) -> Tuple[FrozenSet[str], FrozenSet[str]]:
        """(targets that never run the body, targets that never run the else branch) of ``test``."""
        return guard_sets(test, lambda node: self._guard_leaf(ctx, node))

    def _guard_leaf(self, ctx: FunctionContext, node: cst.BaseExpression) -> Optional[GuardSets]:
        if isinstance(node, cst.Name) and node.value in ctx.guards:
            return guard_sets(ctx.guards[node.value], lambda n: self._guard_leaf(ctx, n))
        if _tests_label_given(ctx, node):
            return TRAINING  # the loss under ``if labels is not None:`` is not in the artifact
        if dotted(node) == "self.training":
            return TRAINING
        if not isinstance(node, cst.Call):
            return None
        found = call_guard(ctx.qualname(node.func))
        if found is not None:
            return found
        callee = self._guard_callee(ctx, node)
        return callee.guard if callee is not None else None

    def _guard_callee(self, ctx: FunctionContext, call: cst.Call) -> Optional[FuncSummary]:
        """The project function or method a test calls (``is_tracing()``, ``self._exporting()``)."""
        name = dotted(call.func)
        if not name:
            return None
        if name.startswith("self.") and name.count(".") == 1 and ctx.self_class is not None:
            found = self.file.index.find_method(ctx.self_class, name[5:])
            return found[1] if found is not None else None
        if "." not in name and name in self.file.summary.functions:
            return self.file.summary.functions[name]
        resolved = self.file.index.resolve(ctx.qualname(call.func))
        if resolved is not None and resolved[0] == "function":
            return resolved[1]  # type: ignore[return-value]
        return None

    def _merge_into(self, ctx: FunctionContext, before: Dict[str, Value]) -> None:
        for name in set(before) | set(ctx.env):
            ctx.env[name] = merge(before.get(name, UNKNOWN), ctx.env.get(name, UNKNOWN)) if name in before else ctx.env[name]
        ctx.evaluator.invalidate()

    def _small(self, ctx: FunctionContext, small: cst.CSTNode) -> None:
        if isinstance(small, cst.Assign):
            self._expr(ctx, small.value)
            for t in small.targets:
                self._target_exprs(ctx, t.target)
            value = ctx.value(small.value)
            never_true, never_false = self._guard_exemptions(ctx, small.value)
            if never_true >= ALL_TARGETS_SET or never_false >= ALL_TARGETS_SET:
                # ``skip = self.training and r < p``: False on every target (``and`` short-circuits)
                value = Value(Kind.STATIC, literal="False" if never_true >= ALL_TARGETS_SET else "True")
            for t in small.targets:
                self._bind(ctx, t.target, value, small.value)
                if isinstance(t.target, cst.Name):
                    if never_true or never_false:
                        ctx.guards[t.target.value] = small.value
                    else:
                        ctx.guards.pop(t.target.value, None)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self._expr(ctx, small.value)
                self._bind(ctx, small.target, ctx.value(small.value), small.value)
        elif isinstance(small, cst.AugAssign):
            self._expr(ctx, small.value)
            self._target_exprs(ctx, small.target)
            if isinstance(small.target, cst.Name):
                old = ctx.env.get(small.target.value, UNKNOWN)
                new = ctx.value(small.value)
                from mllint.analysis.values import _join_kinds
                ctx.env[small.target.value] = _join_kinds(old, new) if old.kind != Kind.UNKNOWN else UNKNOWN
        elif isinstance(small, (cst.Expr, cst.Return, cst.Assert, cst.Raise, cst.Del)):
            for child in child_nodes(small):
                if isinstance(child, cst.BaseExpression):
                    self._expr(ctx, child)
            if isinstance(small, cst.Return):
                value = ctx.value(small.value) if small.value is not None else STATIC
                self.returned = value if self.returned is None else merge(self.returned, value)
        elif isinstance(small, (cst.Import, cst.ImportFrom)):
            from mllint.analysis.names import add_import_aliases
            local: Dict[str, str] = {}
            add_import_aliases(small, local, self.file.summary.module, self.file.summary.is_package)
            for name in local:
                ctx.env[name] = STATIC
            self.file.summary.aliases.update({k: v for k, v in local.items() if k not in self.file.summary.aliases})
        ctx.evaluator.invalidate()

    def _target_exprs(self, ctx: FunctionContext, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Subscript, cst.Attribute)):
            self._expr(ctx, target)

    def _bind(self, ctx: FunctionContext, target: cst.BaseExpression, value: Value, source: Optional[cst.BaseExpression]) -> None:
        if isinstance(target, cst.Name):
            ctx.env[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = [e for e in target.elements]
            src_elems = source.elements if isinstance(source, (cst.Tuple, cst.List)) else None
            for i, el in enumerate(elements):
                if isinstance(el, cst.StarredElement):
                    self._bind(ctx, el.value, UNKNOWN, None)
                    continue
                if src_elems is not None and len(src_elems) == len(elements) and not any(
                        isinstance(s, cst.StarredElement) for s in src_elems):
                    sub = src_elems[i].value
                    self._bind(ctx, el.value, ctx.value(sub), sub)
                elif value.kind == Kind.SHAPE:
                    origin = f"{value.origin}[{i}]" if value.origin else None
                    self._bind(ctx, el.value, Value(Kind.SHAPE, origin, dynamic=value.dynamic or (
                        i in value.dyn_dims and not any(isinstance(e, cst.StarredElement) for e in elements[:i]))), None)
                elif value.kind in (Kind.TENSOR, Kind.STATIC):
                    self._bind(ctx, el.value, Value(value.kind), None)
                elif isinstance(source, cst.Call) and self._tensor_sequence(ctx, source):
                    self._bind(ctx, el.value, TENSOR, None)  # q, k, v = x.chunk(3, dim=-1)
                else:
                    self._bind(ctx, el.value, UNKNOWN, None)
        ctx.evaluator.invalidate()

    @staticmethod
    def _tensor_sequence(ctx: FunctionContext, call: cst.Call) -> bool:
        """``x.chunk(3)``, ``torch.split(x, 2)``, ``x.max(dim=1)``: several tensors."""
        from mllint.analysis.values import returns_sequence

        func = call.func
        if isinstance(func, cst.Attribute) and ctx.kind(func.value) == Kind.TENSOR:
            return returns_sequence(func.attr.value, call)
        q = ctx.qualname(func)
        return q is not None and q.startswith(("torch.", "tensorflow.")) and returns_sequence(q, call)

    def _bind_loop_target(self, ctx: FunctionContext, target: cst.BaseExpression, it: cst.BaseExpression) -> None:
        value = ctx.value(it)
        elem = UNKNOWN
        if value.kind == Kind.TENSOR and value.constant:
            elem = value  # the rows of a construction-time constant are constants too
        elif value.kind in (Kind.TENSOR, Kind.TENSOR_LIST):
            elem = TENSOR
        elif value.kind == Kind.MODULE_LIST:
            elem = Value(Kind.MODULE, None, value.cls)
        elif value.kind == Kind.STATIC:
            elem = STATIC
        elif isinstance(it, cst.Call):
            name = dotted(it.func)
            if name == "range":
                args = [ctx.value(a.value) for a in it.args]
                elem = STATIC if all(a.kind == Kind.STATIC for a in args) else UNKNOWN
            elif name == "enumerate" and it.args:
                inner = ctx.value(it.args[0].value)
                inner_elem = Value(Kind.MODULE, None, inner.cls) if inner.kind == Kind.MODULE_LIST else (
                    inner if inner.kind == Kind.TENSOR and inner.constant else
                    TENSOR if inner.kind in (Kind.TENSOR, Kind.TENSOR_LIST) else UNKNOWN)
                if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
                    self._bind(ctx, target.elements[0].value, STATIC, None)
                    self._bind(ctx, target.elements[1].value, inner_elem, None)
                    return
            elif name == "zip":
                elem = UNKNOWN
        self._bind(ctx, target, elem, None)

    # -- expressions ----------------------------------------------------------------------
    def _expr(self, ctx: FunctionContext, node: cst.CSTNode) -> None:
        self._emit(ctx, node)
        if isinstance(node, cst.Call):
            self._follow_call(ctx, node)
            if isinstance(node.func, cst.Name) and node.func.value in _nested(ctx):
                self._inline(ctx, node, _nested(ctx)[node.func.value])
        if isinstance(node, (cst.Lambda, cst.FunctionDef)):
            return
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            self._comprehension(ctx, node)
            return
        if isinstance(node, cst.IfExp):
            truth = static_truth(ctx, node.test)
            if truth is not None:  # ``x.sigmoid_() if self.inplace else x.sigmoid()`` with inplace=False
                self._expr(ctx, node.test)
                self._expr(ctx, node.body if truth else node.orelse)
                return
            self._expr(ctx, node.test)
            body_exempt, else_exempt = self._guard_exemptions(ctx, node.test)
            self._expr_exempt(ctx, node.body, body_exempt)
            self._expr_exempt(ctx, node.orelse, else_exempt)
            return
        if isinstance(node, cst.BooleanOperation):
            # ``self.training and random() < p``: the right side runs only where the left lets it.
            self._expr(ctx, node.left)
            never_true, never_false = self._guard_exemptions(ctx, node.left)
            self._expr_exempt(ctx, node.right, never_true if isinstance(node.operator, cst.And) else never_false)
            return
        for child in child_nodes(node):
            if isinstance(child, _EXPR_CHILD):
                self._expr(ctx, child)

    def _expr_exempt(self, ctx: FunctionContext, node: cst.CSTNode, exempt: FrozenSet[str]) -> None:
        """Walk ``node`` with ``exempt`` added: targets under which it is never evaluated."""
        saved = ctx.exempt
        ctx.exempt = saved | exempt
        try:
            self._expr(ctx, node)
        finally:
            ctx.exempt = saved

    def _comprehension(self, ctx: FunctionContext, node: cst.CSTNode) -> None:
        saved = dict(ctx.env)
        comp = node.for_in  # type: ignore[attr-defined]
        while comp is not None:
            self._emit(ctx, comp)  # ``visit_CompFor``: each ``for`` clause, before its iterable is walked
            self._expr(ctx, comp.iter)
            self._bind_loop_target(ctx, comp.target, comp.iter)
            for cond in comp.ifs:
                self._expr(ctx, cond.test)
            comp = comp.inner_for_in
        if isinstance(node, cst.DictComp):
            self._expr(ctx, node.key)
            self._expr(ctx, node.value)
        else:
            self._expr(ctx, node.elt)  # type: ignore[attr-defined]
        ctx.env.clear()
        ctx.env.update(saved)
        ctx.evaluator.invalidate()

    def _inline(self, ctx: FunctionContext, call: cst.Call, fn: cst.FunctionDef) -> None:
        """A call of a function defined in the walked one (TensorFlow: keras_hub's ``def fourier_transform``
        inside ``call()``): its body runs in the trace, so it is walked here, its parameters bound to the
        call's values (no starred arguments; at most two levels, never recursively)."""
        active = ctx.scratch.get(list, "walker.inlining")
        if fn in active or len(active) >= 2 or not isinstance(fn.body, cst.IndentedBlock):
            return
        if any(a.star for a in call.args) or fn.params.star_kwarg is not None:
            return
        params = [*fn.params.posonly_params, *fn.params.params]
        bound: Dict[str, Value] = {p.name.value: UNKNOWN if p.default is None else STATIC
                                   for p in [*params, *fn.params.kwonly_params]}
        for i, arg in enumerate(call.args):
            if arg.keyword is not None:
                bound[arg.keyword.value] = ctx.value(arg.value)
            elif i < len(params):
                bound[params[i].name.value] = ctx.value(arg.value)
        saved, stmt, returned = dict(ctx.env), ctx.stmt, self.returned
        active.append(fn)
        try:
            ctx.env.update(bound)
            ctx.evaluator.invalidate()
            self._block(ctx, fn.body.body)
        finally:
            active.pop()
            ctx.env.clear()
            ctx.env.update(saved)
            ctx.stmt, self.returned = stmt, returned  # its ``return`` is not the walked function's
            ctx.evaluator.invalidate()

    # -- calls into project code --------------------------------------------------------------
    def _follow_call(self, ctx: FunctionContext, call: cst.Call) -> None:
        if ctx.task.depth >= self.max_depth:
            self._not_followed(ctx, call)
            return
        task = self.call_task(ctx, call)
        if task is not None:
            self.new_tasks.append(task)

    def _not_followed(self, ctx: FunctionContext, call: cst.Call) -> None:
        """A call into project code at the depth limit is not walked: say so (ML007) rather than let
        whatever it does go unjudged in silence. Part of this walk's own output (cached with it); only
        a rule walk reports it (a return-value walk has no dispatch and never reaches the limit)."""
        if not self.dispatch:
            return
        task = self.call_task(ctx, call, beyond_limit=True)
        if task is None or task.key == ctx.task.key:
            return  # not project code, or a recursive call in the same context: this very walk judges it
        ref = task.func
        callee = f"{ref.cls}.{ref.name}" if ref.cls else ref.name
        ctx.report(CALLS_TOO_DEEP, call, limit=self.max_depth, callee=callee)

    def _call_value(self, ctx: FunctionContext, call: cst.Call) -> Optional[Value]:
        """Value returned by a call into project code, when the engine can tell."""
        if self.returns is None:
            return None
        task = self.call_task(ctx, call)
        return self.returns(task) if task is not None else None

    def call_task(self, ctx: FunctionContext, call: cst.Call, beyond_limit: bool = False) -> Optional[Task]:
        """The task for a call into project code (method, helper, submodule), or None (always None at
        the depth limit, unless ``beyond_limit``: what the call would be, to report it not followed)."""
        if ctx.task.depth >= self.max_depth and not beyond_limit:
            return None
        index = self.file.index
        target: Optional[Tuple[FunctionRef, Optional[str], bool]] = None  # (func, self class, is_method)
        ctor = ctx.task.ctor  # a method of the same object keeps how it was built
        via_layer_call = False  # reached through a submodule's __call__ (not a direct method call)
        func = call.func
        name = dotted(func)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and dotted(func.value.func) == "super":
            if ctx.self_class is not None and ctx.task.func.cls is not None:
                mro = index.mro(ctx.self_class)
                names = [c.name for c in mro]
                start = names.index(ctx.task.func.cls) + 1 if ctx.task.func.cls in names else 1
                for c in mro[start:]:
                    if func.attr.value in c.methods:
                        target = (FunctionRef(index.module_of_class(c), c.name, func.attr.value), ctx.self_class.qualname, True)
                        break
        elif name and name.startswith("self.") and name.count(".") == 1 and ctx.self_class is not None:
            attr = name[5:]
            found = index.find_method(ctx.self_class, attr)
            if found is not None:
                owner, _ = found
                target = (FunctionRef(index.module_of_class(owner), owner.name, attr), ctx.self_class.qualname, True)
            else:
                value = ctx.value(func)
                target = self._module_call_target(value)
                via_layer_call = target is not None
                ctor = self._ctor_of(ctx.self_class, attr) if target is not None else None
        elif isinstance(func, cst.Name) and func.value in ctx.env:
            target = self._module_call_target(ctx.env[func.value])
            via_layer_call = target is not None
            ctor = None
        elif name:
            ctor = None
            q = ctx.qualname(func)
            if q is None and "." not in name and name in self.file.summary.functions:
                q = f"{self.file.summary.module}.{name}" if self.file.summary.module else name
            resolved = index.resolve(q) if q else None
            if resolved is not None and resolved[0] == "function":
                fn: FuncSummary = resolved[1]  # type: ignore[assignment]
                mod = resolved[2]
                summary = index.summaries.get(mod)
                if summary is not None and fn.name in summary.functions and summary.functions[fn.name] is fn:
                    target = (FunctionRef(mod, None, fn.name), None, False)
        if target is None:
            return None
        ref, self_cls, is_method = target
        callee = self._func_summary(ref)
        if callee is None:
            return None
        exempt = ctx.exempt
        if any(d in TORCH_EXEMPT_DECORATORS for d in callee.decorators):
            exempt = exempt | {"torchscript-script"}
        if "torch.jit.script_if_tracing" in callee.decorators:
            exempt = exempt | SCRIPTED_UNDER_TRACE  # tracing scripts it: its branches are kept, not baked
        params = self._bind_args(ctx, callee, call, is_method)
        return Task(ref, self_cls, ctx.task.framework, params, frozenset(exempt), ctx.task.entry,
                    self._callee_autograph(ctx, callee, self_cls, via_layer_call), ctx.task.depth + 1,
                    exported=ctx.task.exported, ctor=ctor)

    def _ctor_of(self, owner: ClassSummary, attr: str) -> Optional[Tuple[Tuple[str, str], ...]]:
        """How ``self.<attr> = Child(...)`` built the child: its arguments by ``__init__`` parameter name."""
        info = self.file.index.attr_of(owner, attr)
        cls = self.file.index.resolve_class(info.cls) if info is not None and info.kind == "module" and info.cls else None
        init = self.file.index.find_method(cls, "__init__") if cls is not None else None
        if info is None or init is None or any(k == "*" for k, _ in info.args):
            return None
        positional = [p.name for p in init[1].params[1:] if p.star == ""]
        out = []
        for key, literal in info.args:
            if key.startswith("#"):
                i = int(key[1:])
                if i >= len(positional):
                    return None
                key = positional[i]
            out.append((key, literal))
        return tuple(sorted(out))

    def _callee_autograph(self, ctx: FunctionContext, callee: FuncSummary, self_cls: Optional[str],
                          via_layer_call: bool) -> bool:
        """AutoGraph converts what a converted function calls, except through a Keras 3 layer's
        ``__call__`` (Keras is on its do-not-convert list); a ``@tf.function`` callee decides for itself."""
        if ctx.task.framework != "tensorflow":
            return ctx.task.autograph
        if callee.tf_function is not None:
            return callee.tf_function.autograph
        if via_layer_call and self_cls:
            cls = self.file.index.resolve_class(self_cls)
            return cls is not None and self.file.index.keras_flavor_of(cls) == "tf_keras"
        return ctx.task.autograph

    def _module_call_target(self, value: Value) -> Optional[Tuple[FunctionRef, Optional[str], bool]]:
        if value.kind != Kind.MODULE or not value.cls:
            return None
        cls = self.file.index.resolve_class(value.cls)
        if cls is None:
            return None
        fw = self.file.index.framework_of(cls)
        method = "forward" if fw == "torch" else "call"
        found = self.file.index.find_method(cls, method)
        if found is None:
            return None
        owner, _ = found
        return (FunctionRef(self.file.index.module_of_class(owner), owner.name, method), cls.qualname, True)

    def _func_summary(self, ref: FunctionRef) -> Optional[FuncSummary]:
        summary = self.file.index.summaries.get(ref.module)
        if summary is None:
            return None
        if ref.cls:
            cls = summary.classes.get(ref.cls)
            return cls.methods.get(ref.name) if cls else None
        return summary.functions.get(ref.name)

    def _bind_args(self, ctx: FunctionContext, callee: FuncSummary, call: cst.Call, is_method: bool) -> Tuple[Tuple[str, Value], ...]:
        params = list(callee.params[1:] if is_method and callee.params else callee.params)
        values: Dict[str, Value] = {}
        positional = [p for p in params if p.star == ""]
        i = 0
        for arg in call.args:
            if arg.star:
                return tuple((p.name, UNKNOWN) for p in params)
            if arg.keyword is not None:
                values[arg.keyword.value] = ctx.value(arg.value)
            elif i < len(positional):
                values[positional[i].name] = ctx.value(arg.value)
                i += 1
        out = []
        for p in params:
            declared = declared_value(p)
            if p.name in values:
                v = values[p.name]
                if declared is not None and (v.kind == Kind.UNKNOWN or v.kind == Kind.TENSOR and declared.kind != Kind.TENSOR):
                    v = declared  # the annotation is authoritative where the call site says less
                out.append((p.name, Value(v.kind, v.origin, v.cls, literal=v.literal, dtype=v.dtype)))
            elif p.star:
                out.append((p.name, UNKNOWN))
            elif p.default in ("none", "literal"):
                out.append((p.name, Value(Kind.STATIC, literal=p.literal)))
            else:
                out.append((p.name, declared or UNKNOWN))
        return tuple(out)


def _nested(ctx: FunctionContext) -> Dict[str, cst.FunctionDef]:
    """Functions defined in the walked function so far, by name (per walk)."""
    return ctx.scratch.get(dict, "walker.nested")


def _tensor_type(framework: str, qualified: Optional[str], raw: str) -> bool:
    """Whether an ``isinstance`` type may be a tensor of ``framework`` (unknown names: assume so)."""
    if qualified is None:
        return any(w in raw for w in ("Tensor", "Variable", "Parameter"))
    if framework == "tensorflow":
        return qualified.startswith(("tensorflow.", "keras.", "tf_keras."))
    return qualified.startswith("torch.") and ("Tensor" in qualified or "Parameter" in qualified)


def narrowed_away(ctx: FunctionContext, test: cst.BaseExpression) -> List[str]:
    """Names that ``isinstance(name, <non-tensor types>)`` (alone or in an ``and``) shows are not
    tensors of this framework inside the ``if`` body: lists, dicts, NumPy arrays, other frameworks."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return narrowed_away(ctx, test.left) + narrowed_away(ctx, test.right)
    if not (isinstance(test, cst.Call) and dotted(test.func) == "isinstance" and len(test.args) == 2):
        return []
    subject, types = test.args[0].value, test.args[1].value
    if not isinstance(subject, cst.Name) or ctx.env.get(subject.value, UNKNOWN).kind != Kind.TENSOR:
        return []
    names = [e.value for e in types.elements] if isinstance(types, (cst.Tuple, cst.List)) else [types]
    for t in names:
        raw = dotted(t)
        if raw is None:
            return []  # unknown types: keep what we know
        q = ctx.qualname(t) if raw not in _BUILTIN_TYPES else raw
        if _tensor_type(ctx.task.framework, q, raw):
            return []
    return [subject.value]


_BUILTIN_TYPES = frozenset({"list", "tuple", "dict", "set", "int", "float", "bool", "str", "bytes", "type"})


def _tests_label_given(ctx: "FunctionContext", test: cst.BaseExpression) -> bool:
    """``labels is not None`` for an optional ``labels`` parameter of this function."""
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.IsNot)):
        return False
    left, right = test.left, test.comparisons[0].comparator
    if not (isinstance(left, cst.Name) and isinstance(right, cst.Name) and right.value == "None"):
        return False
    param = next((p for p in ctx.func.params if p.name == left.value), None)
    return param is not None and param.default == "none" and bool(LABEL_PARAM.search(left.value))


_COMPARE = {cst.Equal: operator.eq, cst.NotEqual: operator.ne, cst.LessThan: operator.lt,
            cst.GreaterThan: operator.gt, cst.LessThanEqual: operator.le, cst.GreaterThanEqual: operator.ge,
            cst.Is: operator.eq, cst.IsNot: operator.ne}


def _literal(ctx: "FunctionContext", node: cst.BaseExpression) -> Tuple[bool, object]:
    """(known, value) of an expression whose value is a literal constant (``'pt'``, ``self.inplace``)."""
    text = ctx.value(node).literal
    if text is None:
        return False, None
    try:
        return True, ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False, None


def static_truth(ctx: "FunctionContext", test: cst.BaseExpression) -> Optional[bool]:
    """The truth of a test that constants decide (``output_type == "np"`` with ``output_type="pt"``)."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = static_truth(ctx, test.expression)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        a, b = static_truth(ctx, test.left), static_truth(ctx, test.right)
        if isinstance(test.operator, cst.And):
            return False if a is False or b is False else (True if a and b else None)
        return True if a is True or b is True else (False if a is False and b is False else None)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        op = _COMPARE.get(type(test.comparisons[0].operator))
        known_a, a = _literal(ctx, test.left)
        known_b, b = _literal(ctx, test.comparisons[0].comparator)
        if op is None or not (known_a and known_b):
            return None
        try:
            return bool(op(a, b))
        except TypeError:
            return None
    known, value = _literal(ctx, test)
    return bool(value) if known else None


def scripting_exits(ctx: "FunctionContext", test: cst.BaseExpression, body_exits: bool, else_exits: bool) -> bool:
    """The branch TorchScript takes under an ``is_scripting()`` test ends with return/raise."""
    negate = False
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        negate, test = not negate, test.expression
    if not (isinstance(test, cst.Call) and ctx.qualname(test.func) == "torch.jit.is_scripting"):
        return False
    return else_exits if negate else body_exits


def ends_with_exit(stmts: Sequence[cst.CSTNode]) -> bool:
    """The block ends with ``return`` / ``raise`` / ``continue`` / ``break``: control does not fall through."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, cst.SimpleStatementLine) and last.body:
        return isinstance(last.body[-1], (cst.Return, cst.Raise, cst.Continue, cst.Break))
    return False


def entry_task(index: ProjectIndex, entry: EntryPoint) -> Optional[Task]:
    summary = index.summaries.get(entry.func.module)
    if summary is None:
        return None
    if entry.func.cls:
        cls = summary.classes.get(entry.func.cls)
        func = cls.methods.get(entry.func.name) if cls else None
    else:
        func = summary.functions.get(entry.func.name)
    if func is None:
        return None
    exempt: FrozenSet[str] = frozenset()
    if any(d in TORCH_EXEMPT_DECORATORS for d in func.decorators):
        exempt = frozenset({"torchscript-script"})
    if "torch.jit.script_if_tracing" in func.decorators:
        exempt = exempt | SCRIPTED_UNDER_TRACE
    owner = index.resolve_class(entry.self_class) if entry.self_class else None
    autograph = entry.framework == "tensorflow" and (
        entry.kind == "tf-function" or any(d == "tensorflow.function" for d in func.decorators)
        or entry.kind == "compiled")
    if func.tf_function is not None and not func.tf_function.autograph:
        autograph = False  # @tf.function(autograph=False)
    elif entry.framework == "tensorflow" and entry.kind == "keras-call":
        flavor = index.keras_flavor_of(owner) if owner is not None else summary.keras_flavor
        if flavor == "tf_keras":
            autograph = True  # tf_keras' Layer.__call__ converts call()
    params = param_values(func, entry.func.cls is not None, entry=True, part=owner is not None and owner.used_as_part)
    if entry.kind == "keras-call" and len(params) > 1:
        # Keras passes the inputs first; further call() arguments are as often Python values
        # (sizes, flags) as tensors, and project callers bind them precisely when they call the layer.
        params = params[:1] + tuple((n, UNKNOWN if v.kind == Kind.TENSOR and not _tensor_annotated(func, n) else v)
                                    for n, v in params[1:])
    if entry.dynamic:
        params = _with_dynamic_dims(params, entry.dynamic)
    return Task(entry.func, entry.self_class, entry.framework, params, exempt, entry.display, autograph,
                exported=is_exported_entry(entry.display))


#: Training-loop functions: traced, but never part of an exported artifact.
TRAINING_NAMES = frozenset({"train_step", "test_step", "predict_step", "distributed_train_step",
                            "distributed_test_step", "eval_step", "train_on_batch", "fit"})


def is_exported_entry(display: str) -> bool:
    """Whether export runs the entry point named ``display`` (not a training step)."""
    name = display.rsplit(".", 1)[-1]
    return name not in TRAINING_NAMES and not name.endswith(("train_step", "test_step"))


def _with_dynamic_dims(params: Tuple[Tuple[str, Value], ...],
                       declared: Tuple[Tuple[str, Tuple[int, ...]], ...]) -> Tuple[Tuple[str, Value], ...]:
    """Mark the tensor parameters an export call declares dynamic (by name or by position)."""
    by_name = dict(declared)
    out = []
    for i, (name, value) in enumerate(params):
        dims = tuple(sorted(set(by_name.get(name, ()) + by_name.get("*", ())))) or by_name.get(f"#{i}")
        strict = by_name.get(f"!{name}") or by_name.get(f"!#{i}") or ()
        out.append((name, replace(value, dyn_dims=dims, strict_dims=strict) if dims and value.kind == Kind.TENSOR
                    else value))
    return tuple(out)


def configured_dynamic_dims(spec: Tuple[Tuple[str, int, Tuple[str, ...]], ...]) -> Tuple[Tuple[str, Tuple[int, ...]], ...]:
    """``dynamic-dims`` as an entry point's declared dims: per input name, and ``*`` for every tensor input."""
    dims: Dict[str, Set[int]] = {}
    for _, dim, inputs in spec:
        for name in inputs or ("*",):
            dims.setdefault(name, set()).add(dim)
    return tuple(sorted((name, tuple(sorted(d))) for name, d in dims.items()))


def _tensor_annotated(func: FuncSummary, name: str) -> bool:
    param = next((p for p in func.params if p.name == name), None)
    return param is not None and annotation_kind(param.annotation) == Kind.TENSOR


__all__ = ["Task", "Scratch", "RawFinding", "FileContext", "FunctionContext", "Walker", "entry_task", "param_values",
           "configured_dynamic_dims",
           "TORCH_TARGETS"]
