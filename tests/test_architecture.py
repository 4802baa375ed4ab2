"""The layout the developers' guide promises: no import cycle between mllint's modules, and the run
orchestration (engine.py) stays small, with each pipeline stage in its own module."""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Dict, List, Set

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@functools.lru_cache(maxsize=None)  # parsing every module takes about a second: once per session (read-only)
def _imports() -> Dict[str, Set[str]]:
    """Module -> mllint modules it imports anywhere (deferred imports inside functions too: a cycle
    broken by deferring an import is still a cycle), except under ``if TYPE_CHECKING:``."""
    modules = {_module_name(p): p for p in (SRC / "mllint").rglob("*.py")}
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps: Set[str] = set()
        typing_only = {
            id(n)
            for top in ast.walk(tree)
            if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
            for n in ast.walk(top)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:
                    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + [node.module])
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    deps.add(full if full in modules else base)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def test_no_import_cycle() -> None:
    graph = _imports()
    state: Dict[str, int] = {}
    cycles: List[List[str]] = []

    def visit(node: str, stack: List[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep] if dep in stack else [node, dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_engine_is_the_run_only() -> None:
    engine = (SRC / "mllint" / "engine.py").read_text(encoding="utf-8")
    assert len(engine.splitlines()) < 500
    for stage in ("project", "session", "tracking", "assembly", "parallel"):
        assert (SRC / "mllint" / f"{stage}.py").is_file()
    graph = _imports()
    assert "mllint.engine" not in graph["mllint.parallel"]
