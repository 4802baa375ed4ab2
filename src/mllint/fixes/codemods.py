"""The codemods: one per rule with a mechanical fix, built from the reported site.

Each codemod finds the reported node again in a fresh parse of the file (by the finding's start
position and the node type it expects) and returns the changes to make: node -> function from
the node as already updated to its replacement, plus the imports the new code needs. Functions
look at the node they are given and return it unchanged when the fix is already there, so fixes
compose on one node (PT401 and PT402 on the same export call) and a second run changes nothing.
A codemod returns None when the site is not one it knows how to fix; the finding then stays.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import libcst as cst
from libcst.metadata import CodeRange

from mllint.findings import Finding

#: What a change function may return: a node, or several statements in place of one.
Replacement = Union[cst.CSTNode, cst.FlattenSentinel, cst.RemovalSentinel]
ChangeFn = Callable[[cst.CSTNode], Replacement]


@dataclass
class Change:
    """What one finding's fix does to the tree."""

    edits: List[Tuple[cst.CSTNode, ChangeFn]] = field(default_factory=list)
    #: (module, name or None): ``from module import name`` / ``import module``
    imports: List[Tuple[str, Optional[str]]] = field(default_factory=list)


@dataclass(frozen=True)
class Project:
    """What a fix may know beyond its file: the declared contracts of the models exported to SavedModel, as
    (factory, loaded contract) (``mllint.confirm.contracts``). Empty when the project declares none, or one does
    not load."""

    contracts: Tuple[Tuple[str, Mapping[str, Any]], ...] = ()


def load_project(settings: Any) -> Project:
    """The fix-time view of ``settings`` (a ``Settings``): its models' contracts, loaded and checked. A contract
    that does not load gives no contracts at all (a fix is never built from a contract ``--confirm`` rejects)."""
    from mllint.config import ConfigError
    from mllint.confirm.contracts import resolve_contracts

    try:
        models = resolve_contracts(settings.models, settings.root, settings.config_file)
    except ConfigError:
        return Project()
    return Project(
        tuple(
            (m.factory, m.contract)
            for m in models
            if isinstance(m.contract, dict) and (m.targets is None or "savedmodel" in m.targets)
        )
    )


class Site:
    """A parsed file with the positions and parents its codemods need (LibCST metadata, on this parse only)."""

    def __init__(
        self, module: cst.Module, positions: Mapping[cst.CSTNode, CodeRange], parents: Mapping[cst.CSTNode, cst.CSTNode]
    ) -> None:
        self.module = module
        self.positions = positions
        self.parents = parents
        #: set by ``fix_text`` for the run (the same parse may serve several calls)
        self.project = Project()
        self._starts: Dict[Tuple[int, int], List[cst.CSTNode]] = {}
        for node, where in positions.items():
            self._starts.setdefault((where.start.line, where.start.column), []).append(node)

    def at(self, finding: Finding, kind: Union[type, Tuple[type, ...]]) -> Optional[cst.CSTNode]:
        """The node of type ``kind`` whose range is the finding's span (else the largest starting there)."""
        nodes = [n for n in self._starts.get((finding.span.line, finding.span.col), ()) if isinstance(n, kind)]
        span = finding.span

        def end(node: cst.CSTNode) -> Tuple[int, int]:
            return self.positions[node].end.line, self.positions[node].end.column

        exact = [n for n in nodes if end(n) == (span.end_line, span.end_col)]
        if exact:
            return exact[0]
        return max(nodes, key=end) if nodes else None

    def ancestor(self, node: cst.CSTNode, kind: Union[type, Tuple[type, ...]]) -> Optional[cst.CSTNode]:
        parent = self.parents.get(node)
        while parent is not None and not isinstance(parent, kind):
            parent = self.parents.get(parent)
        return parent

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    # -- names the module binds at the top level ---------------------------------------------------------------
    def binds(self, name: str) -> bool:
        """Whether a top-level import binds ``name`` (``import torch``, ``from typing import Optional``)."""
        for stmt in self.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                    for alias in small.names:
                        bound = alias.asname.name if alias.asname else alias.name
                        text = (
                            self.module.code_for_node(bound)
                            if isinstance(small, cst.ImportFrom) or alias.asname
                            else self.module.code_for_node(alias.name).split(".")[0]
                        )
                        if text == name:
                            return True
        return False

    def alias(self, module: str) -> Optional[str]:
        """The name a top-level ``import module`` / ``import module as name`` binds, or None."""
        for stmt in self.module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Import):
                        for a in small.names:
                            if self.module.code_for_node(a.name) == module:
                                return self.module.code_for_node(a.asname.name) if a.asname else module
        return None

    def imports_from(self, module: str, name: str) -> bool:
        for stmt in self.module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if (
                        isinstance(small, cst.ImportFrom)
                        and small.module is not None
                        and small.relative == ()
                        and self.module.code_for_node(small.module) == module
                        and not isinstance(small.names, cst.ImportStar)
                    ):
                        if any(a.asname is None and self.module.code_for_node(a.name) == name for a in small.names):
                            return True
        return False

    # -- classes and functions of this file ---------------------------------------------------------------------
    def classes(self) -> Dict[str, cst.ClassDef]:
        found: Dict[str, cst.ClassDef] = {}
        for node in self.positions:
            if isinstance(node, cst.ClassDef):
                found.setdefault(node.name.value, node)
        return found

    def forward_params(self, call: cst.Call) -> Optional[List[str]]:
        """``forward``'s parameter names (without ``self``) for the model an export call is given, when the model
        is ``var`` assigned ``Cls(...)`` (or ``Cls(...).eval()``) in this file and ``Cls`` is a class of this file."""
        if not call.args or call.args[0].keyword is not None:
            return None
        model = call.args[0].value
        cls_name = None
        if isinstance(model, cst.Name):
            scope = self.ancestor(call, (cst.FunctionDef, cst.Module))
            for node in self.positions:
                if (
                    isinstance(node, cst.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0].target, cst.Name)
                    and node.targets[0].target.value == model.value
                    and self.ancestor(node, (cst.FunctionDef, cst.Module)) is scope
                ):
                    cls_name = _constructed(node.value)
        else:
            cls_name = _constructed(model)
        cls = self.classes().get(cls_name or "")
        if cls is None:
            return None
        for stmt in cls.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "forward":
                params = [p.name.value for p in stmt.params.params]
                return params[1:] if params and params[0] == "self" else params
        return None


