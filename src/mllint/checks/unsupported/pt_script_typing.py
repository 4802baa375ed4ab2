"""PT222 script-variable-retyped-in-block and PT223 script-return-type-mismatch, with the helpers PT221 shares.

TorchScript gives every local one static type. A name bound before an ``if`` / ``for`` / ``while`` keeps that
type inside the block: assigning it a value of another type there fails to compile ("Variable 's' previously had
type NoneType but is now being assigned to a value of type Tensor"), whether or not the name is read later. A
function's return annotation is checked against every ``return`` ("Return value was annotated as having type
int but is actually of type float"). Python, tracing and torch.export never look at either.

Only values whose TorchScript type mllint knows are judged (literals, ``None``, tensors, tuple / list / dict
displays), and only blocks TorchScript really compiles as blocks: a test it can decide while compiling (``is
None``, ``hasattr``, ``isinstance``, ``torch.jit.is_scripting()``, a ``Final`` attribute, a global) makes it
compile the taken branch inline, where rebinding is allowed, so those blocks are left alone.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterator, List, Optional, Sequence, Set, Tuple

import ast
import functools

import libcst as cst

from mllint.analysis.names import child_nodes, dotted
from mllint.analysis.values import Kind, code_of
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check
from mllint.checks.unsupported.torch_constructs import EMITTER, SCRIPT, report

#: (old type, new type) pairs TorchScript accepts in a nested block: a number variable takes a Tensor or a bool
#: (measured, tests/test_script_typing_facts.py); every other change of type fails.
_ACCEPTED_RETYPES = frozenset({("int", "Tensor"), ("float", "Tensor"), ("int", "bool"), ("float", "bool")})
_NUMBERS = ("int", "float")
_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide)
#: Calls whose value TorchScript knows while compiling (``torch.jit.is_scripting()``): it compiles one branch
#: inline.
_STATIC_CALLS = frozenset({"hasattr", "isinstance", "callable"})
_STATIC_PREFIXES = ("torch.jit.", "torch.compiler.", "torch._C.", "torch._dynamo.", "torch.onnx.")


def number_type(ctx: FunctionContext, node: cst.BaseExpression) -> Optional[str]:
    """``int`` / ``float`` for a numeric literal (signed) or a value whose literal mllint knows, else None."""
    inner = (
        node.expression
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus))
        else node
    )
    if isinstance(inner, cst.Integer):
        return "int"
    if isinstance(inner, cst.Float):
        return "float"
    value = ctx.value(node)
    if value.kind != Kind.STATIC or value.literal is None:
        return None
    try:
        literal = ast.literal_eval(value.literal)
    except (ValueError, SyntaxError):
        return None
    if isinstance(literal, bool):
        return None
    return "int" if isinstance(literal, int) else "float" if isinstance(literal, float) else None


def literal_type(node: cst.BaseExpression) -> Optional[str]:
    """TorchScript's type for a literal or display: ``int``, ``float``, ``bool``, ``str``, ``None``, ``Tuple``,
    ``List``, ``Dict``; None when it is not one."""
    inner = (
        node.expression
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus))
        else node
    )
    if isinstance(inner, cst.Integer):
        return "int"
    if isinstance(inner, cst.Float):
        return "float"
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return "bool"
    if isinstance(node, cst.Name) and node.value == "None":
        return "None"
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return "str"
    if (
        isinstance(node, cst.Tuple)
        and node.elements
        and not any(isinstance(e, cst.StarredElement) for e in node.elements)
    ):
        return "Tuple"
    if isinstance(node, cst.List):
        return "List"
    if isinstance(node, cst.Dict):
        return "Dict"
    return None


def script_type(ctx: FunctionContext, node: cst.BaseExpression) -> Optional[str]:
    """The TorchScript type of ``node`` when mllint knows it: a literal's, a ``self`` number attribute's
    (``self.p = 0.1``), or ``Tensor`` for a value mllint tracks as a tensor; None when unknown."""
    found = literal_type(node)
    if found is not None:
        return found
    number = number_type(ctx, node)
    if number is not None:
        return number
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _ARITHMETIC):
        left, right = script_type(ctx, node.left), script_type(ctx, node.right)
        if left in _NUMBERS and right in _NUMBERS:  # TorchScript's number arithmetic: ``/`` gives a float
            return "float" if "float" in (left, right) or isinstance(node.operator, cst.Divide) else "int"
    if isinstance(
        node,
        (cst.Call, cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.Name, cst.Subscript, cst.Attribute),
    ):
        try:
            value = ctx.value(node)
        except Exception:  # noqa: BLE001 - an expression mllint cannot evaluate is not evidence
            return None
        if value.kind == Kind.TENSOR:
            return "Tensor"
    return None


def static_test(ctx: FunctionContext, test: cst.BaseExpression) -> bool:
    """Whether TorchScript may decide ``test`` while compiling (then it compiles only one branch, inline).

    ``x is None`` on a value whose type is not ``Optional``, ``hasattr`` / ``isinstance``, TorchScript's own
    queries, ``Final`` / ``__constants__`` attributes and globals are all decided at compile time; names of the
    function (parameters, locals) and other ``self`` attributes are not.
    """
    constants = _class_constants(ctx)
    stack: List[cst.CSTNode] = [test]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Comparison) and any(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in n.comparisons):
            if not (isinstance(n.left, cst.Name) and _optional_param(ctx, n.left.value)):
                return True
        if isinstance(n, cst.Call):
            name = dotted(n.func) or ""
            q = ctx.qualname(n.func) or name
            if name in _STATIC_CALLS or q.startswith(_STATIC_PREFIXES):
                return True
        if isinstance(n, cst.Name) and n.value not in ("True", "False", "None") and n.value not in ctx.env:
            return True  # a global or a builtin: a constant to TorchScript
        if isinstance(n, cst.Attribute):
            attr = dotted(n)
            if (
                attr is not None
                and attr.startswith("self.")
                and (constants is None or "*" in constants or attr[5:].split(".")[0] in constants)
            ):
                return True
            if attr is not None and attr.startswith("self."):
                continue
            if attr is not None and not attr.startswith("self."):
                stack.append(n.value)
                continue
        if isinstance(n, (cst.Lambda, cst.FunctionDef)):
            continue
        stack.extend(child_nodes(n))
    return False


def _optional_param(ctx: FunctionContext, name: str) -> bool:
    """A parameter annotated ``Optional[...]`` (or ``X | None``): ``is None`` on it is decided at run time."""
    for p in ctx.func.params:
        if p.name == name:
            text = p.annotation or ""
            return "Optional" in text or "None" in text
    return False


def _class_constants(ctx: FunctionContext) -> Optional[FrozenSet[str]]:
    """Attribute names the model class declares constant (``Final``, ``__constants__``; ``"*"``: any may be);
    None when the class's source is not in this file (any ``self`` attribute may then be one)."""
    if ctx.self_class is None:
        return frozenset()
    names: Set[str] = set()
    for cls in ctx.index.mro(ctx.self_class):
        if ctx.index.module_of_class(cls) != ctx.file.summary.module:
            return None  # a project base class in another file: its declarations are not read here
        node = next((c for c, summary in ctx.file.class_nodes() if summary is cls), None)
        if node is None:
            return None
        names |= ctx.file.memo.get(functools.partial(_constants_of, node), "PT222.constants", cls.name)
    return frozenset(names)


