"""What export call sites need to know about a PyTorch model class defined in another file.

Rules about ``torch.jit.trace(model, ...)`` or ``torch.onnx.export(model, ...)`` run per file, where
the model's syntax tree may not be available: the facts they need are computed here, once, while
the model's file is summarised, and kept in its (cached, picklable) ``ClassSummary``.

The pass is cheap on purpose: ``forward`` and the methods it calls on ``self`` are read statement
by statement (no full expression walk); value kinds come from the same ``Evaluator`` the walker uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from mllint._compat import SLOTS
from mllint.analysis.names import child_nodes, dotted, qualify
from mllint.analysis.values import STATIC, TENSOR, UNKNOWN, Evaluator, Kind, Value, code_of

#: Modules whose output depends on ``train()`` / ``eval()`` with their default arguments.
MODE_MODULES = frozenset({
    "torch.nn.Dropout", "torch.nn.Dropout1d", "torch.nn.Dropout2d", "torch.nn.Dropout3d", "torch.nn.AlphaDropout",
    "torch.nn.FeatureAlphaDropout", "torch.nn.BatchNorm1d", "torch.nn.BatchNorm2d", "torch.nn.BatchNorm3d",
    "torch.nn.SyncBatchNorm", "torch.nn.LazyBatchNorm1d", "torch.nn.LazyBatchNorm2d", "torch.nn.LazyBatchNorm3d",
    "torch.nn.Transformer", "torch.nn.TransformerEncoderLayer", "torch.nn.TransformerDecoderLayer",
    "torch.nn.TransformerEncoder", "torch.nn.TransformerDecoder",
})
#: Modules that drop out only when given a non-zero ``dropout=``.
DROPOUT_ARG_MODULES = frozenset({"torch.nn.MultiheadAttention", "torch.nn.LSTM", "torch.nn.GRU", "torch.nn.RNN"})
_MODE_HINTS = ("Dropout", "BatchNorm", "Transformer", "dropout=")
_GUARDS = frozenset({
    "torch.jit.is_scripting", "torch.jit.is_tracing", "torch.onnx.is_in_onnx_export", "torch.compiler.is_compiling",
    "torch.compiler.is_exporting", "torch._dynamo.is_compiling", "torch.compiler.is_dynamo_compiling",
})
_MAX_TESTS = 3


@dataclass(frozen=True, **SLOTS)
class TorchClassFacts:
    """Facts about a model class's ``forward`` and the methods of the class it calls."""

    #: (method, test source) of ``if``/``while``/``assert`` tests on tensor data
    data_tests: Tuple[Tuple[str, str], ...] = ()
    #: ``self.<attr>(...)`` calls on attributes that are not methods (submodules)
    called_attrs: Tuple[str, ...] = ()
    #: reads ``self.training`` or builds dropout / batch-norm layers: outputs differ in train mode
    mode_dependent: bool = False


def torch_class_facts(node: cst.ClassDef, methods: Sequence[str], attrs: Dict[str, object],
                      aliases: Dict[str, str], text: str) -> Optional[TorchClassFacts]:
    """Facts for a class that defines ``forward`` (None otherwise)."""
    if "forward" not in methods:
        return None
    defs = {s.name.value: s for s in node.body.body if isinstance(s, cst.FunctionDef)}
    reader = _Reader(defs, attrs, aliases)
    todo = ["forward"]
    seen: Set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        todo.extend(reader.read(defs[name]))
    mode = reader.reads_training or any(is_mode_module(getattr(attrs.get(a), "cls", None)) for a in reader.called_attrs)
    if not mode and any(h in text for h in _MODE_HINTS):
        mode = any(_builds_mode_module(defs[m], aliases) for m in ("__init__", "build", "setup") if m in defs)
    return TorchClassFacts(tuple(reader.tests[:_MAX_TESTS]), tuple(sorted(reader.called_attrs)), mode)


def is_mode_module(cls: Optional[str], dropout_arg: bool = False) -> bool:
    return bool(cls) and (cls in MODE_MODULES or (dropout_arg and cls in DROPOUT_ARG_MODULES))


