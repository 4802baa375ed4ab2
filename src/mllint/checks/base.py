"""The rule-implementation interface and how the walker's dispatch table is built from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, ClassVar, Dict, Iterable, Iterator, List, Tuple

import libcst as cst

from mllint.analysis.walker import FileContext, FunctionContext

if TYPE_CHECKING:
    from mllint.config import Settings


class Check:
    """Base for rule implementations.

    ``codes``: the catalogue codes this check may report. ``frameworks``: which entry points it
    looks at ("torch", "tensorflow"). Methods named ``visit_<LibCST node class>`` are called for
    every such node in reachable code, in one shared walk, with the current ``FunctionContext``;
    ``visit_FunctionEntry`` is called once at the start of each analysed function. ``check_file``
    is called once per parsed file for rules about call sites or class definitions.
    """

    codes: ClassVar[Tuple[str, ...]] = ()
    frameworks: ClassVar[Tuple[str, ...]] = ("torch",)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Check":
        """The check as the configuration wants it (most checks take no settings)."""
        return cls()

    def check_file(self, fctx: FileContext) -> None:  # pragma: no cover - default does nothing
        return None


def build_dispatch(checks: Iterable[Check]) -> Dict[str, Dict[str, List[Callable[[FunctionContext, cst.CSTNode], None]]]]:
    """framework -> node type name -> handlers, so the walker does one dict lookup per node."""
    table: Dict[str, Dict[str, List[Callable[[FunctionContext, cst.CSTNode], None]]]] = {}
    for check in checks:
        for attr in dir(type(check)):
            if not attr.startswith("visit_"):
                continue
            handler = getattr(check, attr)
            for fw in check.frameworks:
                table.setdefault(fw, {}).setdefault(attr[len("visit_"):], []).append(handler)
    return table


def owner_of(handler: object) -> str:
    """The check class name behind a bound handler (for internal-error messages)."""
    owner = getattr(handler, "__self__", handler)
    return type(owner).__name__


class BranchTests:
    """Mixin for rules about what Python control flow tests: ``check_test(ctx, test, construct)`` is
    called with the test of every ``if`` / ``elif``, ``while`` and conditional expression."""

    def check_test(self, ctx: FunctionContext, test: cst.BaseExpression, construct: str) -> None:
        raise NotImplementedError

    def visit_If(self, ctx: FunctionContext, node: cst.If) -> None:
        self.check_test(ctx, node.test, "if")

    def visit_While(self, ctx: FunctionContext, node: cst.While) -> None:
        self.check_test(ctx, node.test, "while")

    def visit_IfExp(self, ctx: FunctionContext, node: cst.IfExp) -> None:
        self.check_test(ctx, node.test, "conditional expression")


def tested_operands(test: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """The operands whose truth value a test takes: ``a and not b`` tests ``a`` and ``b``."""
    if isinstance(test, cst.BooleanOperation):
        yield from tested_operands(test.left)
        yield from tested_operands(test.right)
    elif isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        yield from tested_operands(test.expression)
    else:
        yield test
