"""The package's shape: no import cycle inside ``orchestrator`` and no module importing another's private names
(``from .x import _y``) or calling them (``other._y``), so each stage can be read and replaced on its own."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path


PACKAGE = Path(__file__).resolve().parent.parent / "orchestrator"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _own_private_names(tree: ast.AST) -> set[str]:
    """The private names a module defines itself (functions, classes, attributes it assigns)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return {n for n in names if n.startswith("_")}


def _imports() -> tuple[dict[str, set[str]], list[str]]:
    """Each module's imports inside the package, and every use of another module's private names."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    private = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        own = _own_private_names(tree) | {"_exit"}  # os._exit is the documented way out of a forked child
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    if full in modules:
                        graph[name].add(full)
                    elif target in modules:
                        graph[name].add(target)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            private.append(f"{name} imports {target}.{alias.name}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if node.attr not in own:
                    private.append(f"{name}:{node.lineno} reaches {ast.unparse(node)}")
    return graph, private


def test_the_module_finder_sees_the_package():
    graph, _ = _imports()
    assert {"orchestrator.pipeline", "orchestrator.assembly", "orchestrator.lanes.objects"} <= set(graph)
    assert "orchestrator.assembly" in graph["orchestrator.pipeline"]
    assert "orchestrator.tracking" in graph["orchestrator.lanes.objects"]


def test_no_import_cycle_in_the_package():
    graph, _ = _imports()
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_no_module_uses_another_modules_private_names():
    _, private = _imports()
    assert private == []
