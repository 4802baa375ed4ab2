"""PT406 / PT407: ``forward`` parameters that tracing cannot fill (family: signature).

PT407: ``torch.jit.trace`` calls ``forward`` with the example inputs as positional arguments, and its
``example_kwarg_inputs`` form accepts only positional-or-keyword parameter names; the legacy ONNX exporter
traces the same way. A required keyword-only parameter, or a ``forward(self, **inputs)`` that takes its
inputs only by keyword, cannot be filled by either (tests/test_legacy_input_facts.py).

PT406:
``torch.onnx.export(..., dynamo=False)`` binds the example inputs to ``inspect.signature(model.forward)``
and appends the default of every later parameter *positionally*, keyword-only ones included
(tests/test_legacy_input_facts.py). Two shapes of ``forward`` then fail before tracing starts: a
keyword-only parameter with a default (no ``*args`` to absorb it: "takes 2 positional arguments but 3
were given"), and a decorator whose ``functools.wraps`` wrapper adds a named parameter to the keywords it
passes on ("got multiple values for argument"), as transformers' ``merge_with_config_defaults`` does with
``use_cache`` when it wraps another wrapper. The defaults it fills are traced inputs, so a bool default is a
tensor inside ``forward``: ``flag | (not ...)`` is ``Tensor | bool``, which tracing cannot record.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from mllint.analysis.names import dotted
from mllint.analysis.summary import FuncSummary
from mllint.analysis.walker import FunctionContext
from mllint.checks.base import Check
from mllint.checks.unsupported.torch_constructs import building_block

#: Library decorators known to keep ``forward``'s signature visible (they use ``functools.wraps``)
#: and to pass the arguments through unchanged.
_TRANSPARENT = (
    "torch.no_grad",
    "torch.inference_mode",
    "torch.enable_grad",
    "torch.jit.",
    "torch.compiler.",
    "typing.",
    "typing_extensions.",
    "abc.abstractmethod",
)
_TRANSPARENT_NAMES = frozenset({"override"})


def _documents_only(name: str) -> bool:
    """``@auto_docstring``, ``@add_start_docstrings_to_model_forward``: they only write ``__doc__``."""
    return "docstring" in name.rsplit(".", 1)[-1].lower()


def _exported_forward(ctx: FunctionContext, node: cst.FunctionDef) -> bool:
    """The walk starts at a PyTorch model's own ``forward`` (the signature an exporter calls), not a part's."""
    return (
        ctx.framework == "torch"
        and ctx.task.depth == 0
        and node.name.value == "forward"
        and ctx.self_class is not None
        and not building_block(ctx)
    )


Layer = Tuple[cst.Decorator, str, Optional[FuncSummary]]  # the decorator, its name as written, its wrapper facts


class TraceKeywordInputs(Check):
    """PT407: inputs that only a keyword can pass, which tracing never does."""

    codes = ("PT407",)

    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        if not _exported_forward(ctx, node):
            return
        params = node.params
        positional = list(params.posonly_params) + list(params.params)
        if len(positional) <= 1 and not isinstance(params.star_arg, cst.Param):
            first = params.kwonly_params[0] if params.kwonly_params else params.star_kwarg
            if first is not None:
                shown = first.name.value if params.kwonly_params else "**" + first.name.value
                ctx.report("PT407", first, what=f"`forward` takes its inputs only by keyword (`{shown}`)")
            return
        required = next((p for p in params.kwonly_params if p.default is None), None)
        if required is not None:
            ctx.report("PT407", required, what=f"the keyword-only parameter `{required.name.value}` has no default")


class LegacyPositionalInputs(Check):
    """PT406: what the legacy exporter's positional filling of ``forward``'s parameters breaks."""

    codes = ("PT406",)

    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        if not _exported_forward(ctx, node):
            return
        layers = self._layers(ctx, node)
        if layers is None:
            return  # a decorator whose effect on the signature is unknown
        params = node.params
        if params.kwonly_params and not isinstance(params.star_arg, cst.Param) and not layers:
            first = next((p for p in params.kwonly_params if p.default is not None), None)
            if first is not None:
                ctx.report(
                    "PT406",
                    first,
                    what=f"the keyword-only parameter `{first.name.value}`",
                    why="`forward()` then gets more positional arguments than it takes",
                )
        named = {p.name.value for p in list(params.posonly_params) + list(params.params)}
        flags = _flag_state(ctx).flags
        for p in list(params.posonly_params) + list(params.params):
            if isinstance(p.default, cst.Name) and p.default.value in ("True", "False"):
                flags[p.name.value] = p.default.value
        for i, (dec, raw, fn) in enumerate(layers):
            if fn is None or fn.wrapper is None:
                continue
            below = any(f is not None and f.wrapper is not None for _, _, f in layers[i + 1 :])
            for key, only_over_wrapper in fn.wrapper.injects:
                if key in named and (below or not only_over_wrapper):
                    ctx.report(
                        "PT406",
                        dec,
                        what=f"the parameter `{key}`",
                        why=f"`@{raw}` also passes `{key}=` as a keyword: `forward() got multiple values "
                        f"for argument '{key}'`",
                    )
                    return

    @staticmethod
    def _layers(ctx: FunctionContext, node: cst.FunctionDef) -> Optional[List[Layer]]:
        """The decorators that wrap ``forward`` (outermost first) with their summaries, or None when one of
        them may hide the signature from the exporter (no ``functools.wraps``) or cannot be read."""
        out: List[Layer] = []
        for dec in node.decorators:
            expr = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
            raw = dotted(expr) or ""
            name = ctx.file.qualify(raw) or raw
            if not raw:
                return None
            if name.startswith(_TRANSPARENT) or name in _TRANSPARENT_NAMES or _documents_only(name):
                continue
            fn: Optional[FuncSummary] = ctx.file.summary.functions.get(raw)
            if fn is None:
                found = ctx.index.resolve(name)
                if found is None or found[0] != "function":
                    return None
                fn = found[1]  # type: ignore[assignment]
            if fn is None or fn.wrapper is None or not fn.wrapper.wraps:
                return None
            out.append((dec, raw, fn))
        return out

    # A bool default arrives as a tensor: ``flag | (not ...)`` is ``Tensor | bool`` --------------------------
    def visit_Assign(self, ctx: FunctionContext, node: cst.Assign) -> None:
        # the value is visited after this statement node: rebinding takes effect at the next statement
        state = _flag_state(ctx)
        if state.current(ctx):  # (applies the previous statement's rebinding first)
            state.rebound.append((node, [n for t in node.targets for n in _bound_names(t.target)]))

    def visit_AugAssign(self, ctx: FunctionContext, node: cst.AugAssign) -> None:
        state = _flag_state(ctx)
        if state.current(ctx) and isinstance(node.target, cst.Name) and not isinstance(node.operator, _BIT_AUG):
            state.rebound.append((node, [node.target.value]))

    def visit_BinaryOperation(self, ctx: FunctionContext, node: cst.BinaryOperation) -> None:
        flags = _flag_state(ctx).current(ctx)
        if not flags or not isinstance(node.operator, _BIT_OPS):
            return
        for side, other in ((node.left, node.right), (node.right, node.left)):
            flag = _flag_operand(side, flags)
            if flag is not None and _python_bool(other):
                ctx.report(
                    "PT406",
                    node,
                    what=f"the parameter `{flag}` (default `{flags[flag]}`)",
                    why=f"it arrives as a tensor, and `{ctx.code(node)}` combines it with a Python bool: tracing "
                    "stops with an INTERNAL ASSERT in alias analysis (no `aten::__or__` for Tensor and bool)",
                )
                return


class _FlagState:
    """Per walk: ``forward``'s bool-default parameters still holding the argument (name -> default)."""

    def __init__(self) -> None:
        self.flags: Dict[str, str] = {}
        self.rebound: List[Tuple[cst.CSTNode, List[str]]] = []  # (statement, names it rebinds), not yet applied

    def current(self, ctx: FunctionContext) -> Dict[str, str]:
        """The flags at the expression being visited: a rebinding counts from the statement after its own."""
        pending = []
        for small, names in self.rebound:
            if _inside(ctx, small):
                pending.append((small, names))
            else:
                for name in names:
                    self.flags.pop(name, None)
        self.rebound = pending
        return self.flags