def _constructed(expr: cst.BaseExpression) -> Optional[str]:
    """``Cls`` for ``Cls(...)``, ``Cls(...).eval()``, ``Cls(...).to(...)``."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        expr = expr.func.value
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name):
        return expr.func.value
    return None


def _message_names(finding: Finding) -> List[str]:
    return re.findall(r"`([^`]*)`", finding.message)


# -- PT205 / PT206: parameter annotations ------------------------------------------------------------------------
def _literal_type(node: cst.BaseExpression) -> Optional[str]:
    """The Python type of a literal default or argument (what TorchScript needs annotated)."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return "bool"
    if isinstance(node, cst.Integer):
        return "int"
    if isinstance(node, cst.Float):
        return "float"
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        if (
            isinstance(node, cst.SimpleString)
            and node.prefix.lower().startswith("b")
            or (isinstance(node, cst.SimpleString) and "b" in node.prefix.lower())
        ):
            return None
        return "str"
    return None


def _annotate(annotation: str) -> ChangeFn:
    def change(param: cst.CSTNode) -> Replacement:
        assert isinstance(param, cst.Param)
        if param.annotation is not None:
            return param
        equal = cst.MaybeSentinel.DEFAULT  # ``name: T = default``, spaced as PEP 8 wants for annotated defaults
        return param.with_changes(annotation=cst.Annotation(cst.parse_expression(annotation)), equal=equal)

    return change


def fix_pt206(site: Site, finding: Finding) -> Optional[Change]:
    """``bias=None`` -> ``bias: Optional[torch.Tensor] = None`` (adding ``from typing import Optional``)."""
    param = site.at(finding, cst.Param)
    if not isinstance(param, cst.Param) or param.annotation is not None or param.default is None:
        return None
    change = Change()
    torch = site.alias("torch")
    if torch is not None:
        inner = f"{torch}.Tensor"
    elif site.imports_from("torch", "Tensor"):
        inner = "Tensor"
    else:
        inner = "torch.Tensor"
        change.imports.append(("torch", None))
    if site.imports_from("typing", "Optional"):
        optional = "Optional"
    elif site.binds("typing"):
        optional = "typing.Optional"
    else:
        optional = "Optional"
        change.imports.append(("typing", "Optional"))
    change.edits.append((param, _annotate(f"{optional}[{inner}]")))
    return change


def fix_pt205(site: Site, finding: Finding) -> Optional[Change]:
    """``scale=2.0`` -> ``scale: float = 2.0``; a literal passed to an unannotated ``k`` annotates ``k`` in the callee."""
    param = site.at(finding, cst.Param)
    if isinstance(param, cst.Param):
        kind = _literal_type(param.default) if param.default is not None else None
        if param.annotation is not None or kind is None:
            return None
        return Change(edits=[(param, _annotate(kind))])
    # a literal argument at a call: annotate the callee's parameter
    names = _message_names(finding)  # param, argument, callee, entry
    arg = site.at(finding, cst.BaseExpression)
    if arg is None or len(names) < 3:
        return None
    kind = _literal_type(arg)  # type: ignore[arg-type]
    target = _callee_param(site, arg, callee=names[2], param=names[0])
    if kind is None or target is None:
        return None
    return Change(edits=[(target, _annotate(kind))])


def _callee_param(site: Site, node: cst.CSTNode, callee: str, param: str) -> Optional[cst.Param]:
    """The unannotated parameter ``param`` of the method ``callee`` of the class around ``node`` (else a
    top-level function ``callee`` of the file)."""
    cls = site.ancestor(node, cst.ClassDef)
    bodies = ([cls.body.body] if isinstance(cls, cst.ClassDef) else []) + [site.module.body]
    for body in bodies:
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == callee:
                for p in (*stmt.params.params, *stmt.params.kwonly_params):
                    if p.name.value == param and p.annotation is None:
                        return p
    return None


