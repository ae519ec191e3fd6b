"""Withdrawal: a provider takes a document or a whole collection out of the published data.

One update removes the documents' `ft:current_version`, notes that their triples leave the
current view (the default graph), which the settle then does in bounded steps (a kill leaves the
note to the next writer; one update deleting a big version's view triples held them all in
memory), so the view, the dumps, the search index and the dataset description drop them, and
records the withdrawal on
the withdrawn IRI (`ft:Withdrawn`: when, why, by whom, which versions were current). Nothing else
is deleted: every version graph stays in the store, queryable with GRAPH, and the withdrawn IRIs
answer 410 Gone with a tombstone (web/tombstone.py). Publishing the document again (a load or a
submission) makes it current again; a submission also removes the withdrawal records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyoxigraph as ox

from fairtracks_ld.faults import checkpoint
from fairtracks_ld.mapping.iris import IriMinter
from fairtracks_ld.mapping.namespaces import FT, PREFIXES, PROV, RDF_TYPE, XSD
from fairtracks_ld.store import TrackStore, current_view, members, report_graph

WITHDRAWN = FT + "Withdrawn"
REASON = FT + "withdrawal_reason"
BY = FT + "withdrawn_by"
AT = PROV + "invalidatedAtTime"
VERSION = FT + "withdrawn_version"


class WithdrawalError(LookupError):
    """Nothing to withdraw; `status` is 404 (never published) or 410 (already withdrawn)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Withdrawal:
    """One withdrawal as the catalog records it."""

    target: str  # the document or collection IRI
    at: str
    reason: str
    by: str
    graphs: tuple[str, ...]  # the version graphs that were current

    @property
    def kind(self) -> str:
        return "document" if "/document/" in self.target else "collection"

    def covers(self, iri: str) -> bool:
        """The IRI is the withdrawn one or minted under it (nested nodes, versions, entities)."""
        return iri == self.target or iri.startswith((self.target + "/", self.target + "#"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def target_iri(store: TrackStore, collection: str, document: str | None = None) -> str:
    """The IRI of a collection (by local id) or of one of its documents."""
    minter = IriMinter(store.base, collection)
    return minter.document_iri(document) if document is not None else minter.collection_iri


def withdraw(store: TrackStore, collection: str, document: str | None, reason: str,
             by: str) -> Withdrawal:
    """Withdraw a document (or every document of a collection), in one catalog update; its
    view change is settled after it (current_view.settle)."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValueError("a withdrawal needs a reason")
    target = target_iri(store, collection, document)
    versions = [v for v in store.versions()
                if (v.document == target if document is not None else
                    v.collection == target)]
    current = [v for v in versions if v.current]
    if not current:
        if versions or any(w.target == target for w in withdrawals(store)):
            raise WithdrawalError(410, f"{target} is already withdrawn")
        raise WithdrawalError(404, f"no {'document' if document else 'collection'} {target} "
                                   "in the store")
    for version in current:  # history keeps named graphs (store/members.py)
        if members.is_stored_once(store, version.graph):
            members.restore(store, version.graph)
    cat, at = store.catalog, _now()
    documents = " ".join(f"<{v.document}>" for v in current)
    graphs = " ; ".join(f"<{VERSION}> <{v.graph}>" for v in current)
    leaving = [v.graph for v in current]
    store.ox.update(f"""{_forget(cat, target)} ;
        DELETE {{ GRAPH <{cat}> {{ ?doc ft:current_version ?g }} }}
        WHERE {{ VALUES ?doc {{ {documents} }} GRAPH <{cat}> {{ ?doc ft:current_version ?g }} }} ;
        INSERT DATA {{ GRAPH <{cat}> {{ <{target}> a <{WITHDRAWN}> ;
          <{AT}> {ox.Literal(at, datatype=ox.NamedNode(XSD + "dateTime"))} ;
          <{REASON}> {ox.Literal(reason)} ; <{BY}> {ox.Literal(by)} ; {graphs} }} }} ;
        {current_view.pending(store, leaving, [])}""", prefixes=PREFIXES)
    checkpoint("view-pending")  # withdrawn: from here on, the next writer settles the view
    current_view.settle(store)
    return Withdrawal(target, at, reason, by, tuple(v.graph for v in current))


def reinstate_update(store: TrackStore, collection: str, document: str) -> str:
    """SPARQL update operations removing the withdrawal records a new submission of this
    document supersedes (its own and its collection's)."""
    return " ; ".join(_forget(store.catalog, iri) for iri in (
        target_iri(store, collection), target_iri(store, collection, document)))


def _forget(catalog: str, iri: str) -> str:
    """An update removing the withdrawal record of `iri` (and nothing else said about it)."""
    return (f"DELETE {{ GRAPH <{catalog}> {{ <{iri}> ?p ?o }} }} WHERE {{ GRAPH <{catalog}> {{ "
            f"<{iri}> ?p ?o VALUES ?p {{ <{RDF_TYPE}> <{AT}> <{REASON}> <{BY}> <{VERSION}> }} "
            f"FILTER(?p != <{RDF_TYPE}> || ?o = <{WITHDRAWN}>) }} }}")


def withdrawals(store: TrackStore) -> list[Withdrawal]:
    """Every withdrawal the catalog records, oldest first."""
    rows = store.ox.query(
        f"""SELECT ?t ?at ?why ?by (GROUP_CONCAT(STR(?g); SEPARATOR=" ") AS ?graphs) WHERE {{
              GRAPH <{store.catalog}> {{ ?t a <{WITHDRAWN}> ; <{AT}> ?at ; <{REASON}> ?why ;
                <{BY}> ?by . OPTIONAL {{ ?t <{VERSION}> ?g }} }} }}
            GROUP BY ?t ?at ?why ?by ORDER BY ?at""")
    return [Withdrawal(row["t"].value, row["at"].value, row["why"].value, row["by"].value,
                       tuple(row["graphs"].value.split())) for row in rows]


def hidden_graphs(store: TrackStore) -> frozenset[ox.NamedNode]:
    """Every graph of the withdrawn documents that are not current again (all their versions
    and those versions' reports), for dumps that must leave them out."""
    withdrawn = withdrawals(store)
    if not withdrawn:
        return frozenset()
    hidden: set[ox.NamedNode] = set()
    current_documents = {v.document for v in store.versions() if v.current}
    for version in store.versions():
        if version.document in current_documents:
            continue
        if any(w.covers(version.document) for w in withdrawn):
            hidden.update(ox.NamedNode(g) for g in (version.graph, report_graph(version.graph)))
    return frozenset(hidden)
