"""schema.org / Bioschemas JSON-LD embedded in HTML pages, for search engines and harvesters:
a DataCatalog for the site, a Dataset for a collection or a track (Bioschemas Dataset profile:
its required description, identifier, keywords, license, name and url, and the recommended
properties the metadata can fill), a DataDownload for a track's file.

Uses schema.org terms only (a test checks them against rdflib's SDO term list). A licence not
stated by the provider is said so, as a CreativeWork of that name, never guessed.
"""

from __future__ import annotations

from typing import Any

from fairtracks_ld.licences import NOT_STATED
from fairtracks_ld.web.summary import Provenance, Summary

CONTEXT = "https://schema.org"
PROFILE = "https://bioschemas.org/profiles/Dataset/1.0-RELEASE"
SITE_NAME = "fairtracks-ld"


def catalog(base: str, collections: list[tuple[str, str]]) -> dict[str, Any]:
    """The site: a DataCatalog of its collections (IRI, name)."""
    return {"@context": CONTEXT, "@type": "DataCatalog", "@id": base, "url": base,
            "name": SITE_NAME,
            "description": "FAIRtracks genomic track metadata as linked data: collections of "
                           "tracks, experiments, samples and studies with ontology annotations.",
            "keywords": ["genomic tracks", "FAIRtracks", "metadata", "linked data"],
            "dataset": [{"@type": "Dataset", "@id": iri, "url": iri, "name": name}
                        for iri, name in collections]}


def _licence(licence: str | None) -> str | dict[str, str]:
    return licence or {"@type": "CreativeWork", "name": NOT_STATED}


def _terms(found: Summary, *titles: str) -> list[dict[str, str]]:
    return [{"@type": "DefinedTerm", "name": a.label, "termCode": a.curie, "url": a.term}
            for a in found.annotations if a.title in titles and a.label]


def dataset(iri: str, title: str, found: Summary, prov: Provenance | None,
            collection: tuple[str, str] | None, base: str, licence: str | None,
            dump: str | None = None, techniques: list[str] | None = None) -> dict[str, Any]:
    """A track or a collection as a Bioschemas Dataset."""
    facts = {t: (text, link) for t, text, link in found.facts}
    description = facts.get("name", (None,))[0] or title
    if found.kind != "collection":
        description = next((text for t, text, _ in found.facts if t == "condensed data"),
                           None)
        description = f"{found.kind} {title}" + (f": {description}" if description else "")
    keywords = sorted({a.label for a in found.annotations if a.label} | set(techniques or ())
                      | {"genomic tracks", "FAIRtracks"})
    body: dict[str, Any] = {
        "@context": {"@vocab": CONTEXT + "/", "dct": "http://purl.org/dc/terms/"},
        "@type": "Dataset", "@id": iri, "dct:conformsTo": PROFILE,
        "name": title, "description": description, "identifier": iri, "url": iri,
        "keywords": keywords, "license": _licence(licence),
        "includedInDataCatalog": {"@type": "DataCatalog", "@id": base, "name": SITE_NAME,
                                  "url": base},
    }
    measured = _terms(found, "technique") or [{"@type": "DefinedTerm", "name": t}
                                              for t in techniques or []]
    if measured:
        body["measurementTechnique"] = measured
    variables = [{"@type": "PropertyValue", "name": term["name"], "propertyID": term["url"]}
                 for term in _terms(found, "target feature", "target gene product",
                                    "target structure", "target phenotype")] or [
        {"@type": "PropertyValue", "name": text} for t, text, _ in found.facts
        if t in ("condensed data", "Ensembl track type")]
    if variables:
        body["variableMeasured"] = variables
    if prov:
        if prov.doc_version:
            body["version"] = prov.doc_version
        if prov.doc_date:
            body["datePublished"] = prov.doc_date
    if found.contacts:
        body["creator"] = [{"@type": "Organization", "name": name,
                            **({"email": mail} if mail else {})}
                           for name, mail in found.contacts]
    if found.citations:
        body["citation"] = found.citations
    if collection and collection[0] != iri:
        body["isPartOf"] = {"@type": "Dataset", "@id": collection[0], "name": collection[1]}
    if found.file:
        body["distribution"] = [download(found.file)]
    elif dump:
        body["distribution"] = [{"@type": "DataDownload", "contentUrl": dump,
                                 "encodingFormat": "application/n-quads",
                                 "name": "the collection as N-Quads (gzip)"}]
    return body


def download(file: dict[str, str]) -> dict[str, Any]:
    """A track's file as a DataDownload (a MediaObject)."""
    body: dict[str, Any] = {"@type": "DataDownload", "contentUrl": file["url"],
                            "name": file.get("name", "")}
    if file.get("format_term"):
        body["encodingFormat"] = file["format_term"]
    if file.get("size"):
        body["contentSize"] = file["size"]
    return body
