"""No import cycle anywhere in ``spine``: module by module, TYPE_CHECKING imports included.

import-linter's ``acyclic_siblings`` contract checks siblings; this walks the whole
module graph (grimp, which import-linter uses) for strongly connected components, so a
cycle through a package's ``__init__`` or a function-local import is found too.
"""

from __future__ import annotations

import grimp


def import_cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """Every set of modules that import one another in a ring (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    # Iterative depth-first search: (module, its imports not yet visited).
    work: list[tuple[str, list[str]]] = []

    def enter(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        work.append((module, sorted(graph.find_modules_directly_imported_by(module))))

    for root in sorted(graph.modules):
        if root in index:
            continue
        enter(root)
        while work:
            module, pending = work[-1]
            if pending:
                imported = pending.pop()
                if imported not in index:
                    enter(imported)
                elif imported in on_stack:
                    low[module] = min(low[module], index[imported])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    graph.add_import(importer="a", imported="a.x")
    assert import_cycles(graph) == [frozenset({"a.x", "a.y", "a.z"})]


def test_spine_has_no_import_cycle() -> None:
    graph = grimp.build_graph("spine", exclude_type_checking_imports=False)
    cycles = [sorted(cycle) for cycle in import_cycles(graph)]
    assert cycles == []
