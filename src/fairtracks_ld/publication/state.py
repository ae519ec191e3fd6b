"""What the target holds, recorded in the target itself: the publication graph
`{base}graph/publication` says which graphs are complete there (with the fingerprint of the
content they hold), which staging copies wait to replace a published graph, which graphs
form the current view, which of them the view graph holds (with their fingerprints) and, while
it is in step, the catalog stamp it is the view of (publication/view.py). It is rewritten after
every graph sent, so an interrupted publish is resumed from what is complete, and at the switch
that makes a new publication visible."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyoxigraph as ox

from fairtracks_ld.mapping.namespaces import FT, PROV, XSD
from fairtracks_ld.publication.target import Target, TargetError
from fairtracks_ld.publication.view import VIEW_FINGERPRINT, VIEW_GRAPH, VIEW_STAMP, view_graph

PUBLICATION = FT + "Publication"
FINGERPRINT = FT + "published_fingerprint"
STAGING_FOR = FT + "staging_for"
DEFAULT_GRAPH = FT + "default_graph"
BASE = FT + "base_iri"
HISTORY = FT + "published_history"
AT = PROV + "generatedAtTime"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def state_graph(base: str) -> str:
    """The publication graph of a store with this base IRI."""
    return f"{base}graph/publication"


@dataclass
class State:
    """The target's publication, as recorded there (empty for a target never published to)."""

    graph: str
    base: str
    published: dict[str, str] = field(default_factory=dict)  # graph → fingerprint
    staged: dict[str, tuple[str, str]] = field(default_factory=dict)  # staging → (graph, fp)
    default_graphs: list[str] = field(default_factory=list)
    history: bool = False
    published_at: str | None = None
    view: dict[str, str] = field(default_factory=dict)  # source in the view graph → fp held
    view_stamp: str | None = None  # the catalog stamp the view graph is in step with, if any

    def staging_name(self, graph: str) -> str:
        """Where a new copy of a published graph waits for the switch (one per graph, so a
        resumed publish finds it)."""
        import hashlib

        return f"{self.graph}/staging/{hashlib.sha256(graph.encode()).hexdigest()[:32]}"

    def triples(self) -> list[ox.Triple]:
        node = ox.NamedNode(self.graph)
        out = [ox.Triple(node, ox.NamedNode(RDF_TYPE), ox.NamedNode(PUBLICATION)),
               ox.Triple(node, ox.NamedNode(BASE), ox.NamedNode(self.base)),
               ox.Triple(node, ox.NamedNode(HISTORY),
                         ox.Literal(str(self.history).lower(),
                                    datatype=ox.NamedNode(XSD + "boolean")))]
        if self.published_at:
            out.append(ox.Triple(node, ox.NamedNode(AT), ox.Literal(
                self.published_at, datatype=ox.NamedNode(XSD + "dateTime"))))
        out += [ox.Triple(node, ox.NamedNode(DEFAULT_GRAPH), ox.NamedNode(g))
                for g in self.default_graphs]
        if self.view or self.view_stamp:
            out.append(ox.Triple(node, ox.NamedNode(VIEW_GRAPH),
                                 ox.NamedNode(view_graph(self.base))))
        if self.view_stamp:
            out.append(ox.Triple(node, ox.NamedNode(VIEW_STAMP), ox.Literal(self.view_stamp)))
        out += [ox.Triple(ox.NamedNode(g), ox.NamedNode(VIEW_FINGERPRINT), ox.Literal(fp))
                for g, fp in self.view.items()]
        out += [ox.Triple(ox.NamedNode(g), ox.NamedNode(FINGERPRINT), ox.Literal(fp))
                for g, fp in self.published.items()]
        for staging, (graph, fp) in self.staged.items():
            node = ox.NamedNode(staging)
            out += [ox.Triple(node, ox.NamedNode(STAGING_FOR), ox.NamedNode(graph)),
                    ox.Triple(node, ox.NamedNode(FINGERPRINT), ox.Literal(fp))]
        return out


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def read_state(target: Target, base: str) -> State:
    """The publication recorded in the target; refuses a target that holds another store's."""
    graph = state_graph(base)
    rows = target.select(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    state = State(graph, base)
    targets: dict[str, str] = {}
    fingerprints: dict[str, str] = {}
    for row in rows:
        if None in (row["s"], row["p"], row["o"]):  # Virtuoso, read while a publish writes
            continue
        s, p, o = row["s"].value, row["p"].value, row["o"]
        if p == FINGERPRINT:
            fingerprints[s] = o.value
        elif p == STAGING_FOR:
            targets[s] = o.value
        elif p == DEFAULT_GRAPH:
            state.default_graphs.append(o.value)
        elif p == HISTORY:
            state.history = o.value in ("true", "1")  # Virtuoso answers 1
        elif p == AT:
            state.published_at = o.value
        elif p == VIEW_FINGERPRINT:
            state.view[s] = o.value
        elif p == VIEW_STAMP:
            state.view_stamp = o.value
        elif p == BASE and o.value != base:
            raise TargetError(f"the target's publication graph <{graph}> was written for base "
                              f"IRI {o.value}, not {base}")
    for subject, fingerprint in fingerprints.items():
        if subject in targets:
            state.staged[subject] = (targets[subject], fingerprint)
        else:
            state.published[subject] = fingerprint
    return state
