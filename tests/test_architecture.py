"""The package's shape, as ARCHITECTURE.md states it: layers that import only downward, a short
package root, and no private name used across a package boundary."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bulkretry"

#: Each top-level part of the package and its layer: a module may import from its own part, and from parts of
#: lower layers only. The root's vocabulary (errors, records, masking, ...) is the floor; cli is the top.
LAYERS: dict[str, int] = {
    "__init__": 0,
    "errors": 0,
    "columns": 0,
    "masking": 0,
    "records": 0,
    "defaults": 0,
    "jsontext": 0,
    "i18n": 0,
    "oms": 1,
    "report": 2,
    "manifest": 3,
    "sim": 3,
    "run": 4,
    "demo": 5,
    "discover": 5,
    "diff": 5,
    "history": 5,
    "notify": 5,
    "cli": 6,
    "__main__": 7,
}
MAX_ROOT_MODULES = 12
#: A function's lines, decorators and docstring included (ruff holds complexity, branches, arguments, statements).
MAX_FUNCTION_LINES = 60
ROOT = PACKAGE.parent


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    """Whether the dotted *name* is a module or a subpackage of bulkretry (not a name defined in one)."""
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or path.is_dir()


def _is_file(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/")).with_suffix(".py").exists()


def _part(module: str) -> str:
    """``bulkretry.run.engine`` -> ``run``; ``bulkretry`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(module imported, names taken from it, line)`` for every bulkretry import in *path*, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        ours = isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bulkretry"
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and ours:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level:
            pytest.fail(f"{path}:{node.lineno}: relative import; the package imports by absolute name")
        elif isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names if alias.name.split(".")[0] == "bulkretry"]
    return found


def test_every_part_of_the_package_has_a_layer() -> None:
    """A new subpackage or root module is given its place in the layers here (and in ARCHITECTURE.md)."""
    parts = {_part(_name(path)) for path in _modules()}
    assert parts <= set(LAYERS), f"no layer for {sorted(parts - set(LAYERS))}"


def test_imports_only_go_down_the_layers() -> None:
    """No module imports from a part of the package above its own (so there is no circle between parts)."""
    upward = []
    for path in _modules():
        here = _part(_name(path))
        for module, names, line in _imports(path):
            targets = (
                [module]
                if names == []
                else [f"{module}.{name}" if _is_module(f"{module}.{name}") else module for name in names]
            )
            for target in targets:
                there = _part(target)
                if there != here and LAYERS[there] >= LAYERS[here] and not (LAYERS[here] == LAYERS[there] == 0):
                    upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({here}) imports {target} ({there})")
    assert not upward, "\n".join(upward)


def test_no_circular_imports_between_modules() -> None:
    """Module-level imports form no circle (imports inside functions are the way to defer a heavy one)."""
    graph: dict[str, set[str]] = {}
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bulkretry"):
                deps.add(node.module)
        graph[_name(path)] = deps - {_name(path)}
    seen: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if seen.get(node) == 2 or node not in graph:
            return
        assert seen.get(node) != 1, "circle: " + " -> ".join([*trail[trail.index(node) :], node])
        seen[node] = 1
        for dep in sorted(graph[node]):
            visit(dep, [*trail, node])
        seen[node] = 2

    for name in sorted(graph):
        visit(name, [])


def test_no_private_name_crosses_a_package_boundary() -> None:
    """A name with a leading underscore is imported only from a module of the importer's own package."""
    crossing = []
    for path in _modules():
        package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
        for module, names, line in _imports(path):
            owner = module.rpartition(".")[0] if _is_file(module) else module
            private = [name for name in names if name.startswith("_") and not name.startswith("__")]
            if private and owner != package:
                crossing.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {private} from {module}")
            if module.rpartition(".")[2].startswith("_") and not module.endswith("__main__") and owner != package:
                crossing.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports the private module {module}")
    assert not crossing, "\n".join(crossing)


def test_the_root_is_short() -> None:
    """At most 12 modules at the package root (the rest live in subpackages). Modules are split by responsibility,
    never by length: there is no cap on a module's lines."""
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


def test_functions_are_short() -> None:
    """No function of the package, the tests or the benchmarks is over 60 lines: one job each."""
    long = []
    for path in [*_modules(), *sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "benchmarks").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                lines = (node.end_lineno or node.lineno) - start + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_no_private_name_is_imported_from_another_module() -> None:
    """A name with a leading underscore stays in its module: what another module uses is public (within its package,
    when only that package uses it)."""
    crossing = [
        f"{path.relative_to(ROOT)}:{line} imports {private} from {module}"
        for path in _modules()
        for module, names, line in _imports(path)
        if (private := [n for n in names if n.startswith("_") and not n.startswith("__")])
    ]
    assert not crossing, "\n".join(crossing)


def test_architecture_md_names_every_subpackage_and_root_module() -> None:
    """ARCHITECTURE.md, the map for a new maintainer, names every subpackage and every module of the root."""
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and f"{p.name}/" not in text]
    missing += [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py" and p.name not in text]
    assert not missing, f"ARCHITECTURE.md does not mention {missing}"