# -- PT405: model.eval() before the export --------------------------------------------------------------------------
def fix_pt405(site: Site, finding: Finding) -> Optional[Change]:
    """``model.eval()`` on its own line before the statement that exports ``model``; ``Net().eval()`` for a
    model built in the call."""
    call = site.at(finding, cst.Call)
    if not isinstance(call, cst.Call) or not call.args or call.args[0].keyword is not None:
        return None
    model = call.args[0].value
    if isinstance(model, cst.Call):

        def wrap(node: cst.CSTNode) -> Replacement:
            assert isinstance(node, cst.Call)
            first = node.args[0]
            if _constructed(first.value) is None or _is_eval(first.value):
                return node
            evaled = cst.Call(func=cst.Attribute(value=first.value, attr=cst.Name("eval")))
            return node.with_changes(args=(first.with_changes(value=evaled), *node.args[1:]))

        return Change(edits=[(call, wrap)])
    if not isinstance(model, (cst.Name, cst.Attribute)):
        return None
    stmt = site.ancestor(call, cst.SimpleStatementLine)
    if not isinstance(stmt, cst.SimpleStatementLine) or not isinstance(
        site.parents.get(stmt), (cst.Module, cst.IndentedBlock)
    ):
        return None
    model_code = site.code(model)

    def insert(node: cst.CSTNode) -> Replacement:
        assert isinstance(node, cst.SimpleStatementLine)
        evaled = cst.parse_statement(f"{model_code}.eval()\n")
        assert isinstance(evaled, cst.SimpleStatementLine)
        return cst.FlattenSentinel(
            [evaled.with_changes(leading_lines=node.leading_lines), node.with_changes(leading_lines=())]
        )

    return Change(edits=[(stmt, insert)])