def _constants_of(cls: cst.ClassDef) -> FrozenSet[str]:
    names: Set[str] = set()
    stack: List[cst.CSTNode] = [cls.body]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.AnnAssign) and "Final" in code_of(n.annotation.annotation):
            names.add((dotted(n.target) or "").split(".")[-1])
        if isinstance(n, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and "__constants__" in code_of(n):
            names.add("*")
        stack.extend(child_nodes(n))
    return frozenset(names)


# -- where each statement sits: the blocks that enclose it ---------------------------------------------
#: One enclosing block: (the compound statement, which part: "body", "orelse", "handler0", ...).
Block = Tuple[cst.CSTNode, str]


class StatementMap:
    """Per function: for each statement, the chain of blocks around it, and the statements of every block."""

    def __init__(self, fn: cst.FunctionDef) -> None:
        self.path: Dict[cst.CSTNode, Tuple[Block, ...]] = {}
        self.place: Dict[cst.CSTNode, Tuple[Sequence[cst.CSTNode], int]] = {}
        body = fn.body.body if isinstance(fn.body, cst.IndentedBlock) else []
        self._block(body, ())

    def _block(self, stmts: Sequence[cst.CSTNode], path: Tuple[Block, ...]) -> None:
        for i, stmt in enumerate(stmts):
            self.path[stmt] = path
            self.place[stmt] = (stmts, i)
            for part, block in _parts(stmt):
                self._block(block, path + ((stmt, part),))

    @staticmethod
    def of(ctx: FunctionContext) -> "StatementMap":
        return ctx.scratch.get(lambda: StatementMap(ctx.node), "PT222.statements")


def _parts(stmt: cst.CSTNode) -> Iterator[Tuple[str, Sequence[cst.CSTNode]]]:
    """The blocks of a compound statement (an ``elif`` is the ``else`` part holding one ``If``)."""
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef, cst.SimpleStatementLine)):
        return
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        yield "body", body.body
    for k, handler in enumerate(getattr(stmt, "handlers", ())):
        yield f"handler{k}", handler.body.body
    for extra in ("orelse", "finalbody"):
        part = getattr(stmt, extra, None)
        if isinstance(part, cst.If):
            yield extra, [part]
        elif part is not None and isinstance(getattr(part, "body", None), cst.IndentedBlock):
            yield extra, part.body.body


