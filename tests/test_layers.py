"""The package's layers point one way: core ← io ← viz ← report ← cli (and the public API on top).

Every module's AST is walked, function-level imports included (``if TYPE_CHECKING:`` blocks are
left out: they never run). An import of a higher layer, or any import cycle between modules,
fails. ``test_checker_catches_*`` show the checker failing on a deliberate upward import and a
deliberate cycle, so a green run means something.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ooh_sim

PACKAGE = Path(ooh_sim.__file__).parent
LAYERS = {"core": 0, "io": 1, "viz": 2, "report": 3, "app": 4, "cli": 5, "__main__": 5}
TOP = 6  # ooh_sim/__init__.py: the public API, re-exporting from every layer


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if parts == ["ooh_sim"]:
        return TOP
    return LAYERS[parts[1]]


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, module: str, is_package: bool) -> set[str]:
    """ooh_sim modules imported anywhere in ``source`` (at run time)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "ooh_sim")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] == "ooh_sim":
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)  # may be submodules
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """module → the package's modules it imports (names that are not modules are dropped)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    out: dict[str, set[str]] = {}
    for name, path in files.items():
        raw = imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
        out[name] = {m for m in raw if m in files and m != name}
    return out


def upward_imports(g: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
        for a, targets in g.items()
        for b in targets
        if layer_of(b) > layer_of(a)
    )


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            strong(v)
    return found


def _package_parents(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` importing its own modules is not a cycle with them."""
    return {
        a: {b for b in targets if not (b.startswith(a + ".") and a != "ooh_sim")} | set()
        for a, targets in g.items()
    }


def test_every_module_is_in_a_layer() -> None:
    for name in graph():
        layer_of(name)  # KeyError names a module outside the known layers


def test_no_upward_imports() -> None:
    assert upward_imports(graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(_package_parents(graph())) == []


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "ooh_sim"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for d in ["", "core", "viz"]:
        (root / d).mkdir(parents=True, exist_ok=True)
        (root / d / "__init__.py").touch()
    return root


def test_checker_catches_an_upward_import_inside_a_function(tmp_path: Path) -> None:
    root = _fake_package(tmp_path, {
        "core/model.py": "def f():\n    from ooh_sim.viz import plots\n",
        "viz/plots.py": "from ooh_sim.core import model\n",
    })  # fmt: skip
    assert upward_imports(graph(root)) == [
        "ooh_sim.core.model (layer 0) imports ooh_sim.viz (layer 2)",
        "ooh_sim.core.model (layer 0) imports ooh_sim.viz.plots (layer 2)",
    ]
    assert cycles(graph(root)) == [["ooh_sim.core.model", "ooh_sim.viz.plots"]]


def test_checker_catches_a_relative_cycle_and_ignores_type_checking(tmp_path: Path) -> None:
    root = _fake_package(tmp_path, {
        "core/a.py": "from .b import x\n",
        "core/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n"
                     "def g():\n    from . import a\n",
        "core/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n",
    })  # fmt: skip
    g = graph(root)
    assert cycles(g) == [["ooh_sim.core.a", "ooh_sim.core.b"]]
    assert "ooh_sim.core.a" not in g["ooh_sim.core.c"]


PUBLIC = {
    "Comparison", "Experiment", "InputError", "RunResult", "Scenario", "__version__", "compare",
    "compare_to_precision", "load_experiment", "load_problem", "load_scenario", "optimise", "run",
    "run_optimise", "run_sweep",
    "run_to_precision", "write_comparison", "write_run",
}  # fmt: skip


def test_public_api() -> None:
    """The names a notebook user is promised: a change here is a change of the public API."""
    assert set(ooh_sim.__all__) == PUBLIC
    for name in ooh_sim.__all__:
        assert hasattr(ooh_sim, name), name


@pytest.mark.parametrize("module", sorted(m for m in graph() if m.startswith("ooh_sim.core")))
def test_core_needs_no_matplotlib(module: str) -> None:
    """Core modules never import matplotlib (figures live in viz), even lazily."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    } | {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "matplotlib" not in names
