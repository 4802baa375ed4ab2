"""Dotted names and import aliases: a small purpose-built pass instead of LibCST's scope providers.

Only the module's top level (and blocks at top level such as ``try``/``if``) binds imports here;
that covers how model code imports frameworks and project modules.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, Optional, Sequence, Set, Tuple

import libcst as cst

#: Canonical prefixes, so that ``tf.keras`` and ``keras`` style names compare simply.
_CANONICAL = {
    "tensorflow.compat.v2": "tensorflow",
}


_SKIP_FIELDS = ("whitespace", "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after",
                "header", "footer", "equal", "colon", "star", "operator", "lbracket", "rbracket", "lbrace",
                "rbrace", "dot", "asynchronous", "first_", "prefix", "end", "start", "quote")
_CHILD_FIELDS: Dict[type, Tuple[str, ...]] = {}


#: Concrete classes seen in node fields, by whether they are syntax nodes. ``isinstance`` against
#: ``cst.CSTNode`` (an ABC) is several times slower than a set look-up of the exact type.
_NODE_TYPES: Set[type] = set()
_OTHER_TYPES: Set[type] = {str, type(None), bool, int, float}


def _is_node_type(t: type) -> bool:
    if t in _NODE_TYPES:
        return True
    if t in _OTHER_TYPES:
        return False
    (_NODE_TYPES if issubclass(t, cst.CSTNode) else _OTHER_TYPES).add(t)
    return t in _NODE_TYPES


def child_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Direct children that are syntax (not whitespace or punctuation), without LibCST's visitor.

    ``CSTNode.children`` runs a visitor over the node; reading the dataclass fields is several
    times cheaper, and the walker calls this for every expression it visits.
    """
    cls = type(node)
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name for f in dataclasses.fields(node)
            if not f.name.startswith(_SKIP_FIELDS)
        )
        _CHILD_FIELDS[cls] = names
    node_types = _NODE_TYPES
    for name in names:
        value = getattr(node, name)
        t = type(value)
        if t in node_types:
            yield value
        elif t is list or t is tuple:
            for item in value:
                if type(item) in node_types or _is_node_type(type(item)):
                    yield item
        elif t not in _OTHER_TYPES and _is_node_type(t):
            yield value


def dotted(node: cst.BaseExpression) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def literal_strings(node: Optional[cst.BaseExpression]) -> Optional[Tuple[str, ...]]:
    """``["a", "b"]`` / ``("a", "b")`` -> ("a", "b") (``[]`` -> ()); anything else -> None."""
    if not isinstance(node, (cst.List, cst.Tuple)):
        return None
    out = []
    for el in node.elements:
        if not isinstance(el, cst.Element) or not isinstance(el.value, cst.SimpleString):
            return None
        out.append(str(el.value.evaluated_value))
    return tuple(out)


def _module_name(node: cst.BaseExpression) -> str:
    return dotted(node) or ""


def resolve_relative(module: str, is_package: bool, level: int, target: str) -> str:
    """Absolute module for ``from <level dots><target> import``, seen from ``module``."""
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
    base = ".".join(parts)
    if target:
        return f"{base}.{target}" if base else target
    return base


def _iter_top_statements(body: Sequence[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    """Top-level simple statements, looking into ``if``/``try``/``with`` blocks at top level."""
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            yield from stmt.body
        elif isinstance(stmt, cst.If):
            yield from _iter_top_statements(stmt.body.body)
            orelse = stmt.orelse
            while orelse is not None:
                yield from _iter_top_statements(orelse.body.body)
                orelse = orelse.orelse if isinstance(orelse, cst.If) else None
        elif isinstance(stmt, cst.Try):
            yield from _iter_top_statements(stmt.body.body)
            for handler in stmt.handlers:
                yield from _iter_top_statements(handler.body.body)
        elif isinstance(stmt, cst.With):
            yield from _iter_top_statements(stmt.body.body)


def collect_aliases(module: cst.Module, module_name: str, is_package: bool) -> Dict[str, str]:
    """Local name -> fully qualified dotted name, for every import at module level."""
    aliases: Dict[str, str] = {}
    for small in _iter_top_statements(module.body):
        add_import_aliases(small, aliases, module_name, is_package)
    return aliases


def add_import_aliases(small: cst.CSTNode, aliases: Dict[str, str], module_name: str, is_package: bool) -> None:
    if isinstance(small, cst.Import):
        for alias in small.names:
            full = _module_name(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                aliases[alias.asname.name.value] = canonical(full)
            else:
                head = full.split(".")[0]
                aliases[head] = head
    elif isinstance(small, cst.ImportFrom):
        level = len(small.relative)
        target = _module_name(small.module) if small.module is not None else ""
        base = resolve_relative(module_name, is_package, level, target) if level else target
        if isinstance(small.names, cst.ImportStar):
            return
        for alias in small.names:
            name = _module_name(alias.name)
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            aliases[local] = canonical(f"{base}.{name}" if base else name)


def canonical(name: str) -> str:
    for prefix, repl in _CANONICAL.items():
        if name == prefix or name.startswith(prefix + "."):
            return repl + name[len(prefix):]
    return name


def qualify(name: Optional[str], aliases: Dict[str, str]) -> Optional[str]:
    """Qualify a dotted name through the file's import aliases (``nn.Module`` -> ``torch.nn.Module``)."""
    if not name:
        return None
    head, _, rest = name.partition(".")
    base = aliases.get(head)
    if base is None:
        return None
    return f"{base}.{rest}" if rest else base
