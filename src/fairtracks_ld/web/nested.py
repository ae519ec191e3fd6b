"""A DESCRIBE's answer with the nested nodes of the resources it describes, as dereferencing
gives them (resources.describe).

Oxigraph's DESCRIBE is the resource's concise bounded description: its triples and, recursively,
those of the blank nodes they lead to. The mapping names nested objects (`{iri}#checksum`) and
list cells (`{iri}#raw_file_ids-list-1`, docs/mapping.md) with hash IRIs, which that leaves out;
without them `DESCRIBE <track>` would not hold the track's lists.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import pyoxigraph as ox

from fairtracks_ld.mapping.iris import nested_prefix


def with_nested(store: ox.Store, triples: list[ox.Triple], described: list[str],
                graphs: Iterable[ox.NamedNode | ox.DefaultGraph]) -> list[ox.Triple]:
    """`triples` (the DESCRIBE of the `described` IRIs, read from `graphs`) and those of their
    nested nodes (`nested_prefix`), and of the nested and blank nodes these lead to."""
    prefixes = tuple(nested_prefix(iri) for iri in described)
    if not prefixes:
        return triples
    seen: set[ox.NamedNode | ox.BlankNode] = {t.subject for t in triples}
    frontier = [t.object for t in triples if isinstance(t.object, ox.NamedNode)
                and t.object.value.startswith(prefixes) and t.object not in seen]
    if not frontier:
        return triples
    prefetch = getattr(store, "prefetch_nodes", None)  # a backend: described with their
    if prefetch is not None:  # nested nodes and lists in one query (backend.dataset)
        prefetch(described)
    found = dict.fromkeys(triples)
    found.update(dict.fromkeys(closure(store, frontier, prefixes, list(graphs), seen)))
    return list(found)


def closure(store: ox.Store, start: Iterable[ox.NamedNode | ox.BlankNode],
            prefixes: tuple[str, ...], graphs: list[ox.NamedNode | ox.DefaultGraph],
            seen: set[ox.NamedNode | ox.BlankNode] | None = None) -> Iterator[ox.Triple]:
    """The triples of the `start` nodes in `graphs`, and of the blank nodes and nested nodes
    (IRIs starting with one of `prefixes`) they lead to, each node read once (`seen`: nodes
    already read)."""
    seen = set() if seen is None else seen
    frontier = deque(start)
    while frontier:
        node = frontier.popleft()
        if node in seen:
            continue
        seen.add(node)
        for graph in graphs:
            for quad in store.quads_for_pattern(node, None, None, graph):
                yield quad.triple
                obj = quad.object
                kind = type(obj)
                if kind is ox.BlankNode or (kind is ox.NamedNode
                                            and obj.value.startswith(prefixes)):
                    frontier.append(obj)
