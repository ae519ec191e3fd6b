"""A DESCRIBE's answer with the nested nodes of the resources it describes, as dereferencing
gives them (resources.describe).

Oxigraph's DESCRIBE is the resource's concise bounded description: its triples and, recursively,
those of the blank nodes they lead to. The mapping names nested objects (`{iri}#checksum`) and
list cells (`{iri}#raw_file_ids-list-1`, docs/mapping.md) with hash IRIs, which that leaves out;
without them `DESCRIBE <track>` would not hold the track's lists.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

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
    frontier = deque(t.object for t in triples if isinstance(t.object, ox.NamedNode)
                     and t.object.value.startswith(prefixes) and t.object not in seen)
    if not frontier:
        return triples
    prefetch = getattr(store, "prefetch_nodes", None)  # a backend: described with their
    if prefetch is not None:  # nested nodes and lists in one query (backend.dataset)
        prefetch(described)
    graphs = list(graphs)
    found = dict.fromkeys(triples)
    while frontier:
        node = frontier.popleft()
        if node in seen:
            continue
        seen.add(node)
        for graph in graphs:
            for quad in store.quads_for_pattern(node, None, None, graph):
                found[quad.triple] = None
                obj = quad.object
                if isinstance(obj, ox.BlankNode) or (isinstance(obj, ox.NamedNode)
                                                     and obj.value.startswith(prefixes)):
                    frontier.append(obj)
    return list(found)
