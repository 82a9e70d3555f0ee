"""The house shows the pipeline: no import cycle among the project's modules (imports inside
functions included); each stage of retrieval imports only the stages below it, so the store
imports nothing above it; bench/ uses only the public API and shares no code with tests/
except tests/support."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("retrieval", "bot", "bench", "tests")
# Each layer may import the layers before it, never one after it; ingest and answer sit side
# by side and do not import each other.
LAYERS = [
    ("retrieval.types", "retrieval.errors", "retrieval.settings", "retrieval.injection"),
    ("retrieval.store",),
    ("retrieval.search",),
    ("retrieval.ingest", "retrieval.answer"),
    ("retrieval.engine", "retrieval.evaluation"),
    ("bot",),
]


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
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
               if ".cache" not in p.parts}
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


def layer_of(module: str) -> tuple[int, str] | None:
    for number, layer in enumerate(LAYERS):
        for part in layer:
            if module == part or module.startswith(part + "."):
                return number, part
    return None


def upward_imports(edges: dict[str, set[str]]) -> dict[str, list[str]]:
    """Imports of a module in a later layer, or of the other package of its own layer."""
    wrong = {}
    for module, targets in edges.items():
        here = layer_of(module)
        if here is None:
            continue
        bad = [t for t in targets if (there := layer_of(t)) and (there[0] > here[0] or (there[0] == here[0] and there[1] != here[1]))]
        if bad:
            wrong[module] = sorted(bad)
    return wrong


def test_each_stage_imports_only_the_stages_below_it_so_the_store_imports_nothing_above_it():
    assert upward_imports(graph()) == {}


def test_the_layer_check_catches_the_store_importing_the_answerer():
    edges = {"retrieval.store.corpus": {"retrieval.answer.quotes"}, "retrieval.answer.quotes": set(),
             "retrieval.ingest.pipeline": {"retrieval.answer.quotes", "retrieval.store.corpus"}}
    assert upward_imports(edges) == {"retrieval.ingest.pipeline": ["retrieval.answer.quotes"],
                                     "retrieval.store.corpus": ["retrieval.answer.quotes"]}


def modules_named(path: Path) -> set[str]:
    """The modules `path` imports from, as written (`from retrieval import ingest` names
    `retrieval`, whose public API holds the function `ingest`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module or "")
    return found


def imported_by(folder: str, wanted) -> dict[str, list[str]]:
    found = {}
    for path in (ROOT / folder).rglob("*.py"):
        if ".cache" not in path.parts and (bad := sorted(m for m in modules_named(path) if wanted(m))):
            found[module_name(path)] = bad
    return found


def test_bench_uses_only_the_public_api_and_bench_and_tests_share_only_tests_support():
    assert imported_by("bench", lambda m: m.startswith("retrieval.")) == {}
    assert imported_by("bench", lambda m: m.split(".")[0] == "tests" and not m.startswith("tests.support")) == {}
    assert imported_by("tests", lambda m: m.split(".")[0] == "bench") == {}


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
