"""The view graph: the current view's merge, published as one graph (`{base}graph/view`), and how
a replica tells that it is in step with the catalog it reads.

Virtuoso's cost of a join grows with the number of graphs a query lists as `default-graph-uri`s
(docs/backends.md, "the graph list"), so a backend answers fastest over one graph holding the
merge of the view's sources, as a local store keeps it in its default graph. `publish` keeps
that graph up to date in the target, source by source (publisher.py); the publication record
says which sources (and fingerprints) it holds and, once it holds exactly the view of the
published catalog, that catalog's stamp. A replica sends the view graph alone only when the
stamp it computes from the catalog equals the recorded one; otherwise the sources' list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import pyoxigraph as ox

from fairtracks_ld.mapping.namespaces import FT

VIEW_PATH = "graph/view"
VIEW_GRAPH = FT + "view_graph"  # the record names the view graph
VIEW_STAMP = FT + "view_stamp"  # ... and the catalog stamp it is in step with (when it is)
VIEW_FINGERPRINT = FT + "view_fingerprint"  # each source it holds, with the content held
# What a replica polls: the catalog's current versions, ontologies (with their load time) and
# modification time, and the publication record's view stamp (so a replica notices a view graph
# leaving step, e.g. at the start of a publish, within its poll interval).
STAMP_QUERY = f"""
SELECT ?g ?at ?m ?vs WHERE {{
  {{ GRAPH ?c {{ ?c a <{FT}Catalog> .
    {{ ?doc <{FT}current_version> ?g }}
    UNION {{ ?g a <{FT}OntologyGraph> ; <http://www.w3.org/ns/prov#generatedAtTime> ?at }}
    UNION {{ ?c <http://purl.org/dc/terms/modified> ?m }} }} }}
  UNION {{ GRAPH ?r {{ ?r a <{FT}Publication> ; <{VIEW_STAMP}> ?vs }} }}
}}"""

Row = Mapping[str, ox.NamedNode | ox.Literal | ox.BlankNode | None]


def view_graph(base: str) -> str:
    """The view graph of a store with this base IRI (beside `{base}graph/catalog`)."""
    return f"{base}{VIEW_PATH}"


def _text(term: object) -> str:
    return "" if term is None else str(term)


def catalog_stamp(rows: Iterable[Row]) -> tuple[str, str | None]:
    """(the catalog's stamp, the view stamp the record holds) from STAMP_QUERY's rows: the
    same digest whoever asks (publisher or replica), so equal stamps mean the same catalog."""
    seen: list[str] = []
    recorded: str | None = None
    for row in rows:
        if row["vs"] is not None:
            recorded = row["vs"].value
        else:
            seen.append("|".join(_text(row[v]) for v in ("g", "at", "m")))
    digest = hashlib.sha1("\n".join(sorted(seen)).encode()).hexdigest()[:16]
    return digest, recorded