def _loads(node: cst.CSTNode, name: str) -> bool:
    """``name`` is read somewhere in ``node`` (an expression or a statement's expressions)."""
    stack: List[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name) and n.value == name:
            return True
        if isinstance(n, cst.Attribute):
            stack.append(n.value)  # ``obj.name`` does not read ``name``
            continue
        if isinstance(n, cst.Arg):
            stack.append(n.value)  # nor does ``f(name=...)``
            continue
        stack.extend(child_nodes(n))
    return False


def _first_use(stmts: Sequence[cst.CSTNode], name: str, nested: bool) -> Optional[str]:
    """How the first statement of ``stmts`` that mentions ``name`` uses it: "read", "store" (a plain rebinding
    before any read, at this level), "unknown" (bound in a nested block first); None if none mentions it."""
    for stmt in stmts:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign):
                    if _loads(small.value, name):
                        return "read"
                    if any(isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets):
                        return "unknown" if nested else "store"
                    if any(_loads(t.target, name) for t in small.targets):
                        return "unknown"  # unpacked or stored into: not judged
                elif (
                    isinstance(small, cst.AnnAssign)
                    and isinstance(small.target, cst.Name)
                    and small.target.value == name
                ):
                    return "unknown"
                elif _loads(small, name):
                    return "read"
            continue
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            if _loads(stmt, name):
                return "unknown"
            continue
        heads = [getattr(stmt, a) for a in ("test", "iter") if getattr(stmt, a, None) is not None]
        heads += [item.item for item in getattr(stmt, "items", ())]
        if any(_loads(h, name) for h in heads):
            return "read"
        target = getattr(stmt, "target", None)
        if target is not None and _loads(target, name):
            return "unknown"
        for _, block in _parts(stmt):
            found = _first_use(block, name, True)
            if found is not None:
                return found
    return None


def read_after(ctx: FunctionContext, stmt: cst.CSTNode, name: str) -> bool:
    """``name`` is read after ``stmt`` (an ``if``), before a plain rebinding: in the rest of its block, then in
    the rest of each enclosing block (an enclosing loop's next iteration is not looked at)."""
    smap = StatementMap.of(ctx)
    while stmt in smap.place:
        stmts, i = smap.place[stmt]
        found = _first_use(stmts[i + 1 :], name, False)
        if found is not None:
            return found == "read"
        path = smap.path[stmt]
        if not path:
            return False
        stmt = path[-1][0]
        if isinstance(stmt, (cst.For, cst.While)):
            return False
    return False


# -- PT222 ----------------------------------------------------------------------------------------
class _Binding:
    __slots__ = ("type", "path", "stmt")

    def __init__(self, type_: Optional[str], path: Tuple[Block, ...], stmt: cst.CSTNode) -> None:
        self.type, self.path, self.stmt = type_, path, stmt


def _under(path: Tuple[Block, ...], outer: Tuple[Block, ...]) -> bool:
    return len(path) >= len(outer) and all(a[0] is b[0] and a[1] == b[1] for a, b in zip(path, outer))


