"""A DESCRIBE's answer with the nested nodes of the resources it describes, as dereferencing
gives them (resources.describe).

Oxigraph's DESCRIBE is the resource's concise bounded description: its triples and, recursively,
those of the blank nodes they lead to. The mapping names nested objects (`{iri}#checksum`) and
list cells (`{iri}#raw_file_ids-list-1`, docs/mapping.md) with hash IRIs, which that leaves out;
without them `DESCRIBE <track>` would not hold the track's lists.

`describe_one` answers the commonest DESCRIBE, of one IRI on the default graph, without a query:
parsing and planning `DESCRIBE <iri>` cost more than reading its few triples.
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


def describe_one(store: ox.Store, iri: str) -> list[ox.Quad]:
    """`with_nested` of what `DESCRIBE <iri>` answers on the default graph, read pattern by
    pattern in the order Oxigraph's DESCRIBE reads them (spareval's DescribeIterator): the
    IRI's triples, then those of each blank node they lead to, the last one found first (a
    stack), each node once; then, as with_nested adds them, those of its nested nodes. As the
    quads read (of the default graph: `ox.serialize` writes each as its triple), without
    making triples of them. ValueError when `iri` is not an absolute IRI (as the query would
    be refused)."""
    node = ox.NamedNode(iri)
    default = ox.DefaultGraph()
    quads_for = store.quads_for_pattern
    found: list[ox.Quad] = []
    described: set[ox.NamedNode | ox.BlankNode] = {node}
    stack: list[ox.NamedNode | ox.BlankNode] = [node]
    while stack:
        for quad in quads_for(stack.pop(), None, None, default):
            found.append(quad)
            obj = quad.object
            if type(obj) is ox.BlankNode and obj not in described:
                described.add(obj)
                stack.append(obj)
    # with_nested's frontier: each node above was read once (its seen set holds the same
    # nodes, less blank nodes without triples, which read nothing again)
    prefix = nested_prefix(iri)
    named = ox.NamedNode
    frontier = [obj for quad in found if type(obj := quad.object) is named
                and obj.value.startswith(prefix) and obj not in described]
    if not frontier:
        return found
    prefetch = getattr(store, "prefetch_nodes", None)  # a backend (see with_nested)
    if prefetch is not None:
        prefetch([iri])
    return found + closure_quads(store, frontier, (prefix,), [default], described)


def closure(store: ox.Store, start: Iterable[ox.NamedNode | ox.BlankNode],
            prefixes: tuple[str, ...], graphs: list[ox.NamedNode | ox.DefaultGraph],
            seen: set[ox.NamedNode | ox.BlankNode] | None = None) -> list[ox.Triple]:
    """The triples of the `start` nodes in `graphs`, and of the blank nodes and nested nodes
    (IRIs starting with one of `prefixes`) they lead to, each node read once (`seen`: nodes
    already read)."""
    return [quad.triple for quad in closure_quads(store, start, prefixes, graphs, seen)]


def closure_quads(store: ox.Store, start: Iterable[ox.NamedNode | ox.BlankNode],
                  prefixes: tuple[str, ...], graphs: list[ox.NamedNode | ox.DefaultGraph],
                  seen: set[ox.NamedNode | ox.BlankNode] | None = None) -> list[ox.Quad]:
    """`closure` as the quads read, in the same order (for an answer written by
    `ox.serialize`, which writes a quad of the default graph as its triple: making triples
    of them first costs a copy of every term)."""
    seen = set() if seen is None else seen
    frontier = deque(start)
    quads_for = store.quads_for_pattern
    blank, named = ox.BlankNode, ox.NamedNode
    found: list[ox.Quad] = []
    while frontier:
        node = frontier.popleft()
        if node in seen:
            continue
        seen.add(node)
        for graph in graphs:
            for quad in quads_for(node, None, None, graph):
                found.append(quad)
                obj = quad.object
                kind = type(obj)
                if kind is blank or (kind is named and obj.value.startswith(prefixes)):
                    frontier.append(obj)
    return found