def _is_eval(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "eval"


# -- PT402 / PT401: keywords of torch.onnx.export ---------------------------------------------------------------------
def _keywords(call: cst.Call) -> Dict[str, cst.Arg]:
    return {a.keyword.value: a for a in call.args if a.keyword is not None}


def _example_count(call: cst.Call) -> int:
    """How many example inputs the call passes (a tuple literal's length; else one)."""
    args = [a for a in call.args if a.keyword is None]
    example = args[1].value if len(args) > 1 else _keywords(call).get("args", cst.Arg(cst.Name("x"))).value
    if isinstance(example, cst.Tuple):
        return max(1, len(example.elements))
    return 1


def _io_names(site: Site, call: cst.Call) -> Tuple[List[str], List[str]]:
    """Input names: ``forward``'s parameters for as many example inputs as the call passes (``input``,
    ``input_1``, ... when the model's class is not in this file); output: ``output``."""
    count = _example_count(call)
    params = site.forward_params(call) or []
    inputs = params[:count] if len(params) >= count else (["input"] + [f"input_{i}" for i in range(1, count)])
    return inputs, ["output"]


def _literal_strings(arg: Optional[cst.Arg]) -> Optional[List[str]]:
    if arg is None or not isinstance(arg.value, (cst.List, cst.Tuple)):
        return None
    out = []
    for e in arg.value.elements:
        if not isinstance(e.value, cst.SimpleString):
            return None
        value = e.value.evaluated_value
        if not isinstance(value, str):
            return None
        out.append(value)
    return out


def _add_keywords(call: cst.Call, new: Sequence[Tuple[str, str]]) -> cst.Call:
    """``call`` with ``name=<expr source>`` keywords appended (spacing: ``, `` between, the call's own trailing
    comma, if any, kept at the end)."""
    have = _keywords(call)
    new = [(k, v) for k, v in new if k not in have]
    if not new:
        return call
    args = list(call.args)
    trailing = args[-1].comma if args else cst.MaybeSentinel.DEFAULT
    separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    end: Union[cst.Comma, cst.MaybeSentinel] = cst.MaybeSentinel.DEFAULT
    if isinstance(trailing, cst.Comma) and isinstance(trailing.whitespace_after, cst.ParenthesizedWhitespace):
        # one argument per line, closed by a trailing comma: the new ones on lines of their own, indented as the
        # others (the break between the previous arguments), the trailing comma kept at the end
        end = trailing
        between = next((a.comma for a in reversed(args[:-1]) if isinstance(a.comma, cst.Comma)), None)
        if between is not None and isinstance(between.whitespace_after, cst.ParenthesizedWhitespace):
            separator = between
    elif isinstance(trailing, cst.Comma):
        end = trailing  # ``f(a, b,)``
    if args:
        args[-1] = args[-1].with_changes(comma=separator)
    equal = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
    added = [cst.Arg(keyword=cst.Name(k), value=cst.parse_expression(v), equal=equal, comma=separator) for k, v in new]
    added[-1] = added[-1].with_changes(comma=end)
    return call.with_changes(args=(*args, *added))


def _py_list(names: Sequence[str]) -> str:
    return "[" + ", ".join(repr(n).replace("'", '"') for n in names) + "]"


def fix_pt402(site: Site, finding: Finding) -> Optional[Change]:
    """Add ``input_names=[...]`` (``forward``'s parameters) and ``output_names=["output"]``."""
    call = site.at(finding, cst.Call)
    if not isinstance(call, cst.Call):
        return None
    inputs, outputs = _io_names(site, call)

    def add(node: cst.CSTNode) -> Replacement:
        assert isinstance(node, cst.Call)
        return _add_keywords(node, [("input_names", _py_list(inputs)), ("output_names", _py_list(outputs))])

    return Change(edits=[(call, add)])


def _dynamo(call: cst.Call) -> bool:
    arg = _keywords(call).get("dynamo")
    return not (arg is not None and isinstance(arg.value, cst.Name) and arg.value.value == "False")


def fix_pt401(site: Site, finding: Finding) -> Optional[Change]:
    """The batch dimension (0) of every example input made dynamic: ``dynamic_shapes`` keyed by ``forward``'s
    parameters for the dynamo exporter (a tuple per example input when the class is not in this file),
    ``dynamic_axes`` keyed by the input and output names for ``dynamo=False`` (adding the names when missing)."""
    call = site.at(finding, cst.Call)
    if not isinstance(call, cst.Call):
        return None
    torch = site.alias("torch")
    count = _example_count(call)
    params = site.forward_params(call)
    change = Change()
    if torch is None:
        change.imports.append(("torch", None))
    inputs, outputs = _io_names(site, call)

    def add(node: cst.CSTNode) -> Replacement:
        assert isinstance(node, cst.Call)
        have = _keywords(node)
        if "dynamic_shapes" in have or "dynamic_axes" in have:
            return node
        if _dynamo(node):
            dim = f'{torch or "torch"}.export.Dim("batch")'
            if params is not None and len(params) >= count:
                spec = "{" + ", ".join(f'"{p}": {{0: {dim}}}' for p in params[:count]) + "}"
            else:
                spec = "(" + ", ".join(f"{{0: {dim}}}" for _ in range(count)) + ("," if count == 1 else "") + ")"
            return _add_keywords(node, [("dynamic_shapes", spec)])
        ins = _literal_strings(have.get("input_names")) or inputs
        outs = _literal_strings(have.get("output_names")) or outputs
        axes = "{" + ", ".join(f'"{n}": {{0: "batch"}}' for n in (*ins, *outs)) + "}"
        return _add_keywords(
            node, [("input_names", _py_list(ins)), ("output_names", _py_list(outs)), ("dynamic_axes", axes)]
        )

    change.edits.append((call, add))
    return change


# -- TF405: register the Keras class ------------------------------------------------------------------------------------
def fix_tf405(site: Site, finding: Finding) -> Optional[Change]:
    """``@keras.saving.register_keras_serializable()`` on the class, spelled through the module its base
    class comes from (``tf.keras.saving...`` for ``tf.keras.layers.Layer``)."""
    name = site.at(finding, cst.Name)
    cls = site.parents.get(name) if name is not None else None
    if not isinstance(cls, cst.ClassDef) or cls.name is not name:
        return None
    prefix = None
    for base in cls.bases:
        parts = site.code(base.value).split(".")
        if "keras" in parts:
            prefix = ".".join(parts[: parts.index("keras") + 1])
            break
    change = Change()
    if prefix is None or not site.binds(prefix.split(".")[0]):
        prefix = "keras"
        if not site.binds("keras"):
            change.imports.append(("keras", None))
    decorator_src = f"{prefix}.saving.register_keras_serializable()"

    def decorate(node: cst.CSTNode) -> Replacement:
        assert isinstance(node, cst.ClassDef)
        if any("register_keras_serializable" in site.module.code_for_node(d.decorator) for d in node.decorators):
            return node
        decorator = cst.Decorator(decorator=cst.parse_expression(decorator_src))
        return node.with_changes(decorators=(decorator, *node.decorators))

    change.edits.append((cls, decorate))
    return change


# -- PT102: keep the 0-d tensor ---------------------------------------------------------------------------------------------
#: ``torch.<name>`` functions that take a 0-d tensor wherever they take a Python number (elementwise math)
_TORCH_TAKES_0D = frozenset(
    "add sub mul div true_divide pow maximum minimum clamp clip where lerp fmod remainder atan2 hypot "
    "exp log sqrt rsqrt abs neg sigmoid tanh relu sin cos".split()
)
_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)


def _root_name(expr: cst.BaseExpression) -> Optional[str]:
    """``x`` for ``x``, ``x.mean()``, ``x[0].sum(dim=1)``: the name the expression is computed from."""
    while True:
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            expr = expr.func.value
        elif isinstance(expr, cst.Subscript):
            expr = expr.value
        elif isinstance(expr, cst.Name):
            return expr.value
        else:
            return None


#: tensor methods that return a tensor on the same device (not ``size``, ``dim``, ``numel``, ``tolist``...)
_TENSOR_METHODS = frozenset(
    "abs neg exp log sqrt sigmoid tanh relu clamp clip float double half t transpose permute reshape view "
    "flatten squeeze unsqueeze contiguous softmax log_softmax mean sum std var max min amax amin norm detach "
    "clone".split()
)


