"""Source positions for reported nodes only.

LibCST's ``PositionProvider`` runs a position-tracking code generation over the whole module,
which costs about 2.4 times the parse. Findings are rare, so positions are computed per statement,
on demand: where the statement starts (from Python's ``ast`` line numbers, else a plain codegen),
then a position-tracking codegen of just the statement (or class member) that holds a finding.
"""

from __future__ import annotations

import ast
from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst._position import CodeRange
from libcst.metadata.position_provider import NEWLINE_RE, PositionProvidingCodegenState

from mllint.analysis.names import child_nodes
from mllint.findings import Span


class _Sink:
    """Stands in for a metadata provider: the codegen state only writes ``_computed``."""

    def __init__(self) -> None:
        self._computed: Dict[cst.CSTNode, CodeRange] = {}


class Positions:
    """Positions of reported nodes, computed per statement on demand.

    With the source ``text``, where a statement starts is read from Python's own ``ast`` line numbers
    (a fraction of a codegen) and only the statement holding a finding is codegen'd with position
    tracking: for a class, just the method (or other member) that holds it. Every such codegen is
    checked against the text at the line it was placed on; on any mismatch the whole top-level
    statement is placed by plain codegen instead, so positions are always those of the text.
    """

    def __init__(self, module: cst.Module, text: Optional[str] = None) -> None:
        self.module = module
        self.text = text
        self._starts: Optional[List[int]] = None
        #: (top-level index, member index or -1) -> node -> (line, col, end line, end col); plain tuples,
        #: since a model class holds tens of thousands of nodes and LibCST's CodeRange objects triple the memory
        self._ranges: Dict[Tuple[int, int], Dict[cst.CSTNode, Tuple[int, int, int, int]]] = {}
        self._index = {id(stmt): i for i, stmt in enumerate(module.body)}
        self._members: Dict[int, Dict[int, int]] = {}  # class index -> id(node) -> member index
        self._ast: Optional[List[object]] = None
        self._line_offsets: Optional[List[int]] = None

    # -- where statements start -----------------------------------------------------------------
    def _statement_starts(self) -> List[int]:
        if self._starts is None:
            self._starts = self._ast_starts() or self._codegen_starts()
        return self._starts

    def _codegen_starts(self) -> List[int]:
        line = 1
        state = CodegenState(self.module.default_indent, self.module.default_newline)
        for h in self.module.header:
            h._codegen(state)
        line += sum(len(NEWLINE_RE.findall(t)) for t in state.tokens)
        starts = []
        for stmt in self.module.body:
            starts.append(line)
            code = self.module.code_for_node(stmt)
            line += len(NEWLINE_RE.findall(code))
        return starts

    def _ast_body(self) -> Optional[List[object]]:
        if self._ast is None and self.text is not None:
            try:
                self._ast = list(ast.parse(self.text).body)
            except (SyntaxError, ValueError):
                self.text = None
        return self._ast

    def _ast_starts(self, cst_body: Optional[Sequence[cst.CSTNode]] = None,
                    ast_body: Optional[Sequence[object]] = None) -> Optional[List[int]]:
        """First line (leading comment and blank lines included) of each statement of a block."""
        if cst_body is None:
            cst_body, ast_body = self.module.body, self._ast_body()
        if ast_body is None:
            return None
        starts: List[int] = []
        j = 0
        for stmt in cst_body:
            if j >= len(ast_body):
                return None
            first = ast_body[j]
            lead = len(getattr(stmt, "leading_lines", ()))
            decorators = getattr(stmt, "decorators", ())
            if isinstance(stmt, cst.SimpleStatementLine):
                j += len(stmt.body)
                line = first.lineno  # type: ignore[attr-defined]
            else:
                j += 1
                if decorators and getattr(first, "decorator_list", None):
                    line = first.decorator_list[0].lineno  # type: ignore[attr-defined]
                    lead += len(decorators[0].leading_lines)
                else:
                    line = first.lineno  # type: ignore[attr-defined]
            starts.append(line - lead)
        return starts if j == len(ast_body) else None

    def _ast_index(self, top_index: int) -> Optional[object]:
        """The ``ast`` statement of the top-level CST statement ``top_index`` (compound statements only)."""
        body = self._ast_body()
        if body is None:
            return None
        j = 0
        for i, stmt in enumerate(self.module.body):
            if i == top_index:
                return body[j] if j < len(body) else None
            j += len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
        return None

    # -- position-tracking codegen of one statement ------------------------------------------------
    def _track(self, stmt: cst.CSTNode, line: int, indent: Optional[str]) -> Optional[Dict[cst.CSTNode, Tuple[int, int, int, int]]]:
        sink = _Sink()
        state = PositionProvidingCodegenState(
            default_indent=self.module.default_indent,
            default_newline=self.module.default_newline,
            provider=sink,  # type: ignore[arg-type]
        )
        state.line = line
        if indent is not None:
            state.increase_indent(indent)
        stmt._codegen(state)
        if self.text is not None and not self._matches_text("".join(state.tokens), line):
            return None
        return {node: (r.start.line, r.start.column, r.end.line, r.end.column) for node, r in sink._computed.items()}

    def _matches_text(self, code: str, line: int) -> bool:
        assert self.text is not None
        if self._line_offsets is None:
            offsets = [0]
            for m in NEWLINE_RE.finditer(self.text):
                offsets.append(m.end())
            self._line_offsets = offsets
        if not 1 <= line <= len(self._line_offsets):
            return False
        start = self._line_offsets[line - 1]
        return self.text.startswith(code, start)

    def _top_ranges(self, top_index: int) -> Dict[cst.CSTNode, Tuple[int, int, int, int]]:
        key = (top_index, -1)
        ranges = self._ranges.get(key)
        if ranges is None:
            ranges = self._track(self.module.body[top_index], self._statement_starts()[top_index], None)
            if ranges is None:  # the ast line numbers did not place it: fall back to codegen for every start
                self.text = None
                self._starts = self._codegen_starts()
                ranges = self._track(self.module.body[top_index], self._starts[top_index], None)
                assert ranges is not None
            self._ranges[key] = ranges
        return ranges

    def _member_ranges(self, top_index: int, member: int) -> Optional[Dict[cst.CSTNode, Tuple[int, int, int, int]]]:
        key = (top_index, member)
        if key in self._ranges:
            return self._ranges[key]
        cls = self.module.body[top_index]
        node = self._ast_index(top_index)
        if not isinstance(cls, cst.ClassDef) or not isinstance(cls.body, cst.IndentedBlock) or node is None:
            return None
        starts = self._ast_starts(cls.body.body, getattr(node, "body", None))
        if starts is None:
            return None
        indent = cls.body.indent if cls.body.indent is not None else self.module.default_indent
        ranges = self._track(cls.body.body[member], starts[member], indent)
        if ranges is not None:
            self._ranges[key] = ranges
        return ranges

    def _member_of(self, top_index: int, node: cst.CSTNode) -> Optional[int]:
        members = self._members.get(top_index)
        if members is None:
            members = self._members[top_index] = {}
            cls = self.module.body[top_index]
            if isinstance(cls, cst.ClassDef) and isinstance(cls.body, cst.IndentedBlock):
                for i, stmt in enumerate(cls.body.body):
                    stack: List[cst.CSTNode] = [stmt]
                    while stack:
                        n = stack.pop()
                        members[id(n)] = i
                        stack.extend(child_nodes(n))
                        if isinstance(n, cst.Parameters):  # ``*args`` / ``**kwargs`` (fields child_nodes skips)
                            stack.extend(p for p in (n.star_arg, n.star_kwarg) if isinstance(p, cst.Param))
        return members.get(id(node))

    def span(self, node: cst.CSTNode, top: cst.CSTNode) -> Span:
        """Span of ``node``, which lies inside the top-level statement ``top``."""
        index = self._index[id(top)]
        if self.text is not None and isinstance(top, cst.ClassDef):
            member = self._member_of(index, node)
            if member is not None:
                ranges = self._member_ranges(index, member)
                if ranges is not None and node in ranges:
                    return Span(*ranges[node])
        return Span(*self._top_ranges(index)[node])