def _inside(ctx: FunctionContext, small: cst.CSTNode) -> bool:
    """The walker is still in the statement line that holds ``small``."""
    stmt = ctx.stmt
    return stmt is small or (isinstance(stmt, cst.SimpleStatementLine) and any(s is small for s in stmt.body))


def _flag_state(ctx: FunctionContext) -> _FlagState:
    return ctx.scratch.get(_FlagState, "PT406.flags")


_BIT_OPS = (cst.BitOr, cst.BitAnd, cst.BitXor)
_BIT_AUG = (cst.BitOrAssign, cst.BitAndAssign, cst.BitXorAssign)


def _bound_names(target: cst.BaseExpression) -> List[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in _bound_names(el.value)]
    return []


def _flag_operand(node: cst.BaseExpression, flags: Dict[str, str]) -> Optional[str]:
    """The bool-default parameter ``node`` is (or, for ``a | b``, begins with): a tensor under the legacy exporter."""
    if isinstance(node, cst.Name) and node.value in flags:
        return node.value
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _BIT_OPS):
        return _flag_operand(node.left, flags) or _flag_operand(node.right, flags)
    return None


def _python_bool(node: cst.BaseExpression) -> bool:
    """An expression that is a Python bool whatever the inputs: ``not ...``, a literal, ``isinstance(...)``, an
    ``is None`` test."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        return True
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return True
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
        return node.func.value in ("isinstance", "hasattr", "callable", "bool")
    if isinstance(node, cst.Comparison):
        return all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in node.comparisons)
    return False