def _known_tensor(site: Site, expr: cst.BaseExpression, tensor: str) -> bool:
    """Whether ``expr`` is computed from the tensor the number came from (the name ``tensor``, an index of it, a
    tensor method or elementwise ``torch`` function of it, arithmetic on it): combined with a 0-d tensor of the
    same device it gives a tensor of the dtype the Python number gives (0-d tensors promote as scalars do)."""
    if isinstance(expr, cst.Name):
        return expr.value == tensor
    if isinstance(expr, cst.Subscript):
        return _known_tensor(site, expr.value, tensor)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, _ARITHMETIC):
        return _known_tensor(site, expr.left, tensor) or _known_tensor(site, expr.right, tensor)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        return _known_tensor(site, expr.expression, tensor)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        if expr.func.attr.value in _TENSOR_METHODS and _known_tensor(site, expr.func.value, tensor):
            return True
        first = expr.args[0] if expr.args and expr.args[0].keyword is None and not expr.args[0].star else None
        return _torch_takes_0d(site, expr) and first is not None and _known_tensor(site, first.value, tensor)
    return False


def _torch_takes_0d(site: Site, call: cst.Call) -> bool:
    torch = site.alias("torch")
    name = site.code(call.func)
    return torch is not None and name.startswith(torch + ".") and name[len(torch) + 1 :] in _TORCH_TAKES_0D


def _use_takes_0d(site: Site, use: cst.BaseExpression, tensor: str, fn: cst.FunctionDef) -> bool:
    """Whether the place ``use`` (the number) sits in works the same on a 0-d tensor: arithmetic with the tensor
    it came from, an argument of an elementwise ``torch`` function, or what ``forward`` returns. Anything else
    (``range``, an index, an f-string, a comparison, another function, an annotation) may need a Python number."""
    parent = site.parents.get(use)
    if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, cst.Minus):
        return _use_takes_0d(site, parent, tensor, fn)
    if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, _ARITHMETIC):
        other = parent.right if parent.left is use else parent.left
        return _known_tensor(site, other, tensor)
    if isinstance(parent, cst.Arg) and parent.star == "":
        call = site.parents.get(parent)
        return isinstance(call, cst.Call) and _torch_takes_0d(site, call)
    if isinstance(parent, cst.Element) and isinstance(site.parents.get(parent), cst.Tuple):
        tup = site.parents.get(parent)
        parent = site.parents.get(tup) if tup is not None else None  # ``return out, n``
    if isinstance(parent, cst.Return):
        return _returns_tensor(fn)
    return False


def _returns_tensor(fn: cst.FunctionDef) -> bool:
    """A ``forward`` (the exported entry point: its outputs are tensors) with no non-tensor return annotation."""
    return fn.name.value == "forward" and (fn.returns is None or "Tensor" in cst.Module([]).code_for_node(fn.returns))


def _scope(site: Site, node: cst.CSTNode) -> Optional[cst.CSTNode]:
    return site.ancestor(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.BaseComp))


def _inside(site: Site, node: cst.CSTNode, outer: cst.CSTNode) -> bool:
    parent = site.parents.get(node)
    while parent is not None and parent is not outer:
        parent = site.parents.get(parent)
    return parent is outer


def _stored(site: Site, node: cst.Name) -> bool:
    """Whether ``node`` is a name bound here (an assignment or loop target, also inside a tuple, ``as``, ``:=``,
    ``global``, ``del``...), not read."""
    child: cst.CSTNode = node
    parent = site.parents.get(node)
    while isinstance(parent, (cst.Element, cst.Tuple, cst.List, cst.StarredElement)):
        child, parent = parent, site.parents.get(parent)
    if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr, cst.CompFor)):
        return getattr(parent, "target", None) is child
    return isinstance(parent, (cst.AsName, cst.NameItem, cst.Del, cst.Param, cst.ImportAlias))


def _uses(site: Site, fn: cst.FunctionDef, name: str) -> Optional[List[cst.Name]]:
    """The reads of ``name`` in ``fn``, when ``fn`` binds it exactly once, by a plain assignment, and no nested
    scope (closure, lambda, comprehension) sees it."""
    loads: List[cst.Name] = []
    stores = 0
    for node in site.positions:
        if not isinstance(node, cst.Name) or node.value != name or not _inside(site, node, fn):
            continue
        parent = site.parents.get(node)
        if (isinstance(parent, cst.Attribute) and parent.attr is node) or (
            isinstance(parent, cst.Arg) and parent.keyword is node
        ):
            continue  # ``self.scale``, ``f(scale=...)``: not the variable
        if _scope(site, node) is not fn:
            return None  # a nested scope uses the name
        if _stored(site, node):
            if not (isinstance(parent, cst.AssignTarget) and parent.target is node):
                return None  # rebound otherwise than by the one plain assignment
            stores += 1
        else:
            loads.append(node)
    return loads if stores == 1 else None


