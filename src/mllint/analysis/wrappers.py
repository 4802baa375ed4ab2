"""What a decorator's wrapper does with the keyword arguments it passes on (for PT406).

The legacy ONNX exporter binds the example inputs to ``inspect.signature(model.forward)`` (which
``functools.wraps`` points at the undecorated function) and passes every remaining parameter that has
a default *positionally*. A wrapper that then adds the same parameter as a keyword
(``kwargs["use_cache"] = ...; return func(*args, **kwargs)``) makes the call fail with "got multiple
values for argument". This module reads, once per decorator function and without a full walk, which
keywords its wrapper adds whatever the caller passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

import libcst as cst

from mllint._compat import SLOTS
from mllint.analysis.names import child_nodes, dotted, literal_strings


@dataclass(frozen=True, **SLOTS)
class WrapperFacts:
    """A decorator whose inner function takes ``**kwargs`` and calls on with ``**kwargs``."""

    #: the wrapper is decorated with ``functools.wraps`` (``inspect.signature`` then sees the wrapped function)
    wraps: bool
    #: (keyword, only_over_a_wrapper): keywords the wrapper adds for a caller that passed none. The flag is
    #: set when it adds the keyword only if the wrapped function's ``__code__.co_varnames`` does not name it
    #: as positional: true of an undecorated function, false when it wraps another ``*args`` wrapper.
    injects: Tuple[Tuple[str, bool], ...] = ()
    #: the wrapper returns ``fn(*args, **kwargs)`` unchanged, at most renaming a keyword (``@deprecate_kwarg``,
    #: ``with autocast(enabled=False)``): dropping it (TorchScript does, PT207) changes no value computed
    passes_result: bool = False


def wrapper_facts(fn: cst.FunctionDef) -> Optional[WrapperFacts]:
    """The facts of a decorator function ``fn`` (a plain decorator or a decorator factory), or None when
    no nested function of it is a keyword-forwarding wrapper."""
    wrapper = _find_wrapper(fn, depth=0)
    if wrapper is None:
        return None
    star_kwarg = wrapper.params.star_kwarg
    assert star_kwarg is not None  # _find_wrapper checked it
    star = wrapper.params.star_arg
    args_name = star.name.value if isinstance(star, cst.Param) else None
    wraps = any(
        (dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "").split(".")[-1] == "wraps"
        for d in wrapper.decorators
    )
    reader = _InjectReader(star_kwarg.name.value, args_name, _literal_lists(wrapper), "co_varnames" in _names(wrapper))
    reader.read(wrapper.body.body, [], {})
    passes = isinstance(star, cst.Param) and _passes_result(wrapper)
    return WrapperFacts(wraps=wraps, injects=tuple(dict.fromkeys(reader.found)), passes_result=passes)


def _passes_result(w: cst.FunctionDef) -> bool:
    """Every ``return`` is ``fn(*args, **kwargs)`` with the wrapper's own variadics, and ``kwargs`` is at most
    renamed into (``kwargs[new] = kwargs.pop(old)``) or popped."""
    assert isinstance(w.params.star_arg, cst.Param) and w.params.star_kwarg is not None
    args, kwargs = w.params.star_arg.name.value, w.params.star_kwarg.name.value
    returns = 0
    stack: List[cst.CSTNode] = list(child_nodes(w.body))
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        if isinstance(n, cst.Return):
            call = n.value
            if not (
                isinstance(call, cst.Call)
                and isinstance(call.func, cst.Name)
                and len(call.args) == 2
                and call.args[0].star == "*"
                and isinstance(call.args[0].value, cst.Name)
                and call.args[0].value.value == args
                and call.args[1].star == "**"
                and isinstance(call.args[1].value, cst.Name)
                and call.args[1].value.value == kwargs
            ):
                return False
            returns += 1
            continue
        if isinstance(n, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            targets = [t.target for t in n.targets] if isinstance(n, cst.Assign) else [n.target]
            for t in targets:
                if isinstance(t, cst.Name) and t.value in (args, kwargs):
                    return False
                if isinstance(t, cst.Subscript) and dotted(t.value) == kwargs:
                    value = n.value
                    if not (
                        isinstance(n, cst.Assign)
                        and isinstance(value, cst.Call)
                        and dotted(value.func) == f"{kwargs}.pop"
                    ):
                        return False
        if (
            isinstance(n, cst.Call)
            and isinstance(n.func, cst.Attribute)
            and dotted(n.func.value) == kwargs
            and n.func.attr.value not in ("pop", "get", "keys", "values", "items")
        ):
            return False
        stack.extend(child_nodes(n))
    return returns > 0


def _find_wrapper(fn: cst.FunctionDef, depth: int) -> Optional[cst.FunctionDef]:
    """The first nested function (two levels down at most: a factory's decorator's wrapper) that takes
    ``**kwargs`` and passes them on with ``f(..., **kwargs)``."""
    if depth > 2:
        return None
    for stmt in fn.body.body:
        if not isinstance(stmt, cst.FunctionDef):
            continue
        kw = stmt.params.star_kwarg
        if kw is not None and _forwards(stmt, kw.name.value):
            return stmt
        inner = _find_wrapper(stmt, depth + 1)
        if inner is not None:
            return inner
    return None


def _forwards(fn: cst.FunctionDef, kwargs: str) -> bool:
    """``fn`` calls a plain name with ``**kwargs`` (the wrapped function)."""
    stack: List[cst.CSTNode] = [fn.body]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Name):
            if any(a.star == "**" and isinstance(a.value, cst.Name) and a.value.value == kwargs for a in n.args):
                return True
        if not isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            stack.extend(child_nodes(n))
    return False


def _names(node: cst.CSTNode) -> Set[str]:
    """Every identifier (names and attribute names) under ``node``."""
    out: Set[str] = set()
    stack: List[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            out.add(n.value)
        stack.extend(child_nodes(n))
    return out


def _strings(node: cst.BaseExpression) -> Optional[Tuple[str, ...]]:
    """``["a", "b"]`` / ``("a", "b")`` -> ("a", "b"); an empty or non-literal sequence -> None."""
    return literal_strings(node) or None


def _literal_lists(fn: cst.FunctionDef) -> Dict[str, Tuple[str, ...]]:
    """Names the wrapper binds once, at its top level, to a literal list of strings."""
    out: Dict[str, Tuple[str, ...]] = {}
    for stmt in fn.body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                ):
                    found = _strings(small.value)
                    if found is not None:
                        out[small.targets[0].target.value] = found
    return out


class _InjectReader:
    """Reads a wrapper body in order, with the tests that enclose each statement."""

    def __init__(self, kwargs: str, args: Optional[str], lists: Dict[str, Tuple[str, ...]], by_code: bool) -> None:
        self.kwargs = kwargs
        self.args = args
        self.lists = lists
        self.by_code = by_code
        self.found: List[Tuple[str, bool]] = []

    def read(
        self, body: object, tests: List[Tuple[cst.BaseExpression, bool]], loops: Dict[str, Tuple[str, ...]]
    ) -> None:
        for stmt in body:  # type: ignore[attr-defined]
            if isinstance(stmt, cst.If):
                self._read_if(stmt, tests, loops)
            elif isinstance(stmt, cst.For):
                names = _strings(stmt.iter) if not isinstance(stmt.iter, cst.Name) else self.lists.get(stmt.iter.value)
                inner = dict(loops)
                if isinstance(stmt.target, cst.Name):
                    inner.pop(stmt.target.value, None)
                    if names is not None:
                        inner[stmt.target.value] = names
                self.read(stmt.body.body, tests, inner)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            elif isinstance(stmt, (cst.With, cst.While)):
                self.read(stmt.body.body, tests, loops)
            elif isinstance(stmt, cst.Try):
                self.read(stmt.body.body, tests, loops)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self._read_small(small, tests, loops)

    def _read_if(
        self, stmt: cst.If, tests: List[Tuple[cst.BaseExpression, bool]], loops: Dict[str, Tuple[str, ...]]
    ) -> None:
        self.read(stmt.body.body, [*tests, (stmt.test, True)], loops)
        if isinstance(stmt.orelse, cst.If):
            self._read_if(stmt.orelse, [*tests, (stmt.test, False)], loops)
        elif isinstance(stmt.orelse, cst.Else):
            self.read(stmt.orelse.body.body, [*tests, (stmt.test, False)], loops)

    def _read_small(
        self,
        small: cst.BaseSmallStatement,
        tests: List[Tuple[cst.BaseExpression, bool]],
        loops: Dict[str, Tuple[str, ...]],
    ) -> None:
        explicit = self._explicit_keywords(small)
        if explicit:
            verdict = self._verdict(tests)
            if verdict is not None:
                self.found.extend((k, verdict) for k in explicit)
            return
        key: Optional[cst.BaseExpression] = None
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if (
                isinstance(target, cst.Subscript)
                and isinstance(target.value, cst.Name)
                and target.value.value == self.kwargs
                and len(target.slice) == 1
                and isinstance(target.slice[0].slice, cst.Index)
            ):
                key = target.slice[0].slice.value
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            func = small.value.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value == "setdefault"
                and isinstance(func.value, cst.Name)
                and func.value.value == self.kwargs
                and small.value.args
            ):
                key = small.value.args[0].value
        if key is None:
            return
        if isinstance(key, cst.SimpleString):
            keys: Tuple[str, ...] = (str(key.evaluated_value),)
        elif isinstance(key, cst.Name) and key.value in loops:
            keys = loops[key.value]
        else:
            return
        verdict = self._verdict(tests)
        if verdict is not None:
            self.found.extend((k, verdict) for k in keys)

    def _verdict(self, tests: List[Tuple[cst.BaseExpression, bool]]) -> Optional[bool]:
        """None when the enclosing tests keep the statement from running for a caller that passed no keywords
        (or cannot be told); else whether it runs only when the wrapped function is itself a wrapper."""
        only_over_wrapper = False
        for test, holds in tests:
            verdict = self._test(test, holds)
            if verdict == "skip":
                return None
            if verdict == "positional":
                if not self.by_code:
                    return None  # a positional check by other means (``inspect.signature``): it may well work
                only_over_wrapper = True
        return only_over_wrapper

    def _explicit_keywords(self, small: cst.BaseSmallStatement) -> Tuple[str, ...]:
        """``return func(*args, use_cache=True, **kwargs)``: the keywords written into the forwarding call."""
        value = getattr(small, "value", None)
        if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Name):
            return ()
        if not any(
            a.star == "**" and isinstance(a.value, cst.Name) and a.value.value == self.kwargs for a in value.args
        ):
            return ()
        return tuple(a.keyword.value for a in value.args if a.keyword is not None)

    def _test(self, test: cst.BaseExpression, holds: bool) -> str:
        """ "ok" (the branch runs for a caller that passed no keywords, or does not depend on them),
        "skip" (it runs only when the caller passed keywords, or it cannot be told), "positional"
        (it runs when the wrapped function does not take the keyword positionally)."""
        names = _names(test)
        if self.args is not None and self.args in names:
            return "positional" if not holds else "skip"
        if self.kwargs not in names:
            return "ok"
        # ``"k" in kwargs`` / ``k not in kwargs`` / ``kwargs.get(k) is None`` / ``... is not None``
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            op = test.comparisons[0].operator
            right = test.comparisons[0].comparator
            if isinstance(op, (cst.In, cst.NotIn)) and isinstance(right, cst.Name) and right.value == self.kwargs:
                present = isinstance(op, cst.In) == holds
                return "skip" if present else "ok"
            left = test.left
            if (
                isinstance(op, (cst.Is, cst.IsNot))
                and isinstance(right, cst.Name)
                and right.value == "None"
                and isinstance(left, cst.Call)
                and isinstance(left.func, cst.Attribute)
                and left.func.attr.value == "get"
                and dotted(left.func.value) == self.kwargs
            ):
                absent = isinstance(op, cst.Is) == holds
                return "ok" if absent else "skip"
        return "skip"
