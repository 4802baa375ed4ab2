"""Source positions for reported nodes only.

LibCST's ``PositionProvider`` runs a position-tracking code generation over the whole module,
which costs about 2.4 times the parse. Findings are rare, so positions are computed per top-level
statement, on demand: the line where each top-level statement starts (a cheap plain codegen),
then a position-tracking codegen of just the statement that holds a finding.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst._position import CodeRange
from libcst.metadata.position_provider import NEWLINE_RE, PositionProvidingCodegenState

from mllint.findings import Span


class _Sink:
    """Stands in for a metadata provider: the codegen state only writes ``_computed``."""

    def __init__(self) -> None:
        self._computed: Dict[cst.CSTNode, CodeRange] = {}


class Positions:
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self._starts: Optional[List[int]] = None
        #: per top-level statement: node -> (line, col, end line, end col); plain tuples, since a model
        #: class holds tens of thousands of nodes and LibCST's CodeRange objects triple the memory
        self._ranges: Dict[int, Dict[cst.CSTNode, Tuple[int, int, int, int]]] = {}
        self._index = {id(stmt): i for i, stmt in enumerate(module.body)}

    def _statement_starts(self) -> List[int]:
        if self._starts is None:
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
            self._starts = starts
        return self._starts

    def _ranges_for(self, top_index: int) -> Dict[cst.CSTNode, Tuple[int, int, int, int]]:
        ranges = self._ranges.get(top_index)
        if ranges is None:
            sink = _Sink()
            state = PositionProvidingCodegenState(
                default_indent=self.module.default_indent,
                default_newline=self.module.default_newline,
                provider=sink,  # type: ignore[arg-type]
            )
            state.line = self._statement_starts()[top_index]
            self.module.body[top_index]._codegen(state)
            ranges = self._ranges[top_index] = {
                node: (r.start.line, r.start.column, r.end.line, r.end.column) for node, r in sink._computed.items()}
        return ranges

    def span(self, node: cst.CSTNode, top: cst.CSTNode) -> Span:
        """Span of ``node``, which lies inside the top-level statement ``top``."""
        index = self._index[id(top)]
        return Span(*self._ranges_for(index)[node])