def fix_pt102(site: Site, finding: Finding) -> Optional[Change]:
    """``x.mean().item()`` -> ``x.mean().detach()`` (a 0-d tensor instead of a Python number; ``detach`` keeps
    gradients from flowing through it, as ``.item()`` did), only where every use of the number works the same on
    the 0-d tensor (``_use_takes_0d``): the call's own place, or every use of the one name it is assigned to.
    Elsewhere no fix: the code may need the Python number."""
    call = site.at(finding, cst.Call)
    if not (
        isinstance(call, cst.Call)
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "item"
        and not call.args
    ):
        return None
    fn = site.ancestor(call, (cst.FunctionDef, cst.Lambda, cst.BaseComp))
    tensor = _root_name(call.func.value)
    if not isinstance(fn, cst.FunctionDef) or tensor is None:
        return None
    if re.search(r"\b(to|type|double|float64|complex\w*|cdouble)\b", site.code(call.func.value)):
        return None  # a cast: a 0-d float64 tensor would promote an int tensor to float64 where a number gives float32
    parent = site.parents.get(call)
    if isinstance(parent, cst.Assign):
        targets = parent.targets
        if len(targets) != 1 or not isinstance(targets[0].target, cst.Name) or parent.value is not call:
            return None
        name = targets[0].target.value
        if name == tensor:
            return None  # ``x = x.sum().item()``: the tensor it came from is gone
        uses = _uses(site, fn, name)
        if not uses or not all(_use_takes_0d(site, u, tensor, fn) for u in uses):
            return None
        if any(_in_arithmetic(site, u) and _assigned_between(site, fn, tensor, call, u) for u in uses):
            return None  # the tensor it is combined with may no longer be the tensor it came from
    elif not _use_takes_0d(site, call, tensor, fn):
        return None

    def detach(node: cst.CSTNode) -> Replacement:
        assert isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        return node.with_changes(func=node.func.with_changes(attr=cst.Name("detach")))

    return Change(edits=[(call, detach)])


def _in_arithmetic(site: Site, use: cst.CSTNode) -> bool:
    parent = site.parents.get(use)
    while isinstance(parent, cst.UnaryOperation):
        parent = site.parents.get(parent)
    return isinstance(parent, cst.BinaryOperation)


def _assigned_between(site: Site, fn: cst.FunctionDef, tensor: str, start: cst.CSTNode, end: cst.CSTNode) -> bool:
    """Whether ``tensor`` is assigned in ``fn`` between ``start`` and ``end`` (by position): after it the name
    need not be the tensor the number came from."""
    begin, stop = site.positions[start].start, site.positions[end].start
    for node in site.positions:
        if isinstance(node, cst.Name) and node.value == tensor and site.ancestor(node, cst.FunctionDef) is fn:
            if not _stored(site, node):
                continue
            # an assignment binds after its value is computed: ``x = x * n`` still multiplies the old ``x``
            statement = site.ancestor(node, (cst.SimpleStatementLine, cst.For, cst.With, cst.FunctionDef))
            anchor = statement if isinstance(statement, cst.SimpleStatementLine) else node
            where = site.positions[anchor].end if anchor is statement else site.positions[node].start
            if (begin.line, begin.column) < (where.line, where.column) <= (stop.line, stop.column):
                return True
    return False


# -- PT101: torch.where for a two-branch tensor ``if`` ----------------------------------------------------------------
def _single(block: cst.BaseSuite) -> Optional[cst.BaseSmallStatement]:
    """The one small statement of a block (``y = a`` / ``return a``), else None."""
    body = block.body
    if len(body) != 1:
        return None
    stmt = body[0]
    if isinstance(stmt, cst.SimpleStatementLine):
        return stmt.body[0] if len(stmt.body) == 1 else None
    if isinstance(stmt, cst.BaseSmallStatement):  # ``if c: y = a`` on one line
        return stmt
    return None


def _assigned(small: Optional[cst.BaseSmallStatement]) -> Optional[Tuple[str, cst.BaseExpression]]:
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value, small.value
    return None


