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
``use_cache`` when it wraps another wrapper.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

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


Layer = Tuple[cst.Decorator, str, Optional[FuncSummary]]  # the decorator, its name as written, its wrapper facts


class TraceKeywordInputs(Check):
    """PT407: inputs that only a keyword can pass, which tracing never does."""

    codes = ("PT407",)

    def visit_FunctionEntry(self, ctx: FunctionContext, node: cst.FunctionDef) -> None:
        if (
            ctx.framework != "torch"
            or ctx.task.depth != 0
            or node.name.value != "forward"
            or ctx.self_class is None
            or building_block(ctx)
        ):
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
        if (
            ctx.framework != "torch"
            or ctx.task.depth != 0
            or node.name.value != "forward"
            or ctx.self_class is None
            or building_block(ctx)
        ):
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