class _Reader:
    """Reads one method at a time, in statement order, keeping value kinds of locals."""

    def __init__(self, defs: Dict[str, cst.FunctionDef], attrs: Dict[str, object], aliases: Dict[str, str]) -> None:
        self.defs = defs
        self.attrs = attrs
        self.aliases = aliases
        self.tests: List[Tuple[str, str]] = []
        self.called_attrs: Set[str] = set()
        self.reads_training = False
        self._called: List[str] = []
        self._method = ""

    def read(self, fn: cst.FunctionDef) -> List[str]:
        """Record the method's data-dependent tests; return the methods it calls on ``self``."""
        self._method = fn.name.value
        self._called = []
        env: Dict[str, Value] = {}
        for param in list(fn.params.posonly_params) + list(fn.params.params)[:]:
            env[param.name.value] = _param_value(param, self.aliases)
        env.pop("self", None)
        ev = Evaluator(env, lambda n: qualify(n, self.aliases), self._self_attr)
        self._block(ev, fn.body.body if isinstance(fn.body, cst.IndentedBlock) else [])
        return self._called

    def _self_attr(self, attr: str) -> Value:
        info = self.attrs.get(attr)
        kind = getattr(info, "kind", None)
        if kind == "module":
            return Value(Kind.MODULE, None, getattr(info, "cls", None))
        if kind == "module_list":
            return Value(Kind.MODULE_LIST, None, getattr(info, "cls", None))
        if kind == "tensor":
            return TENSOR
        if kind == "static":
            return STATIC
        return UNKNOWN

    def _calls(self, expr: cst.CSTNode) -> None:
        """Record ``self.<name>(...)`` calls in an expression: methods to read next, or submodules."""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, (cst.Name, cst.SimpleString, cst.Integer, cst.Float, cst.Lambda)):
                continue
            if isinstance(node, cst.Attribute):
                name = dotted(node)
                if name is not None:  # a plain dotted chain: nothing inside to find
                    if name == "self.training":
                        self.reads_training = True
                    continue
            elif isinstance(node, cst.Call):
                name = dotted(node.func)
                if name is not None:
                    if name.startswith("self.") and name.count(".") == 1:
                        attr = name[5:]
                        if attr in self.defs:
                            self._called.append(attr)
                        else:
                            self.called_attrs.add(attr)
                    stack.extend(a.value for a in node.args)
                    continue
            stack.extend(child_nodes(node))

    def _block(self, ev: Evaluator, stmts: Sequence[cst.CSTNode]) -> None:
        for stmt in stmts:
            self._stmt(ev, stmt)

    def _stmt(self, ev: Evaluator, stmt: cst.CSTNode) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._small(ev, small)
        elif isinstance(stmt, cst.If):
            body, orelse = self._guard(ev, stmt.test)
            if body and orelse:
                self._test(ev, stmt.test)
            if body:
                self._block(ev, stmt.body.body)
            if orelse and stmt.orelse is not None:
                if isinstance(stmt.orelse, cst.If):
                    self._stmt(ev, stmt.orelse)
                else:
                    self._block(ev, stmt.orelse.body.body)
        elif isinstance(stmt, cst.While):
            self._test(ev, stmt.test)
            self._block(ev, stmt.body.body)
        elif isinstance(stmt, cst.For):
            self._calls(stmt.iter)
            it = ev.value(stmt.iter)
            if isinstance(stmt.target, cst.Name):
                ev.env[stmt.target.value] = TENSOR if it.kind == Kind.TENSOR else (
                    Value(Kind.MODULE, None, it.cls) if it.kind == Kind.MODULE_LIST else UNKNOWN)
            ev.invalidate()
            self._block(ev, stmt.body.body)
        elif isinstance(stmt, (cst.With, cst.Try)):
            self._block(ev, stmt.body.body)
            for handler in getattr(stmt, "handlers", ()):
                self._block(ev, handler.body.body)
        ev.invalidate()

    def _small(self, ev: Evaluator, small: cst.CSTNode) -> None:
        value_node = getattr(small, "value", None)
        if isinstance(value_node, cst.BaseExpression):
            self._calls(value_node)
        if isinstance(small, cst.Assign):
            value = ev.value(small.value)
            for t in small.targets:
                if isinstance(t.target, cst.Name):
                    ev.env[t.target.value] = value
                else:
                    for name in _names(t.target):
                        ev.env[name] = UNKNOWN
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)) and small.value is not None:
            value = ev.value(small.value)
            if isinstance(small.target, cst.Name):
                ev.env[small.target.value] = value if isinstance(small, cst.AnnAssign) else UNKNOWN
        elif isinstance(small, cst.Assert):
            self._test(ev, small.test)
        elif isinstance(small, (cst.Expr, cst.Return)) and small.value is not None:
            ev.value(small.value)
        ev.invalidate()

    def _guard(self, ev: Evaluator, test: cst.BaseExpression) -> Tuple[bool, bool]:
        """Which branches export runs: (body, else). ``self.training`` and target guards are skipped."""
        negate = False
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            negate, test = not negate, test.expression
        if dotted(test) == "self.training":
            self.reads_training = True
            return (True, False) if negate else (False, True)
        if isinstance(test, cst.BooleanOperation) and "self.training" in _dotted_operands(test):
            self.reads_training = True
            return (True, True) if negate else (False, True)
        if isinstance(test, cst.Call) and qualify(dotted(test.func), self.aliases) in _GUARDS:
            return (False, False)
        return (True, True)

    def _test(self, ev: Evaluator, test: cst.BaseExpression) -> None:
        self._calls(test)
        for operand in _operands(test):
            if len(self.tests) >= _MAX_TESTS:
                return
            if ev.value(operand).kind in (Kind.TENSOR, Kind.DATA):
                self.tests.append((self._method, code_of(operand)))


