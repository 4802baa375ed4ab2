"""PT221 script-branch-type-mismatch: the two branches of a conditional give one value two types.

TorchScript gives every expression and every local one static type, and unifies the branches of a
conditional only when their types agree (or one is ``None``): ``p if self.training else 0`` with ``p = 0.1``
fails to compile ("if-expression's true branch has type float but false branch has type int"), whatever the
condition's value, and so does an ``if`` / ``else`` statement that assigns a name a ``float`` in one branch
and an ``int`` in the other, once the name is read after it ("Type mismatch: s is set to type float in the
true branch and type int in the false branch"). Python, and so tracing and torch.export, never notice. Only
branches whose type mllint knows are judged: literals, ``self`` attributes the constructor sets to a number,
and, in statements, tensors.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set

import libcst as cst

from mllint.analysis.walker import FunctionContext, ends_with_exit
from mllint.checks.base import Check
from mllint.checks.unsupported.pt_script_typing import (
    StatementMap,
    number_type,
    read_after,
    script_type,
    static_test,
)
from mllint.checks.unsupported.torch_constructs import EMITTER, report


def _fix(name: str, body: str, orelse: str, int_side: str) -> str:
    if {body, orelse} == {"int", "float"}:
        return f"write `{int_side}` as a float"
    return f"give `{name}` one type in both branches"


def _assigned(ctx: FunctionContext, stmts: Sequence[cst.CSTNode]) -> Dict[str, Optional[cst.Assign]]:
    """Names a branch binds, with the plain ``name = value`` that binds each last at the branch's own level
    (None when a nested statement or an unpacking binds it afterwards: its type is not judged)."""
    out: Dict[str, Optional[cst.Assign]] = {}
    for stmt in stmts:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign):
                    for t in small.targets:
                        if isinstance(t.target, cst.Name):
                            out[t.target.value] = small
                        else:
                            for n in _target_names(t.target):
                                out[n] = None
                elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                    for n in _target_names(small.target):
                        out[n] = None
        else:
            for n in _bound_inside(stmt):
                out[n] = None
    return out


def _target_names(target: cst.CSTNode) -> Sequence[str]:
    found: List[str] = []
    stack = [target]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            found.append(n.value)
        elif isinstance(n, (cst.Tuple, cst.List)):
            stack.extend(e.value for e in n.elements)
        elif isinstance(n, cst.StarredElement):
            stack.append(n.value)
    return found


def _bound_inside(stmt: cst.CSTNode) -> Sequence[str]:
    """Every name a compound statement binds anywhere inside (assignment targets, loop and ``with`` targets)."""
    found: List[str] = []
    stack = [stmt]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.AssignTarget,)):
            found.extend(_target_names(n.target))
        elif isinstance(n, (cst.AnnAssign, cst.AugAssign, cst.For)):
            found.extend(_target_names(n.target))
        elif isinstance(n, cst.AsName):
            found.extend(_target_names(n.name))
        elif isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(n.children)
    return found


class ScriptBranchTypeMismatch(Check):
    """PT221: ``a if c else b`` or an ``if`` / ``else`` whose branches give a value two types TorchScript cannot
    unify."""

    codes = ("PT221",)
    frameworks = ("torch",)

    def visit_IfExp(self, ctx: FunctionContext, node: cst.IfExp) -> None:
        body, orelse = number_type(ctx, node.body), number_type(ctx, node.orelse)
        if body is not None and orelse is not None and body != orelse:
            int_side = ctx.code(node.orelse if orelse == "int" else node.body)
            ctx.report(
                "PT221",
                node,
                what=f"`{ctx.code(node)}`",
                body=body,
                orelse=orelse,
                fix=f"write `{int_side}` as a float",
            )

    def visit_If(self, ctx: FunctionContext, node: cst.If) -> None:
        """The statement form: both branches bind a name, with types that differ, and the name is read after."""
        if not isinstance(node.orelse, cst.Else) or static_test(ctx, node.test):
            return  # an ``elif`` chain is judged at its last ``if``, whose branches are both blocks
        if ends_with_exit(node.body.body) or ends_with_exit(node.orelse.body.body):
            return  # the branch that leaves is not merged
        top = _outermost(ctx, node)
        if top is not node and static_test(ctx, top.test):
            return
        body, orelse = _assigned(ctx, node.body.body), _assigned(ctx, node.orelse.body.body)
        for name in sorted(set(body) & set(orelse)):
            a, b = body[name], orelse[name]
            if a is None or b is None or name in ctx.env:
                continue  # bound before the ``if``: a retyping in a block (PT222)
            ta, tb = _type_in_branch(ctx, a, node.body.body), _type_in_branch(ctx, b, node.orelse.body.body)
            if ta is None or tb is None or ta == tb or "None" in (ta, tb):
                continue
            if not read_after(ctx, top, name):
                continue  # TorchScript reports the mismatch only where the name is used
            int_side = ctx.code(b.value if tb == "int" else a.value)
            report(
                ctx,
                "PT221",
                node,
                EMITTER,
                what=f"`{name}`, assigned in both branches and read after the `if`,",
                body=ta,
                orelse=tb,
                fix=_fix(name, ta, tb, f"{name} = {int_side}"),
            )


def _type_in_branch(ctx: FunctionContext, assign: cst.Assign, stmts: Sequence[cst.CSTNode]) -> Optional[str]:
    """The type of the value a branch's last assignment gives; only literals and ``self`` numbers (the branch
    has not been walked yet, so the local names it uses have no values here), and tensors built from names
    bound before the ``if``."""
    local: Set[str] = set()
    for stmt in stmts:
        if isinstance(stmt, cst.SimpleStatementLine) and any(s is assign for s in stmt.body):
            break
        local.update(
            _bound_inside(stmt)
            if not isinstance(stmt, cst.SimpleStatementLine)
            else [
                n
                for s in stmt.body
                if isinstance(s, (cst.Assign, cst.AnnAssign, cst.AugAssign))
                for t in (s.targets if isinstance(s, cst.Assign) else [s])
                for n in _target_names(t.target)
            ]
        )
    if any(isinstance(n, cst.Name) and n.value in local for n in _all_names(assign.value)):
        return None
    return script_type(ctx, assign.value)


def _all_names(node: cst.CSTNode) -> Sequence[cst.Name]:
    found: List[cst.Name] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            found.append(n)
        stack.extend(n.children)
    return found


def _outermost(ctx: FunctionContext, node: cst.If) -> cst.If:
    """The ``if`` that starts the ``elif`` chain ``node`` ends."""
    smap = StatementMap.of(ctx)
    current = node
    while True:
        path = smap.path.get(current)
        if not path:
            return current
        parent, part = path[-1]
        if isinstance(parent, cst.If) and part == "orelse" and parent.orelse is current:
            current = parent
        else:
            return current