def _tensor_condition(test: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The test as a boolean tensor for ``torch.where``: a comparison whose left side is a method call
    (``x.sum() > 0``; ``bool(...)`` around it dropped). A plain name may hold a Python number (``scale == 0``
    after ``float(...)``), which ``torch.where`` does not take: not rewritten."""
    if (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Name)
        and test.func.value == "bool"
        and len(test.args) == 1
        and not test.lpar
    ):
        test = test.args[0].value
    if (
        isinstance(test, cst.Comparison)
        and isinstance(test.left, cst.Call)
        and isinstance(test.left.func, cst.Attribute)
    ):
        if all(not isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in test.comparisons):
            return test
    return None


def fix_pt101(site: Site, finding: Finding) -> Optional[Change]:
    """``if c: y = a / else: y = b`` -> ``y = torch.where(c, a, b)``; the same for ``return a`` / ``return b``
    (also when ``return b`` follows the ``if``). Unsafe: both sides are now computed, and ``a`` / ``b`` must be
    tensors (or numbers) of shapes that broadcast."""
    test = site.at(finding, cst.BaseExpression)
    node = site.parents.get(test) if test is not None else None
    if not isinstance(node, cst.If) or not isinstance(site.parents.get(node), (cst.IndentedBlock, cst.Module)):
        return None  # an ``elif`` or a ``while``
    header = node.body.header if isinstance(node.body, cst.IndentedBlock) else cst.TrailingWhitespace()
    bare = node.with_changes(body=node.body.with_changes(header=cst.TrailingWhitespace()))
    if node.test is not test or "#" in site.code(bare):  # a comment other than the ``if`` line's would be lost
        return None
    condition = _tensor_condition(node.test)
    if condition is None:
        return None
    torch = site.alias("torch")
    change = Change(imports=[] if torch else [("torch", None)])
    where = f"{torch or 'torch'}.where"
    cond = site.code(condition)
    then = _single(node.body)
    orelse = node.orelse
    other: Optional[cst.BaseSmallStatement] = None
    following: Optional[cst.CSTNode] = None
    if isinstance(orelse, cst.Else):
        other = _single(orelse.body)
    elif orelse is None and isinstance(then, cst.Return):
        parent = site.parents.get(node)
        body = list(getattr(parent, "body", ()))
        index = next((i for i, n in enumerate(body) if n is node), -1)
        if 0 <= index < len(body) - 1 and isinstance(body[index + 1], cst.SimpleStatementLine):
            line = body[index + 1]
            following = line
            other = line.body[0] if len(line.body) == 1 else None
    else:
        return None
    if isinstance(then, cst.Return) and isinstance(other, cst.Return) and then.value and other.value:
        new = f"return {where}({cond}, {site.code(then.value)}, {site.code(other.value)})\n"
    else:
        a, b = _assigned(then), _assigned(other)
        if a is None or b is None or a[0] != b[0] or following is not None:
            return None
        new = f"{a[0]} = {where}({cond}, {site.code(a[1])}, {site.code(b[1])})\n"

    def replace(old: cst.CSTNode) -> Replacement:
        assert isinstance(old, cst.If)
        stmt = cst.parse_statement(new)
        assert isinstance(stmt, cst.SimpleStatementLine)
        return stmt.with_changes(leading_lines=old.leading_lines, trailing_whitespace=header)

    change.edits.append((node, replace))
    if following is not None:
        change.edits.append((following, lambda _: cst.RemovalSentinel.REMOVE))
    return change


# -- TF401: input_signature from the model's contract ------------------------------------------------------------------
_TF_DTYPES = {"string": "string"}  # canonical contract dtype -> tf attribute (the others are spelled the same)


def _factory_names_class(factory: str, path: str, cls: str, site: Site) -> bool:
    """Whether a model ``factory`` (``module:attr``) builds ``cls`` of the file at ``path``: ``attr`` is the class,
    or a function of this file that returns ``cls(...)``, and ``module`` is this file."""
    module, _, attr = factory.partition(":")
    stem = path[:-3] if path.endswith(".py") else path
    if stem.endswith("/__init__"):
        stem = stem[: -len("/__init__")]
    dotted = module.replace(".", "/")
    if not module or not (stem == dotted or stem.endswith("/" + dotted)):
        return False
    if attr == cls:
        return True
    for stmt in site.module.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == attr:
            returns = [
                n for n in site.positions if isinstance(n, cst.Return) and site.ancestor(n, cst.FunctionDef) is stmt
            ]
            return bool(returns) and all(r.value is not None and _constructed(r.value) == cls for r in returns)
    return False


def _contract_for(site: Site, path: str, cls: str) -> Optional[Mapping[str, Any]]:
    """The one contract declared for a model built from ``cls`` that applies to SavedModel, else None."""
    found = [
        contract
        for factory, contract in site.project.contracts
        if _factory_names_class(factory, path, cls, site)
        and (contract.get("targets") is None or "savedmodel" in contract["targets"])
    ]
    return found[0] if len(found) == 1 else None


def _tf_function(decorator: cst.Decorator, tf: str, site: Site) -> Optional[cst.BaseExpression]:
    """The decorator's ``tf.function`` / ``tf.function(...)`` expression, else None."""
    expr = decorator.decorator
    func = expr.func if isinstance(expr, cst.Call) else expr
    return expr if site.code(func) == f"{tf}.function" else None


def _tensor_specs(contract: Mapping[str, Any], tf: str) -> Optional[str]:
    """``[tf.TensorSpec(shape=[None, 3], dtype=tf.float32, name="x"), ...]`` for the contract's inputs; None when
    one has no dtype (guessing one would save a signature the contract does not declare)."""
    specs = []
    for tensor in contract.get("inputs", ()):
        dtype = tensor.get("dtype")
        if not dtype:
            return None
        shape = tensor.get("shape")
        dims = (
            "None" if shape is None else "[" + ", ".join(str(d) if isinstance(d, int) else "None" for d in shape) + "]"
        )
        name = json.dumps(tensor["name"])
        specs.append(f"{tf}.TensorSpec(shape={dims}, dtype={tf}.{_TF_DTYPES.get(dtype, dtype)}, name={name})")
    return "[" + ", ".join(specs) + "]" if specs else None


def fix_tf401(site: Site, finding: Finding) -> Optional[Change]:
    """``input_signature=[tf.TensorSpec(...)]`` on the saved module's one unsigned ``tf.function``, built from the
    contract declared for the model (one input per parameter, the contract's names, dtypes and dims with ``None``
    where dynamic). No contract, several unsigned functions, another signed one (it would be a second signature,
    TF402), or parameters that do not line up with the contract's inputs: no fix."""
    names = _message_names(finding)  # the call, the class, the unsigned methods, `input_signature`, `signatures=`
    tf = site.alias("tensorflow")
    if len(names) != 5 or tf is None:
        return None
    cls = site.classes().get(names[1])
    contract = _contract_for(site, finding.path, names[1]) if cls is not None else None
    if cls is None or contract is None:
        return None
    target: Optional[Tuple[cst.FunctionDef, cst.Decorator]] = None
    for stmt in cls.body.body:
        if not isinstance(stmt, cst.FunctionDef):
            continue
        for decorator in stmt.decorators:
            expr = _tf_function(decorator, tf, site)
            if expr is None:
                continue
            signed = isinstance(expr, cst.Call) and any(
                a.keyword is not None and a.keyword.value == "input_signature" or a.keyword is None for a in expr.args
            )
            if stmt.name.value == names[2] and not signed:
                target = (stmt, decorator)
            elif signed:
                return None  # a second signed function: no serving_default (TF402)
    specs = _tensor_specs(contract, tf)
    if target is None or specs is None:
        return None
    fn, decorator = target
    params = fn.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    if positional[:1] == ["self"]:
        positional = positional[1:]
    if (
        params.star_arg is not cst.MaybeSentinel.DEFAULT
        or params.kwonly_params
        or params.star_kwarg is not None
        or len(positional) != len(contract.get("inputs", ()))
    ):
        return None

    def sign(node: cst.CSTNode) -> Replacement:
        assert isinstance(node, cst.Decorator)
        expr = node.decorator
        if isinstance(expr, cst.Call):
            return node.with_changes(decorator=_add_keywords(expr, [("input_signature", specs)]))
        return node.with_changes(decorator=cst.parse_expression(f"{site.code(expr)}(input_signature={specs})"))

    return Change(edits=[(decorator, sign)])


# -- PT211: x.data -> x.detach() -----------------------------------------------------------------------------------------
def fix_pt211(site: Site, finding: Finding) -> Optional[Change]:
    """``x.data`` -> ``x.detach()`` where it is only read (same storage, no gradient). Not where it is written
    through (an assignment target, ``x.data[...]``, an in-place ``x.data.add_(...)``): there ``detach()`` shares the
    version counter, so autograd would see the write, which ``.data`` hides. Unsafe for the same reason: a later
    in-place change of ``x`` may now fail in ``backward``."""
    node = site.at(finding, cst.Attribute)
    if not isinstance(node, cst.Attribute) or node.attr.value != "data":
        return None
    parent = site.parents.get(node)
    if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.Subscript, cst.Del)):
        return None
    if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value.endswith("_"):
        return None

    def detach(old: cst.CSTNode) -> Replacement:
        assert isinstance(old, cst.Attribute)
        return cst.Call(func=old.with_changes(attr=cst.Name("detach"), lpar=(), rpar=()), lpar=old.lpar, rpar=old.rpar)

    return Change(edits=[(node, detach)])


