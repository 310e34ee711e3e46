"""The shape of the house: no module over 400 lines, no import cycle between the provider's modules
(module-level and function-level imports alike), and docs/architecture.md names every module."""

from __future__ import annotations

import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "provider",
                       "airflow_datastores")
ARCHITECTURE = os.path.join(os.path.dirname(os.path.dirname(PACKAGE)), "docs", "architecture.md")
MAX_LINES = 400


def modules() -> dict[str, str]:
    """Dotted module name -> file, for every module of the provider."""
    found = {}
    for directory, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                dotted = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


def imports(module: str, path: str, known: dict[str, str]) -> set[str]:
    """The provider modules ``module`` imports anywhere in it (a parent package it imports through is not
    an edge: importing a submodule always imports its package first)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("airflow_datastores"):
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                      for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("airflow_datastores")}
    return {t for t in found if t in known and t != module and not module.startswith(t + ".")}


def test_no_module_is_over_400_lines():
    long = {m: n for m, p in modules().items() if (n := sum(1 for _ in open(p))) > MAX_LINES}
    assert long == {}


def test_no_import_cycle():
    known = modules()
    graph = {m: imports(m, p, known) for m, p in known.items()}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", " -> ".join(path[path.index(node):] + [node])
        state[node] = "open"
        for target in sorted(graph[node]):
            visit(target, [*path, node])
        state[node] = "done"

    for node in sorted(graph):
        visit(node, [])


def mapped_files() -> list[str]:
    """The files the tree in docs/architecture.md lists, as paths below the package (indentation is
    nesting: a line ``name/`` opens a directory, ``name.py`` is a module in the directory above it)."""
    text = open(ARCHITECTURE).read()
    tree = text[text.index("provider/airflow_datastores/\n"):]
    tree = tree[:tree.index("```")]
    found, stack = [], []
    for line in tree.splitlines()[1:]:
        name = line.split()[0] if line.strip() else ""
        if not name:
            continue
        depth = (len(line) - len(line.lstrip())) // 2 - 1
        del stack[depth:]
        if name.endswith("/"):
            stack.append(name.rstrip("/"))
        else:
            found.append("/".join([*stack, name]))
    return found


def test_the_architecture_map_names_every_module_and_no_other():
    on_disk = {os.path.relpath(p, PACKAGE) for p in modules().values()} - {
        p for p in (os.path.relpath(q, PACKAGE) for q in modules().values())
        if p.endswith("__init__.py") and p != "__init__.py"}
    mapped = mapped_files()
    assert len(mapped) == len(set(mapped)), "docs/architecture.md lists a module twice"
    assert sorted(on_disk - set(mapped)) == [], "docs/architecture.md does not list these modules"
    assert sorted(set(mapped) - on_disk) == [], "docs/architecture.md lists modules that do not exist"
