"""The CLI package's shape: no import cycle among hwbench.cli modules, command modules independent (ast, no import)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "hwbench" / "cli"


def _name(path: Path) -> str:
    return "hwbench.cli" if path.stem == "__init__" else f"hwbench.cli.{path.stem}"


def _imported(path: Path) -> set[str]:
    """Every module name an import anywhere in the file may mean (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `.` is hwbench.cli, `..` is hwbench
                parts = ["hwbench", "cli"][: 3 - node.level]
                base = ".".join([*parts, *([base] if base else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # `from pkg import mod` imports a module
    return names


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports."""
    modules = {_name(p): p for p in sorted(package.glob("*.py"))}
    return {name: {m for m in _imported(path) if m in modules and m != name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:  # back to a module on the current path
                return [*[*path, node][[*path, node].index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            return cycle
    return None


def command_modules(package: Path = PACKAGE) -> set[str]:
    """Modules that register a command (`@app.command(...)`)."""
    found = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    func = deco.func if isinstance(deco, ast.Call) else deco
                    if isinstance(func, ast.Attribute) and func.attr == "command":
                        found.add(_name(path))
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_cli_modules() -> None:
    graph = import_graph()
    assert "hwbench.cli.common" in graph["hwbench.cli.sweep"]  # the graph sees the imports it should
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_command_modules_import_no_other_command_module() -> None:
    commands = command_modules()
    assert {"hwbench.cli.sweep", "hwbench.cli.show", "hwbench.cli.compare"} <= commands
    graph = import_graph()
    crossing = {m: sorted(graph[m] & (commands - {m})) for m in commands if graph[m] & commands}
    assert not crossing, crossing
    assert graph["hwbench.cli"] >= commands  # the package imports every command module, so every command registers


def test_importing_the_cli_imports_neither_torch_nor_ray() -> None:
    code = "import sys, hwbench.cli; print(sorted(m for m in ('torch', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
