"""Publishing one submitted document: the `load` pipeline for a single document in memory.

It maps, validates against the shapes and the store (the same `Validator` as `fairtracks-ld
load`), and writes all or nothing; the version's catalog record also says who submitted it
(`prov:wasAttributedTo` an agent, `dcterms:creator` its name) and, in the same transaction, the
collection's licence and data-use conditions when the submission states them, and the end of
any withdrawal of the document or its collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from fairtracks_ld import licences, withdrawal
from fairtracks_ld.load import RefusedDocument, _conformance
from fairtracks_ld.mapping.iris import local_id_of
from fairtracks_ld.mapping.models import AUTO, prepare_document
from fairtracks_ld.mapping.namespaces import DCTERMS, PROV
from fairtracks_ld.mapping.prepare import MappingError, Prepared
from fairtracks_ld.search import exports, segments
from fairtracks_ld.store import TrackStore, VersionInfo
from fairtracks_ld.writing import write_version


@dataclass(frozen=True)
class Published:
    """What a submission stored."""

    version: VersionInfo
    collection: str  # local id
    submitter: str

    def to_json(self) -> dict[str, Any]:
        v = self.version
        return {"status": "published", "collection": self.collection, "document": v.document,
                "version": v.graph, "doc_version": v.doc_version, "current": v.current,
                "submitted_by": self.submitter, "submitted_at": v.loaded_at}


def map_document(document: Any, base: str, source: str) -> Prepared:
    """Map a submitted document; a DocumentError when it is not a FAIRtracks document."""
    try:
        return prepare_document(document, base, AUTO)
    except (MappingError, ValueError) as error:
        raise RefusedDocument(source, str(error)) from error


def collection_of(prepared: Prepared) -> str:
    return local_id_of(prepared.collection_iri)


def attribution(catalog: str, graph: str, submitter: str) -> str:
    """SPARQL update operations saying who submitted a version."""
    return (f"INSERT DATA {{ GRAPH <{catalog}> {{ <{graph}> <{PROV}wasAttributedTo> "
            f"[ a <{PROV}Agent> ; <{DCTERMS}title> {ox.Literal(submitter)} ] ; "
            f"<{DCTERMS}creator> {ox.Literal(submitter)} }} }}")


def publish_document(store: TrackStore, document: Any, source: str, submitter: str,
                     terms: licences.Terms | None = None) -> Published:
    """Validate and store one document, all or nothing. A document that breaks the standard
    raises DocumentError carrying its report; the store is then unchanged."""
    from fairtracks_ld.validation import Validator

    prepared = map_document(document, store.base, source)
    validation = Validator(store).prepared(prepared, document, source)
    if not validation.valid:
        raise RefusedDocument(source, "breaks the standard: " + validation.summary(), validation)
    collection = collection_of(prepared)
    extra = [attribution(store.catalog, prepared.graph, submitter),
             withdrawal.reinstate_update(store, collection, local_id_of(prepared.document_iri))]
    if terms is not None:
        extra.append(licences.catalog_update(store.catalog, prepared.collection_iri, terms))
    conformance = _conformance(validation)
    version = write_version(store, prepared, source, check=lambda _graph, _mirror: conformance,
                            catalog_extra=" ; ".join(extra))
    store.flush()
    segments.prepare(store, [version])  # searchable as soon as it is published
    exports.prepare(store, [version])  # and answered by the API
    return Published(version, collection, submitter)
