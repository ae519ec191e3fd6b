"""RDF → JSON records of Ensembl tracks and releases, in the vocabulary's terms.

The TrackFind-compatible API (web/api.py) answers with FAIRtracks-shaped records whose keys are
the vocabulary's terms: an Ensembl track reads there as the RDF says, by the FAIRtracks keys
where the meanings coincide (`label_short`, `file_url`, `assembly_name`, `species_name`, …) and
the model's own keys otherwise (`track_type`, `release_version`, …), so one filter
(`tracks->assembly_name = 'GRCm38'`) and one GSuite column read tracks of both models. Resolved
`<key>_iri` links and types are mapping artefacts and are dropped, as `export` drops them; the
link to the release becomes its local id, values kept as extensions their JSON Pointer's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import pyoxigraph as ox

from fairtracks_ld.mapping.context import IRI_SUFFIX
from fairtracks_ld.mapping.export import ExportError, GraphEdges, python_value
from fairtracks_ld.mapping.iris import decode_segment, local_id_of
from fairtracks_ld.mapping.namespaces import FT, FTX, RDF_TYPE

Term = ox.NamedNode | ox.BlankNode | ox.Literal


class _Edges(GraphEdges):
    """The graph's edges by subject, read as records."""

    def value(self, obj: Term) -> Any:
        """A JSON value: an rdf:List as a list, a link as the local id it ends with."""
        if not isinstance(obj, ox.Literal) and self.is_list(obj):
            return self.rdf_list(obj)
        return local_id_of(obj.value) if isinstance(obj, ox.NamedNode) else python_value(obj)

    def record(self, subject: str) -> dict[str, Any]:
        node = ox.NamedNode(subject)
        if node not in self.edges:
            raise ExportError(f"no {subject} in the graph")
        out: dict[str, Any] = {}
        for predicate, obj in self.edges[node]:
            if predicate.startswith(FTX):
                out[unquote(predicate[len(FTX):])] = python_value(obj)
            elif (predicate.startswith(FT) and predicate != RDF_TYPE
                  and not predicate.endswith(IRI_SUFFIX)):
                out[predicate[len(FT):]] = self.value(obj)
        return dict(sorted(out.items()))


def track_record(quads: Iterable[ox.Quad], track: str) -> dict[str, Any]:
    """An Ensembl track of its version graph as a record; its `local_id` is what names it in
    its release (`mus_musculus/GRCm38/GENCODE M24`: short names repeat across genomes)."""
    rest = track.split("/track/", 1)[-1]
    return {"local_id": "/".join(decode_segment(s) for s in rest.split("/")),
            **_Edges(quads).record(track)}


def release_record(quads: Iterable[ox.Quad], release: str) -> dict[str, Any]:
    """The release a track's version graph describes, as a collection_info record."""
    return {"local_id": local_id_of(release), **_Edges(quads).record(release)}
