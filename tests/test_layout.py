"""The house shows the pipeline: no import cycle among the project's modules (imports inside
functions included), and the store imports nothing above it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("retrieval", "bot")
ABOVE_THE_STORE = ("retrieval.loaders", "retrieval.splitting", "retrieval.ingest", "retrieval.embeddings",
                   "retrieval.onnx_encoder", "retrieval.lexical", "retrieval.retriever", "retrieval.answering",
                   "retrieval.answer_types", "retrieval.llm", "retrieval.llm_answering", "retrieval.prompts",
                   "retrieval.quotes", "retrieval.injection", "retrieval.chain", "bot")
STORE = ("retrieval.store", "retrieval.locking", "retrieval.reachability")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every project module `path` imports, wherever in the file the import is."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_project_has_no_import_cycle():
    edges = graph()
    # Packages import their own modules (the public API re-exports them): not a cycle.
    edges = {m: {o for o in targets if not (m.startswith(o + ".") or o == m.rpartition(".")[0])}
             for m, targets in edges.items()}
    assert cycles(edges) == []


def test_the_store_imports_nothing_above_it():
    edges = graph()
    wrong = {m: sorted(o for o in edges[m] if o.startswith(ABOVE_THE_STORE)) for m in STORE}
    assert {m: o for m, o in wrong.items() if o} == {}


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
