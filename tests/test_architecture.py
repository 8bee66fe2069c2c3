"""The import graph stays one-way (tests read the source; nothing is imported).

- no import cycle anywhere in the package, counting imports inside functions;
- ``harness/`` never imports ``agent/`` or ``ledger/``; ``ledger/`` never imports ``agent/``;
  of ``harness/``, the ledger imports only the bottom layer (the typed results and metrics);
- the selector API (``harness/api.py``) and the typed results (``harness/results.py``) import
  nothing internal;
- ``harness/llm.py`` is the only module that imports litellm (one way to talk to a model).

The analysis is tested on a copy of the tree with a cycle introduced on purpose.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "agent", "ledger")
BOTTOM = {"harness.results", "harness.judge.metrics", "harness.errors"}  # what ledger may use


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path) -> dict[str, set[str]]:
    """Module -> the internal modules it imports (top level and inside functions alike)."""
    modules = {
        module_name(root, p): p
        for package in PACKAGES
        for p in (root / package).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from package import module`` reaches the module; ``from module import name``
                # the module itself (a package's __init__ is not counted for its submodules).
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.append(full if full in modules else node.module)
            for target in targets:
                while target and target not in modules:  # a name imported from a module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports against the layering, as 'importer -> imported'."""
    bad = []
    for name, targets in sorted(graph.items()):
        top = name.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if top == "harness" and other in ("agent", "ledger"):
                bad.append(f"{name} -> {target}")
            if top == "ledger" and (
                other == "agent" or (other == "harness" and target not in BOTTOM)
            ):
                bad.append(f"{name} -> {target}")
            if name in ("harness.api", "harness.results"):
                bad.append(f"{name} -> {target}")
    return bad


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(imports_of(ROOT)) == []


def test_imports_follow_the_layers() -> None:
    graph = imports_of(ROOT)
    assert violations(graph) == []
    assert graph["harness.api"] == set()
    assert graph["harness.results"] == set()


def litellm_importers(root: Path) -> list[str]:
    """The modules of the package that import litellm (top level or inside a function)."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(name.split(".")[0] == "litellm" for name in names):
                    found.append(module_name(root, path))
                    break
    return sorted(found)


def test_only_harness_llm_imports_litellm() -> None:
    assert litellm_importers(ROOT) == ["harness.llm"]


def test_a_second_litellm_importer_is_found(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package)
    sneaky = tmp_path / "agent" / "llm_proposer.py"
    sneaky.write_text(
        sneaky.read_text() + "\n\ndef _direct():\n    from litellm import completion\n"
    )
    assert litellm_importers(tmp_path) == ["agent.llm_proposer", "harness.llm"]


def test_a_cycle_introduced_on_purpose_is_found(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package)
    target = tmp_path / "harness" / "judge" / "metrics.py"
    target.write_text(target.read_text() + "\n\ndef _late():\n    import harness.judge.evaluate\n")
    found = cycles(imports_of(tmp_path))
    assert any("harness.judge.metrics" in group for group in found), found
    assert "harness.judge.metrics -> harness.judge.evaluate" not in violations(imports_of(tmp_path))


def test_a_layer_violation_introduced_on_purpose_is_found(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package)
    api = tmp_path / "harness" / "api.py"
    api.write_text(api.read_text() + "\nfrom harness.errors import InputError\n")
    results = tmp_path / "ledger" / "errors.py"
    results.write_text(results.read_text() + "\nfrom agent.cli import app\n")
    bad = violations(imports_of(tmp_path))
    assert "harness.api -> harness.errors" in bad
    assert "ledger.errors -> agent.cli" in bad
