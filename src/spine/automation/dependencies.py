"""Rule dependencies: a child runs for a change only after its parents succeeded for it.

Spec 003 forbids a rule depending on itself and circular dependencies. They are
refused when a rule is saved (:func:`check_parents`), over the whole graph the save
would leave: the workspace's saved rules with the ones being written in their place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spine.core.errors import InvalidInput

__all__ = ["check_parents", "find_cycle", "order_parents_first"]

#: Rule name -> the names of the rules it depends on.
Graph = Mapping[str, Sequence[str]]


def check_parents(name: str, graph: Graph) -> None:
    """Refuse rule ``name``'s parents in ``graph`` (which holds every rule of the workspace).

    Raises:
        InvalidInput: ``depends_on: ...`` naming the self dependency, the unknown parent
            or the cycle (``a -> b -> a``).
    """
    for parent in graph.get(name, ()):
        if parent == name:
            raise InvalidInput(f"depends_on: a rule cannot depend on itself ({name!r})")
        if parent not in graph:
            raise InvalidInput(f"depends_on: unknown rule {parent!r}")
    cycle = find_cycle(graph, start=name)
    if cycle:
        raise InvalidInput(f"depends_on: circular dependency {' -> '.join(cycle)}")


def find_cycle(graph: Graph, *, start: str | None = None) -> list[str] | None:
    """A cycle of ``graph`` as names ``[a, b, ..., a]`` (through ``start`` if given), or None.

    Parents that ``graph`` does not hold are ignored here (:func:`check_parents` names
    them).
    """
    roots = [start] if start is not None else sorted(graph)
    for root in roots:
        path: list[str] = []
        on_path: set[str] = set()
        done: set[str] = set()
        found = _visit(root, graph, path, on_path, done)
        if found and (start is None or start in found):
            return found
    return None


def _visit(
    node: str, graph: Graph, path: list[str], on_path: set[str], done: set[str]
) -> list[str] | None:
    # Iterative depth-first search: a long chain of rules must not hit the recursion limit.
    stack: list[tuple[str, int]] = [(node, 0)]
    path.append(node)
    on_path.add(node)
    while stack:
        current, index = stack[-1]
        parents = [p for p in graph.get(current, ()) if p in graph]
        if index < len(parents):
            stack[-1] = (current, index + 1)
            parent = parents[index]
            if parent in on_path:
                return [*path[path.index(parent) :], parent]
            if parent not in done:
                stack.append((parent, 0))
                path.append(parent)
                on_path.add(parent)
            continue
        stack.pop()
        path.pop()
        on_path.discard(current)
        done.add(current)
    return None


def order_parents_first(graph: Graph) -> list[str]:
    """The names of ``graph`` with every rule after its parents (ties by name).

    The graph must have no cycle (:func:`find_cycle`).
    """
    placed: list[str] = []
    seen: set[str] = set()
    for name in sorted(graph):
        stack = [(name, iter(sorted(graph.get(name, ()))))]
        if name in seen:
            continue
        seen.add(name)
        while stack:
            current, parents = stack[-1]
            for parent in parents:
                if parent in graph and parent not in seen:
                    seen.add(parent)
                    stack.append((parent, iter(sorted(graph.get(parent, ())))))
                    break
            else:
                stack.pop()
                placed.append(current)
    return placed