# -- PT403: dynamic_shapes for the sizes the file feeds ------------------------------------------------------------------
def fix_pt403(site: Site, finding: Finding) -> Optional[Change]:
    """``dynamic_shapes=`` for ``torch.export.export`` making dynamic exactly the dimensions that differ between the
    input shapes the message lists (dimension 0 named ``batch``, others ``dim<i>``), keyed by ``forward``'s parameter
    when the model's class is in the file. Only for one example input, and shapes of one rank. Unsafe: a model that
    specializes on such a dimension now fails to export, with the constraint that fails named."""
    call = site.at(finding, cst.Call)
    if not isinstance(call, cst.Call) or _example_count(call) != 1:
        return None
    listed = finding.message.split(" is fed inputs of shapes ", 1)
    if len(listed) != 2:
        return None
    shapes = [tuple(int(d) for d in m.split(",") if d.strip()) for m in re.findall(r"\(([\d, ]*)\)", listed[1])]
    if len(shapes) < 2 or len({len(shape) for shape in shapes}) != 1:
        return None
    varying = [i for i in range(len(shapes[0])) if len({shape[i] for shape in shapes}) > 1]
    if not varying:
        return None
    torch = site.alias("torch")
    change = Change(imports=[] if torch else [("torch", None)])
    dims = (
        "{"
        + ", ".join(f'{i}: {torch or "torch"}.export.Dim("{"batch" if i == 0 else f"dim{i}"}")' for i in varying)
        + "}"
    )
    params = site.forward_params(call)
    spec = f'{{"{params[0]}": {dims}}}' if params else f"({dims},)"

    def add(node: cst.CSTNode) -> Replacement:
        assert isinstance(node, cst.Call)
        return node if "dynamic_shapes" in _keywords(node) else _add_keywords(node, [("dynamic_shapes", spec)])

    change.edits.append((call, add))
    return change


CODEMODS: Dict[str, Callable[[Site, Finding], Optional[Change]]] = {
    "PT101": fix_pt101,
    "PT102": fix_pt102,
    "PT205": fix_pt205,
    "PT211": fix_pt211,
    "PT206": fix_pt206,
    "PT401": fix_pt401,
    "PT402": fix_pt402,
    "PT403": fix_pt403,
    "PT405": fix_pt405,
    "TF401": fix_tf401,
    "TF405": fix_tf405,
}