class ScriptTyping(Check):
    """PT222: a name given another type inside a block; PT223: a ``return`` its annotation contradicts."""

    codes = ("PT222", "PT223")
    frameworks = ("torch",)

    @staticmethod
    def _bindings(ctx: FunctionContext) -> Dict[str, _Binding]:
        return ctx.scratch.get(dict, "PT222.bindings")

    def _bind(self, ctx: FunctionContext, name: str, type_: Optional[str], node: cst.CSTNode) -> None:
        """Record a binding of ``name``; report it when it retypes a name bound outside the block."""
        stmt = ctx.stmt
        if stmt is None:
            return
        smap = StatementMap.of(ctx)
        path = smap.path.get(stmt)
        if path is None:  # a statement of an inlined function, or not in this function's body
            return
        bindings = self._bindings(ctx)
        old = bindings.get(name)
        if old is None:
            bindings[name] = _Binding(type_, path, stmt)
            return
        if _under(path, old.path) and len(path) > len(old.path):
            inner = path[len(old.path) :]
            if (
                old.type is not None
                and type_ is not None
                and old.type != type_
                and (old.type, type_) not in _ACCEPTED_RETYPES
                and _real_blocks(ctx, inner)
            ):
                report(
                    ctx,
                    "PT222",
                    node,
                    EMITTER,
                    name=name,
                    old=old.type,
                    new=type_,
                    value=ctx.code(node),
                    block=_block_word(inner[0][0]),
                    line=_line_of(ctx, old.stmt),
                    fix=_retype_fix(name, old.type, type_),
                )
            return  # TorchScript keeps the outer type
        if _under(old.path, path):
            bindings[name] = _Binding(type_, path, stmt)  # rebound at an outer level: a new type
        else:
            common = tuple(a for a, b in zip(old.path, path) if a[0] is b[0] and a[1] == b[1])
            bindings[name] = _Binding(None, common, stmt)  # bound in a sibling block: the type after is unknown

    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        bindings = self._bindings(ctx)
        bindings.clear()
        for p in ctx.func.params:
            bindings[p.name] = _Binding(None, (), node)

    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        for t in node.targets:
            if isinstance(t.target, cst.Name):
                self._bind(ctx, t.target.value, script_type(ctx, node.value), node.value)
            else:
                for name in _names(t.target):
                    self._bind(ctx, name, None, node.value)

    def visit_AnnAssign(self, ctx: FunctionContext, node: cst.AnnAssign) -> None:
        for name in _names(node.target):
            self._forget(ctx, name)

    def visit_AugAssign(self, ctx: FunctionContext, node: cst.AugAssign) -> None:
        for name in _names(node.target):
            self._forget(ctx, name)

    def visit_For(self, ctx: FunctionContext, node: cst.For) -> None:
        for name in _names(node.target):
            self._forget(ctx, name)

    def visit_With(self, ctx: FunctionContext, node: cst.With) -> None:
        for item in node.items:
            if item.asname is not None:
                for name in _names(item.asname.name):
                    self._forget(ctx, name)

    def _forget(self, ctx: FunctionContext, name: str) -> None:
        """A binding whose type is not judged (annotated, loop variable, augmented)."""
        bindings = self._bindings(ctx)
        smap = StatementMap.of(ctx)
        path = smap.path.get(ctx.stmt) if ctx.stmt is not None else None
        old = bindings.get(name)
        if path is None:
            bindings.pop(name, None)
        elif old is None or _under(old.path, path):
            bindings[name] = _Binding(None, path, ctx.stmt)  # type: ignore[arg-type]
        elif not _under(path, old.path):
            common = tuple(a for a, b in zip(old.path, path) if a[0] is b[0] and a[1] == b[1])
            bindings[name] = _Binding(None, common, ctx.stmt)  # type: ignore[arg-type]
        else:
            old.type = None

    # PT223 -------------------------------------------------------------------------------------
    def visit_Return(self, ctx: FunctionContext, node: cst.Return) -> None:
        returns = ctx.node.returns
        if returns is None or SCRIPT in ctx.task.exempt:
            return
        declared = _declared_type(ctx, returns.annotation)
        if declared is None:
            return
        value = node.value
        got = literal_type(value) if value is not None else "None"
        if got is None and value is not None:
            got = script_type(ctx, value)
        if got is None or not _contradicts(declared, got):
            return
        report(
            ctx,
            "PT223",
            value if value is not None else node,
            EMITTER,
            value=ctx.code(value) if value is not None else "return",
            got=_shown(got),
            declared=ctx.code(returns.annotation),
            function=ctx.node.name.value,
        )