def _param_value(param: cst.Param, aliases: Dict[str, str]) -> Value:
    if param.annotation is not None:
        ann = dotted(param.annotation.annotation) or ""
        q = qualify(ann, aliases) or ann
        return TENSOR if q in ("torch.Tensor", "Tensor") else UNKNOWN
    if param.default is None:
        return TENSOR
    return STATIC if isinstance(param.default, (cst.Name, cst.Integer, cst.Float, cst.SimpleString)) else UNKNOWN


def _operands(test: cst.BaseExpression) -> List[cst.BaseExpression]:
    if isinstance(test, cst.BooleanOperation):
        return _operands(test.left) + _operands(test.right)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _operands(test.expression)
    return [test]


def _dotted_operands(test: cst.BaseExpression) -> Set[str]:
    return {dotted(o) or "" for o in _operands(test)}


def _names(node: cst.CSTNode) -> List[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for el in node.elements for n in _names(el.value)]
    if isinstance(node, cst.StarredElement):
        return _names(node.value)
    return []


def _builds_mode_module(fn: cst.FunctionDef, aliases: Dict[str, str]) -> bool:
    """``__init__`` constructs a dropout / batch-norm layer (also inside ``nn.Sequential(...)``)."""
    stack: List[cst.CSTNode] = [fn.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Name, cst.Attribute, cst.SimpleString, cst.Integer, cst.Float)):
            continue
        if isinstance(node, cst.Call):
            q = qualify(dotted(node.func), aliases)
            if q and q.startswith("torch.nn.modules."):
                q = "torch.nn." + q.rsplit(".", 1)[-1]
            dropout_arg = any(a.keyword is not None and a.keyword.value == "dropout"
                              and not (isinstance(a.value, (cst.Integer, cst.Float)) and float(a.value.value) == 0.0)
                              for a in node.args)
            if is_mode_module(q, dropout_arg):
                return True
            stack.extend(a.value for a in node.args)
            if not isinstance(node.func, (cst.Name, cst.Attribute)):
                stack.append(node.func)
            continue
        stack.extend(child_nodes(node))
    return False
