"""Guards: tests whose truth an export target fixes (eval mode, scripting, tracing, compiling, exporting).

One mechanism for every form: a guard call (``torch.jit.is_scripting()``), ``self.training``,
``not`` / ``and`` / ``or`` over them, names holding a guard, and project helpers that return one
(``def is_tracing(): return torch.jit.is_tracing() or ...``). The walker uses the two target sets a
test gives to exempt the branch a target never runs, and the code after an early return.
"""

from __future__ import annotations

from typing import Callable, Dict, FrozenSet, Optional, Tuple

import libcst as cst

from mllint.analysis.names import dotted
from mllint.targets import ALL_TARGETS, guard_targets

#: (never true, never false): the targets under which the test is always false / always true.
GuardSets = Tuple[FrozenSet[str], FrozenSet[str]]
NO_GUARD: GuardSets = (frozenset(), frozenset())
_ALL: FrozenSet[str] = frozenset(ALL_TARGETS)
#: Models are exported in eval mode: ``self.training`` is false on every target.
TRAINING: GuardSets = (_ALL, frozenset())

#: Guard functions: name -> the targets under which they return True (from the target table), and
#: ``is_fx_tracing``, True under no export target.
GUARD_TARGETS: Dict[str, FrozenSet[str]] = {
    **guard_targets(),
    "torch.fx._symbolic_trace.is_fx_tracing": frozenset(),
    # TensorFlow traces every exported function (Keras 3 ``call`` included): eager-only branches never
    # run there (measured: tests/test_keras_verdicts.py); ``tf.inside_function`` is in the target table
    "tensorflow.executing_eagerly": frozenset(),
    "tensorflow.compat.v1.executing_eagerly": frozenset(),
}
#: Guards whose True side mllint does not rely on (their False branch is not excluded anywhere).
#: Measured on torch 2.13 (tests/test_precision_facts.py): ``is_compiling()`` is True under torch.export
#: and the ONNX dynamo exporter, ``is_in_onnx_export()`` under both ONNX exporters.
_ONE_SIDED = ("torch.fx.",)


def call_guard(qualified: Optional[str]) -> Optional[GuardSets]:
    """The guard sets of a call to a framework guard function, or None."""
    takes = GUARD_TARGETS.get(qualified or "")
    if takes is None:
        return None
    never_false = frozenset() if qualified.startswith(_ONE_SIDED) else takes  # type: ignore[union-attr]
    return _ALL - takes, never_false


def negate(sets: GuardSets) -> GuardSets:
    return sets[1], sets[0]


def guard_sets(test: cst.BaseExpression, leaf: Callable[[cst.BaseExpression], Optional[GuardSets]]) -> GuardSets:
    """The guard sets of ``test``; ``leaf`` judges an operand that is not ``not`` / ``and`` / ``or``
    (a guard call, ``self.training``, a name holding a guard, a helper call) or returns None."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return negate(guard_sets(test.expression, leaf))
    if isinstance(test, cst.BooleanOperation):
        a, b = guard_sets(test.left, leaf), guard_sets(test.right, leaf)
        if isinstance(test.operator, cst.And):  # true only where both can be; false where either is
            return a[0] | b[0], a[1] & b[1]
        return a[0] & b[0], a[1] | b[1]
    return leaf(test) or NO_GUARD


def plain_leaf(
    qualify: Callable[[Optional[str]], Optional[str]],
) -> Callable[[cst.BaseExpression], Optional[GuardSets]]:
    """Leaves every file knows without the walker: guard calls and ``self.training``."""

    def leaf(node: cst.BaseExpression) -> Optional[GuardSets]:
        if dotted(node) == "self.training":
            return TRAINING
        if isinstance(node, cst.Call):
            return call_guard(qualify(dotted(node.func)))
        return None

    return leaf


def returned_guard(fn: cst.FunctionDef, qualify: Callable[[Optional[str]], Optional[str]]) -> Optional[GuardSets]:
    """A helper whose body is ``return <guard expression>`` (after a docstring): its guard sets."""
    body = fn.body.body if isinstance(fn.body, cst.IndentedBlock) else []
    stmts = [
        s
        for s in body
        if not (
            isinstance(s, cst.SimpleStatementLine)
            and len(s.body) == 1
            and isinstance(s.body[0], cst.Expr)
            and isinstance(s.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
        )
    ]
    if len(stmts) != 1 or not isinstance(stmts[0], cst.SimpleStatementLine) or len(stmts[0].body) != 1:
        return None
    ret = stmts[0].body[0]
    if not isinstance(ret, cst.Return) or ret.value is None:
        return None
    sets = guard_sets(ret.value, plain_leaf(qualify))
    return sets if sets != NO_GUARD else None