def _names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _names(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from _names(target.value)


def _real_blocks(ctx: FunctionContext, blocks: Sequence[Block]) -> bool:
    """Every block between the outer binding and this one is a block TorchScript compiles as one (an ``if`` /
    ``elif`` / ``else`` whose test it cannot decide, a ``for`` or ``while`` body)."""
    for stmt, part in blocks:
        if isinstance(stmt, cst.If):
            if static_test(ctx, stmt.test):
                return False
        elif isinstance(stmt, cst.While):
            if part != "body" or static_test(ctx, stmt.test):
                return False
        elif isinstance(stmt, cst.For):
            if part != "body" or ctx.kind(stmt.iter) == Kind.MODULE_LIST or _module_loop(ctx, stmt.iter):
                return False  # a loop over a ModuleList is unrolled
        else:
            return False  # ``with`` / ``try``: not judged
    return True


def _module_loop(ctx: FunctionContext, it: cst.BaseExpression) -> bool:
    """A loop TorchScript may unroll (over a ``ModuleList``, a tuple, ``enumerate`` / ``zip`` of those): its
    body is compiled in the enclosing scope. Only ``range(...)``, a tensor and a list display are real loops."""
    if isinstance(it, cst.Call) and dotted(it.func) == "range" and "range" not in ctx.env:
        return False
    if isinstance(it, (cst.List, cst.ListComp)):
        return False
    return ctx.kind(it) != Kind.TENSOR


def _block_word(stmt: cst.CSTNode) -> str:
    return {cst.If: "`if`", cst.For: "`for` loop", cst.While: "`while` loop"}.get(type(stmt), "block")


def _line_of(ctx: FunctionContext, stmt: cst.CSTNode) -> str:
    """The binding as written (its first line, without the comments above it)."""
    node = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and stmt.body else stmt
    lines = ctx.code(node).strip().splitlines()
    return lines[0] if lines else "?"


def _retype_fix(name: str, old: str, new: str) -> str:
    if old == "None":
        return f"annotate the first binding (`{name}: Optional[{_shown(new)}] = None`)"
    if old in _NUMBERS and new in _NUMBERS:
        return f"bind `{name}` as a `float` from the start"
    return f"use another name for the `{_shown(new)}` value"


def _shown(t: str) -> str:
    return {"Tuple": "tuple", "List": "list", "Dict": "dict", "None": "None"}.get(t, t)


#: PT223: annotation -> the value types TorchScript refuses for it (measured; a Tensor into a number
#: annotation compiles and fails only when run, and is not judged).
_REFUSED = {
    "int": frozenset({"float", "None"}),
    "float": frozenset({"int"}),
    "bool": frozenset({"int"}),
    "Tensor": frozenset({"float", "None", "Tuple", "Dict"}),
    "Tuple": frozenset({"List"}),
}
_ANNOTATIONS = {
    "int": "int",
    "builtins.int": "int",
    "float": "float",
    "builtins.float": "float",
    "bool": "bool",
    "builtins.bool": "bool",
    "torch.Tensor": "Tensor",
    "tuple": "Tuple",
    "typing.Tuple": "Tuple",
    "Tuple": "Tuple",
}


def _declared_type(ctx: FunctionContext, ann: cst.BaseExpression) -> Optional[str]:
    """The return annotation as one of ``_REFUSED``'s keys (``Tensor``, ``Tuple[...]``, a number)."""
    base = ann.value if isinstance(ann, cst.Subscript) else ann
    raw = dotted(base)
    if raw is None:
        return None
    q = ctx.file.qualify(raw) or raw
    found = _ANNOTATIONS.get(q, _ANNOTATIONS.get(raw))
    if found == "Tuple" and not isinstance(ann, cst.Subscript):
        return None  # a bare ``tuple``: not judged
    if found != "Tuple" and isinstance(ann, cst.Subscript):
        return None
    return found


def _contradicts(declared: str, got: str) -> bool:
    return got in _REFUSED.get(declared, frozenset())
