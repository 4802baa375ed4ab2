"""Python control flow on tensors: what AutoGraph converts, what it rejects, and code it never
sees (family: control-flow).

TF109 tensor-dependent ``if`` / ``while`` / ``for`` where AutoGraph does not convert the code (Keras 3
``call()``, ``tf.function(autograph=False)``); in converted code: TF110 ``return`` in a tensor loop,
TF111 a name defined in one branch of a tensor ``if``, TF112 a ``None`` default set in one branch,
TF113 ``list.append`` in a tensor loop, TF114 a loop variable that grows (``tf.concat``); and TF115
``try`` / ``except`` meant to catch graph errors.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from mllint.analysis.names import child_nodes, dotted
from mllint.analysis.values import Kind
from mllint.analysis.walker import FunctionContext, ends_with_exit
from mllint.checks.base import BranchTests, tested_operands
from mllint.checks.tf_scope import (
    TFCheck, assigned_names, dynamic_ops_size, exported, is_tensor, possibly_a_list, tensor_loop, walk,
)

_CONCAT = frozenset({"tensorflow.concat", "keras.ops.concatenate", "keras.ops.append", "tensorflow.keras.ops.concatenate",
                     "tensorflow.experimental.numpy.append", "tensorflow.experimental.numpy.concatenate",
                     "keras.src.ops.concatenate", "keras.src.ops.append"})
_VALIDATION_PREFIXES = ("tensorflow.debugging.", "tensorflow.Assert", "tensorflow.assert_", "tensorflow.compat.v1.assert_")


class TFUnconvertedControlFlow(BranchTests, TFCheck):
    """TF109: a Python ``if``/``while``/``for`` on a tensor in code AutoGraph does not convert."""

    codes = ("TF109",)

    @staticmethod
    def _in_tests(ctx: FunctionContext) -> Set[cst.CSTNode]:
        return ctx.scratch.get(set, "TF109.in_tests")

    def _applies(self, ctx: FunctionContext) -> bool:
        return not ctx.task.autograph and exported(ctx)

    def check_test(self, ctx: FunctionContext, test: cst.BaseExpression, construct: str) -> None:
        stack: List[cst.CSTNode] = [test]
        in_tests = self._in_tests(ctx)
        while stack:
            n = stack.pop()
            if isinstance(n, (cst.BooleanOperation, cst.UnaryOperation)):
                in_tests.add(n)
                stack.extend(child_nodes(n))
        if not self._applies(ctx):
            return
        for operand in tested_operands(test):
            if is_tensor(ctx, operand):
                ctx.report("TF109", operand, construct=construct, expr=ctx.code(operand))

    def visit_BooleanOperation(self, ctx: FunctionContext, node: cst.BooleanOperation) -> None:
        if node not in self._in_tests(ctx):
            self.check_test(ctx, node.left, node.operator.__class__.__name__.lower())

    def visit_For(self, ctx: FunctionContext, node: cst.For) -> None:
        self._loop(ctx, node.iter)

    def visit_CompFor(self, ctx: FunctionContext, node: cst.CompFor) -> None:
        """``[... for t in range(ops.shape(x)[1])]``: the same Python loop, in a comprehension."""
        self._loop(ctx, node.iter)

    def _loop(self, ctx: FunctionContext, it: cst.BaseExpression) -> None:
        if not self._applies(ctx):
            return
        if is_tensor(ctx, it):
            ctx.report("TF109", it, construct="for", expr=ctx.code(it))
        elif isinstance(it, cst.Call) and dotted(it.func) == "range":
            for arg in it.args:
                if ctx.kind(arg.value) == Kind.TENSOR and not possibly_a_list(ctx, arg.value):
                    ctx.report("TF109", arg.value, construct="for ... in range", expr=ctx.code(arg.value))
                    return
                if dynamic_ops_size(ctx, arg.value):  # ``keras.ops.shape(x)[0]``: a tensor when the dim is dynamic
                    ctx.report("TF109", arg.value, construct="for ... in range", expr=ctx.code(arg.value))
                    return


# -- where names are used after a statement ------------------------------------------------------------
Position = Tuple[Sequence[cst.CSTNode], int, Optional[cst.CSTNode]]  # block, index, enclosing statement


def _positions(fn: cst.FunctionDef) -> Dict[cst.CSTNode, Position]:
    """For every statement of ``fn``: its block, its index there and the statement that holds the block."""
    table: Dict[cst.CSTNode, Position] = {}

    def block(stmts: Sequence[cst.CSTNode], owner: Optional[cst.CSTNode]) -> None:
        for i, stmt in enumerate(stmts):
            table[stmt] = (stmts, i, owner)
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            if isinstance(stmt, cst.If):
                chain: Optional[cst.CSTNode] = stmt
                while isinstance(chain, cst.If):
                    table[chain] = (stmts, i, owner)
                    block(chain.body.body, stmt)
                    chain = chain.orelse
                if isinstance(chain, cst.Else):
                    block(chain.body.body, stmt)
                continue
            if isinstance(stmt, cst.BaseCompoundStatement):
                for part in (stmt, getattr(stmt, "orelse", None), getattr(stmt, "finalbody", None),
                             *getattr(stmt, "handlers", ())):
                    body = getattr(part, "body", None) if part is not None else None
                    if isinstance(body, cst.IndentedBlock):
                        block(body.body, stmt)

    if isinstance(fn.body, cst.IndentedBlock):
        block(fn.body.body, None)
    return table


def _names_loaded(nodes: Sequence[cst.CSTNode]) -> Set[str]:
    out: Set[str] = set()
    for node in nodes:
        if isinstance(node, cst.Name):
            out.add(node.value)
        for n in walk(node):
            if isinstance(n, cst.Name):
                out.add(n.value)
    return out


def _is_list_value(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.List, cst.ListComp)):
        return True
    return isinstance(node, cst.Call) and dotted(node.func) == "list"


class TFAutoGraphLimits(TFCheck):
    """TF110-TF115: Python that AutoGraph cannot turn into graph control flow."""

    codes = ("TF110", "TF111", "TF112", "TF113", "TF114", "TF115")

    @staticmethod
    def _none(ctx: FunctionContext) -> Set[str]:
        """Names whose last assignment in this walk is None."""
        return ctx.scratch.get(set, "TF112.none")

    @staticmethod
    def _lists(ctx: FunctionContext) -> Set[str]:
        """Names this walk binds to a Python list."""
        return ctx.scratch.get(set, "TF113.lists")

    def _converted(self, ctx: FunctionContext) -> bool:
        return ctx.task.autograph and exported(ctx)

    # -- bookkeeping of None defaults and Python lists ------------------------------------------
    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        nones = self._none(ctx)
        lists = self._lists(ctx)
        for t in node.targets:
            if isinstance(t.target, cst.Name):
                name = t.target.value
                nones.discard(name)
                lists.discard(name)
                if isinstance(node.value, cst.Name) and node.value.value == "None":
                    nones.add(name)
                elif _is_list_value(node.value):
                    lists.add(name)
        if self._converted(ctx):
            self._growing(ctx, node)

    # -- TF110: return inside a tensor loop ------------------------------------------------------
    def _loop(self, ctx: FunctionContext, node: cst.CSTNode) -> None:
        if not self._converted(ctx) or not tensor_loop(ctx, node):
            return
        for n in walk(node.body):  # type: ignore[attr-defined]
            if isinstance(n, cst.Return):
                ctx.report("TF110", n, loop=ctx.code(node.iter if isinstance(node, cst.For) else node.test))  # type: ignore[attr-defined]

    def visit_For(self, ctx: FunctionContext, node: cst.For) -> None:
        self._loop(ctx, node)

    def visit_While(self, ctx: FunctionContext, node: cst.While) -> None:
        self._loop(ctx, node)

    # -- TF111 / TF112: names set in one branch of a tensor if ----------------------------------
    def visit_If(self, ctx: FunctionContext, node: cst.If) -> None:
        if not self._converted(ctx) or ctx.kind(node.test) not in (Kind.TENSOR, Kind.DATA):
            return
        body = assigned_names(node.body)
        other = assigned_names(node.orelse) if node.orelse is not None else set()
        if not (body ^ other):
            return
        later = self._used_after(ctx, node)
        nones = self._none(ctx)
        for name, exits in ([(n, ends_with_exit(node.body.body)) for n in sorted(body - other)]
                            + [(n, isinstance(node.orelse, cst.Else) and ends_with_exit(node.orelse.body.body))
                               for n in sorted(other - body)]):
            if exits or name not in later:
                continue
            if name in nones:
                ctx.report("TF112", node.test, name=name, expr=ctx.code(node.test))
            elif name not in ctx.env:
                ctx.report("TF111", node.test, name=name, expr=ctx.code(node.test))

    def _used_after(self, ctx: FunctionContext, node: cst.CSTNode) -> Set[str]:
        table = ctx.file.memo.get(lambda: _positions(ctx.node), "tf_autograph.positions", ctx.node)
        later: List[cst.CSTNode] = []
        current: Optional[cst.CSTNode] = node
        while current is not None and current in table:
            stmts, i, owner = table[current]
            later.extend(stmts[i + 1:])
            if isinstance(owner, (cst.For, cst.While)):
                later.append(owner)  # the next iteration reads it too
            current = owner
        return _names_loaded(later)

    # -- TF113: list.append in a tensor loop -----------------------------------------------------
    def visit_Call(self, ctx: FunctionContext, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "append" and isinstance(func.value, cst.Name)):
            return
        name = func.value.value
        if name not in self._lists(ctx) or not self._converted(ctx):
            return
        for loop in reversed(ctx.loops):
            if tensor_loop(ctx, loop) and name not in assigned_names(loop.body):  # type: ignore[attr-defined]
                ctx.report("TF113", node, name=name, expr=ctx.code(node))
                return

    # -- TF114: a loop variable that grows each iteration ---------------------------------------
    def _growing(self, ctx: FunctionContext, node: cst.Assign) -> None:
        value = node.value
        if not isinstance(value, cst.Call) or ctx.qualname(value.func) not in _CONCAT or not value.args:
            return
        first = value.args[0].value
        if not isinstance(first, (cst.List, cst.Tuple)):
            return
        parts = {e.value.value for e in first.elements if isinstance(e.value, cst.Name)}
        targets = {t.target.value for t in node.targets if isinstance(t.target, cst.Name)}
        grown = parts & targets
        if not grown:
            return
        for loop in reversed(ctx.loops):
            if not tensor_loop(ctx, loop):
                continue
            if any(ctx.qualname(n.func) == "tensorflow.autograph.experimental.set_loop_options"
                   for n in walk(loop.body) if isinstance(n, cst.Call)):  # type: ignore[attr-defined]
                return
            ctx.report("TF114", value, name=sorted(grown)[0], expr=ctx.code(value))
            return

    # -- TF115: try/except around graph errors ----------------------------------------------------
    def visit_Try(self, ctx: FunctionContext, node: cst.Try) -> None:
        if not exported(ctx):
            return
        calls = [ctx.qualname(n.func) or "" for n in walk(node.body) if isinstance(n, cst.Call)]
        tf_ops = [q for q in calls if q.startswith(("tensorflow.", "keras.ops.", "keras.src.ops."))]
        validation = [q for q in calls if q.startswith(_VALIDATION_PREFIXES) or q.endswith("check_numerics")]
        if not tf_ops:
            return
        for handler in node.handlers:
            types = self._handler_types(ctx, handler)
            graph_errors = any(t.startswith("tensorflow.errors.") for t in types)
            broad = not types or any(t in ("Exception", "BaseException") for t in types)
            if graph_errors or (broad and validation):
                ctx.report("TF115", handler, handler=ctx.code(handler.type) if handler.type is not None else "except")
                return

    @staticmethod
    def _handler_types(ctx: FunctionContext, handler: cst.ExceptHandler) -> List[str]:
        if handler.type is None:
            return []
        exprs = [e.value for e in handler.type.elements] if isinstance(handler.type, cst.Tuple) else [handler.type]
        out = []
        for e in exprs:
            name = dotted(e)
            if name:
                out.append(ctx.qualname(e) or name)
        return out
