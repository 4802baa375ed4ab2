"""Autofix: ``mllint check --fix`` / ``--diff`` / ``--unsafe-fixes`` and the SARIF ``fixes`` of results.

A fix is a LibCST codemod (``codemods``) built from the site the finding reports: the file is parsed
again, the reported node found by its position, and the tree transformed, so everything the fix
does not touch keeps its formatting. Whether a rule's fix may run under plain ``--fix`` is the card's
``safety`` (``safe``: the code's runtime behaviour is kept; ``unsafe``: it may change, applied only
with ``--unsafe-fixes``). All of one file's fixes are made in one transformation of one parse.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from mllint.catalogue import Catalogue
from mllint.findings import Edit, Finding, Span
from mllint.fixes.codemods import CODEMODS, Change, ChangeFn, Project, Replacement, Site, load_project

__all__ = [
    "CODEMODS",
    "FileFix",
    "Project",
    "load_project",
    "attach_edits",
    "edits_for",
    "fix_text",
    "fixable",
    "safety_of",
]


def safety_of(code: str, catalogue: Catalogue) -> Optional[str]:
    """``"safe"`` / ``"unsafe"`` for a rule with a codemod and a card that marks its fix; else None."""
    rule = catalogue.get(code)
    return rule.fix_safety if rule is not None and code in CODEMODS else None


def fixable(finding: Finding, catalogue: Catalogue, unsafe: bool) -> bool:
    """Whether ``--fix`` (with ``--unsafe-fixes`` when ``unsafe``) tries this finding."""
    safety = safety_of(finding.code, catalogue)
    return finding.suppressed is None and (safety == "safe" or (unsafe and safety == "unsafe"))


@dataclass
class FileFix:
    """One file's fixes: the new text (None: nothing changed), and what was fixed and what could not be."""

    text: Optional[str] = None
    fixed: List[Finding] = field(default_factory=list)
    unfixed: List[Finding] = field(default_factory=list)


class _Apply(cst.CSTTransformer):
    def __init__(self, changes: Dict[cst.CSTNode, List[ChangeFn]]) -> None:
        super().__init__()
        self.changes = changes

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        result: Replacement = updated_node
        for change in self.changes.get(original_node, ()):
            if not isinstance(result, cst.CSTNode):
                break  # several statements now: the later changes to this statement wait for the next run
            result = change(result)
        return result


def _site(module: cst.Module) -> Site:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    return Site(module, positions, parents)


def _transform(module: cst.Module, changes: Sequence[Change]) -> cst.Module:
    by_node: Dict[cst.CSTNode, List[ChangeFn]] = {}
    for change in changes:
        for node, fn in change.edits:
            by_node.setdefault(node, []).append(fn)
    updated = module.visit(_Apply(by_node))
    imports = sorted({imp for change in changes for imp in change.imports}, key=lambda i: (i[0], i[1] or ""))
    if imports:
        context = CodemodContext()
        for mod, name in imports:
            AddImportsVisitor.add_needed_import(context, mod, name)
        updated = AddImportsVisitor(context).transform_module(updated)
    return updated


def _parsed(text: str) -> Optional[Tuple[cst.Module, Site]]:
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return None
    return module, _site(module)


def fix_text(
    text: str,
    findings: Sequence[Finding],
    parsed: Optional[Tuple[cst.Module, Site]] = None,
    project: Optional[Project] = None,
) -> FileFix:
    """Apply the codemods of ``findings`` (all of one file whose text is ``text``) in one transformation.
    ``parsed``: the text's module and site, when already parsed (the tree is never modified); ``project``:
    what fixes may know beyond the file (the models' contracts)."""
    out = FileFix()
    parsed = parsed or _parsed(text)
    if parsed is None:
        out.unfixed = list(findings)
        return out
    module, site = parsed
    site.project = project or Project()
    changes = []
    for f in findings:
        codemod = CODEMODS.get(f.code)
        change = codemod(site, f) if codemod is not None else None
        if change is None or not change.edits:
            out.unfixed.append(f)
        else:
            changes.append(change)
            out.fixed.append(f)
    if changes:
        new = _transform(module, changes).code
        if new != text:
            out.text = new
    if out.text is None:  # nothing changed: nothing was fixed
        out.unfixed, out.fixed = out.unfixed + out.fixed, []
    return out


def _position(text: str, offset: int, base_line: int) -> Tuple[int, int]:
    """(1-based line, 0-based column) of ``offset`` in ``text``, which starts at line ``base_line``."""
    before = text[:offset]
    line = base_line + before.count("\n")
    return line, offset - (before.rfind("\n") + 1)


def text_edits(old: str, new: str) -> Tuple[Edit, ...]:
    """The replacements that turn ``old`` into ``new``: one per changed block of lines, narrowed to the
    characters that differ (so an added annotation is an insertion at the parameter)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    edits = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        before, after = "".join(a[i1:i2]), "".join(b[j1:j2])
        start = 0
        while start < min(len(before), len(after)) and before[start] == after[start]:
            start += 1
        end = 0
        while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
            end += 1
        line, col = _position(before, start, i1 + 1)
        end_line, end_col = _position(before, len(before) - end, i1 + 1)
        edits.append(Edit(Span(line, col, end_line, end_col), after[start : len(after) - end]))
    return tuple(edits)


def edits_for(
    text: str, finding: Finding, parsed: Optional[Tuple[cst.Module, Site]] = None, project: Optional[Project] = None
) -> Tuple[Edit, ...]:
    """The replacements of ``finding``'s fix alone on ``text`` (for SARIF ``fixes``); empty without a fix."""
    result = fix_text(text, [finding], parsed, project)
    return text_edits(text, result.text) if result.text is not None else ()


def unified_diff(display: str, old: str, new: str) -> str:
    """A ``git apply``-able unified diff (a last line without a newline is marked as diff marks it)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{display}", tofile=f"b/{display}"
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines)


def attach_edits(
    findings: Sequence[Finding],
    root: Path,
    catalogue: Catalogue,
    texts: Optional[Dict[str, str]] = None,
    project: Optional[Project] = None,
) -> List[Finding]:
    """``findings`` with the replacements of their fixes (SARIF ``fixes``), computed on each file's current text
    (``texts``: display path -> text for buffers not on disk, such as stdin). Findings that already carry
    edits, have no codemod, or whose file cannot be read keep what they have."""
    texts = dict(texts or {})
    trees: Dict[str, Optional[Tuple[cst.Module, Site]]] = {}  # one parse per file
    out = []
    for f in findings:
        if f.edits or f.suppressed is not None or safety_of(f.code, catalogue) is None or f.path == "-":
            out.append(f)
            continue
        if f.path not in texts:
            try:
                texts[f.path] = (root / f.path).read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError):
                texts[f.path] = ""
        text = texts[f.path]
        if f.path not in trees:
            trees[f.path] = _parsed(text) if text else None
        tree = trees[f.path]
        edits = edits_for(text, f, tree, project) if tree is not None else ()
        out.append(f.with_(edits=edits) if edits else f)
    return out
