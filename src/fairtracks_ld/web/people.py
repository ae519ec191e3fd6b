"""The parts of a resource's HTML page a person reads before the triple table: summary,
genome browsers, provenance, the collection's tracks and the ontology context."""

from __future__ import annotations

import json
from typing import Any

import pyoxigraph as ox
from flask import current_app

from fairtracks_ld import licences
from fairtracks_ld.store import TrackStore
from fairtracks_ld.web import browsers, releases, schema_org, signposting, summary
from fairtracks_ld.web.members import Members, collection_tracks

TRACK_KINDS = ("track", "Ensembl track")


def collection_of(iri: str, base: str, found: summary.Summary,
                  prov: summary.Provenance | None) -> str | None:
    """The collection a resource belongs to: its own IRI on a collection page, else the related
    collection, else the one its IRI sits under (`{base}collection/{id}/…`)."""
    if found.kind == "collection":
        return iri
    linked = next((r.iri for r in found.related if r.kind == "collection"), None)
    if linked:
        return linked
    rest = iri[len(base):] if iri.startswith(base) else ""
    parts = rest.split("/")
    return base + "/".join(parts[:2]) if len(parts) > 2 and parts[0] == "collection" else None


def igv_genomes() -> dict[str, dict[str, Any]]:
    """Site-configured igv.js options by genome name (Settings.igv_genomes: a `reference` and
    maybe a `locus`), else none: igv.js then loads the genome by name from igv.org, in the
    reader's browser."""
    path = current_app.config["SETTINGS"].igv_genomes
    return json.loads(path.read_text(encoding="utf-8")) if path else {}


def genome_view(found: summary.Summary, assembly: str | None, title: str) -> dict[str, Any]:
    """Open-in links and the igv.js configuration of a track, or why there is none."""
    file = found.file
    fmt = browsers.file_format(file.get("format_term"), file.get("url"), file.get("name"))
    offers = browsers.offers(file.get("url"), fmt, assembly, title)
    db = browsers.genome(assembly)
    igv = None
    reason = next((o.reason for o in offers if o.browser == "IGV-Web" and o.reason), None)
    if reason is None and fmt is not None and db is not None:
        genomes = igv_genomes()
        # a configured reference needs no genome list from igv.org
        igv = {**({**genomes[db], "loadDefaultGenomes": False} if db in genomes
                  else {"genome": db}),
               "tracks": [browsers.igv_track(file["url"], fmt, title)]}
    return {"offers": offers, "igv": igv, "igv_reason": reason,
            "controlled": bool(file.get("url")) and browsers.controlled(file["url"]),
            "format": fmt.name if fmt else None}


def page_context(store: TrackStore, iri: str, triples: list[ox.Triple],
                 describe: summary.Describe, page: str | None, title: str) -> dict[str, Any]:
    """Template variables for the people's part of a resource page (and its `title`, when
    it says more than the resource's own name: an Ensembl release names its genomes)."""
    found = summary.summarise(store, iri, triples, describe)
    release = found.kind == "collection" and releases.is_release(triples, iri)
    prov = None if release else summary.provenance(store, iri)  # no one document describes it
    collection = collection_of(iri, store.base, found, prov)
    stated = licences.licence_of(store, collection) if collection else None
    licence = stated.iri if stated else None
    context: dict[str, Any] = {
        "summary": found, "provenance": prov, "collection": collection,
        "licence": licence, "licence_text": stated.label if stated else licences.NOT_STATED,
        "ontology_context": summary.ontology_context(store, found.annotations),
        "members": None, "genome_view": None,
    }
    if found.kind == "collection":
        context["members"] = collection_tracks(store.base, iri, page, with_genomes=release)
    if release:
        title = releases.title(title, context["members"])
        found.facts += releases.facts(triples, iri, context["members"])
        context["title"] = title
    if found.kind in TRACK_KINDS and found.file:
        assembly = summary.first_text(triples, ox.NamedNode(iri), "assembly_name")
        context["genome_view"] = genome_view(found, assembly, title)
    file_url = found.file.get("url") if found.kind in TRACK_KINDS else None
    context["signposts"] = signposting.signposts(iri, found.kind, collection, licence, file_url)
    signposting.offer(context["signposts"])
    context["schema_org"] = _schema_org(store.base, iri, title, found, prov, collection,
                                        licence, context["members"])
    return context


def _schema_org(base: str, iri: str, title: str, found: summary.Summary,
                prov: summary.Provenance | None, collection: str | None, licence: str | None,
                members: Members | None) -> dict[str, Any] | None:
    """The page's schema.org JSON-LD: a Dataset for a track or a collection, else none."""
    if found.kind not in (*TRACK_KINDS, "collection"):
        return None
    name = title if collection == iri else next(
        (r.label for r in found.related if r.iri == collection), collection)
    local = collection[len(base):].split("/", 1)[-1] if collection else None
    dump = f"{base}dumps/collection/{local}.nq.gz" if found.kind == "collection" else None
    return schema_org.dataset(iri, title, found, prov,
                              (collection, name or collection) if collection else None, base,
                              licence, dump, members.techniques if members else None)
