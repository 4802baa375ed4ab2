"""Python effects that run once, when TensorFlow traces the code, and are frozen into the artifact
(family: control-flow).

TF104 ``print``, TF105 Python / NumPy randomness and clocks, TF106 ``global`` / ``nonlocal`` and
mutation of module-level containers, TF107 Python state kept on ``self``, TF108 branches on a
``self`` attribute that other methods change.
"""

from __future__ import annotations

from typing import FrozenSet, Iterator, Set

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.values import Kind
from mllint.analysis.walker import FileContext, FunctionContext
from mllint.checks.base import tested_operands
from mllint.checks.tf_scope import TFCheck, exported, lazy_guarded, walk

#: Calls whose value is fixed when the function is traced.
_FROZEN_EXACT = frozenset({
    "time.time", "time.time_ns", "time.perf_counter", "time.perf_counter_ns", "time.monotonic",
    "time.monotonic_ns", "time.process_time", "datetime.datetime.now", "datetime.datetime.utcnow",
    "datetime.datetime.today", "datetime.date.today", "uuid.uuid4", "os.urandom",
})
_FROZEN_PREFIXES = ("random.", "numpy.random.")
_MUTATORS = frozenset({"append", "extend", "insert", "update", "setdefault", "pop", "popitem", "clear", "add",
                       "remove", "discard", "appendleft", "extendleft"})
_CONTAINER_CALLS = frozenset({"list", "dict", "set", "collections.defaultdict", "collections.OrderedDict",
                              "collections.deque", "collections.Counter"})


def _module_containers(fctx: FileContext) -> FrozenSet[str]:
    """Module-level names bound to a list, dict or set (``LOG = []``, ``CACHE = dict()``)."""
    return fctx.memo.get(lambda: _find_containers(fctx), "tf_effects.containers")


def _find_containers(fctx: FileContext) -> FrozenSet[str]:
    names: Set[str] = set()
    for stmt in fctx.module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                targets, value = [t.target for t in small.targets], small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                targets, value = [small.target], small.value
            else:
                continue
            container = isinstance(value, (cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp))
            if isinstance(value, cst.Call):
                q = fctx.qualify(dotted(value.func)) or dotted(value.func)
                container = q in _CONTAINER_CALLS
            if container:
                names.update(t.value for t in targets if isinstance(t, cst.Name))
    return frozenset(names)


class TFTraceTimeEffects(TFCheck):
    """TF104-TF106: effects that happen at trace time only."""

    codes = ("TF104", "TF105", "TF106")

    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        if not exported(ctx):
            return
        func = node.func
        name = dotted(func)
        if name == "print" and "print" not in ctx.env:
            ctx.report("TF104", node, expr=ctx.code(node))
            return
        q = ctx.qualname(func) if name else None
        if q and (q in _FROZEN_EXACT or q.startswith(_FROZEN_PREFIXES)):
            ctx.report("TF105", node, expr=ctx.code(node))
            return
        if isinstance(func, cst.Attribute) and func.attr.value in _MUTATORS and isinstance(func.value, cst.Name):
            target = func.value.value
            if target not in ctx.env and target in _module_containers(ctx.file):
                ctx.report("TF106", node, expr=ctx.code(node))

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        if not exported(ctx):
            return
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
                base = target.value.value
                if base not in ctx.env and base in _module_containers(ctx.file):
                    ctx.report("TF106", target, expr=ctx.code(target))

    def visit_Global(self, ctx: FunctionContext, node: cst.Global) -> None:
        if exported(ctx):
            ctx.report("TF106", node, expr=ctx.code(node))

    def visit_Nonlocal(self, ctx: FunctionContext, node: cst.Nonlocal) -> None:
        if exported(ctx):
            ctx.report("TF106", node, expr=ctx.code(node))


def _self_attr(target: cst.BaseExpression) -> str:
    name = dotted(target) or ""
    return name[5:] if name.startswith("self.") and name.count(".") == 1 else ""


def _tested_operands(test: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """As ``tested_operands``, with the sides of an ordering or equality comparison taken apart."""
    for operand in tested_operands(test):
        if isinstance(operand, cst.Comparison) and not any(
                isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in operand.comparisons):
            yield operand.left
            yield from (c.comparator for c in operand.comparisons)
        else:
            yield operand


class TFPythonState(TFCheck):
    """TF107 Python state written on ``self`` in traced code; TF108 branches on such state."""

    codes = ("TF107", "TF108")

    def visit_AugAssign(self, ctx: FunctionContext, node: cst.AugAssign) -> None:
        attr = _self_attr(node.target)
        if attr and exported(ctx) and ctx.self_class is not None and ctx.kind(node.target) not in (
                Kind.MODULE, Kind.MODULE_LIST):
            ctx.report("TF107", node, expr=ctx.code(node), attr=attr)

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        if not exported(ctx) or ctx.self_class is None:
            return
        for t in node.targets:
            attr = _self_attr(t.target)
            if not attr or lazy_guarded(ctx, attr) or lazy_guarded(ctx):
                continue
            # ``self.n = self.n + 1``: a counter (a flag set once is only a problem when read: TF108).
            reads_itself = any(_self_attr(n) == attr for n in walk(node.value) if isinstance(n, cst.Attribute))
            if reads_itself and ctx.kind(t.target) not in (Kind.MODULE, Kind.MODULE_LIST, Kind.TENSOR):
                ctx.report("TF107", node, expr=ctx.code(node), attr=attr)

    def _check_test(self, ctx: FunctionContext, test: cst.BaseExpression) -> None:
        if not exported(ctx) or ctx.self_class is None:
            return
        mro = ctx.index.mro(ctx.self_class)
        construction = {m for c in mro for m in c.construction_calls}
        mutated = {attr for c in mro for attr, method in c.mutated_attrs if method not in construction}
        for operand in _tested_operands(test):
            if isinstance(operand, cst.Comparison) and any(
                    isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in operand.comparisons):
                continue  # ``if self.v is None:`` (lazy creation), ``if k in self.cache:`` (memoisation)
            attr = _self_attr(operand)
            if not attr or attr not in mutated or attr in ("training", "built", "_built"):
                continue
            if ctx.kind(operand) in (Kind.TENSOR, Kind.MODULE, Kind.MODULE_LIST):
                continue
            ctx.report("TF108", operand, expr=ctx.code(operand), attr=attr)

    def visit_If(self, ctx: FunctionContext, node: cst.If) -> None:
        self._check_test(ctx, node.test)

    def visit_While(self, ctx: FunctionContext, node: cst.While) -> None:
        self._check_test(ctx, node.test)

    def visit_IfExp(self, ctx: FunctionContext, node: cst.IfExp) -> None:
        self._check_test(ctx, node.test)
