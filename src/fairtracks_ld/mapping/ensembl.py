"""Ensembl-style track JSON → a JSON-LD tree for the Ensembl context (and its RDF), safely.

Like the FAIRtracks mapping, this writes a new JSON-LD tree, so the document's own keywords
(`@context`, `@id`, `@graph`, …) and keys beyond the model become inert extension values, named
by their JSON Pointer below the document (`ftx:genome%2Fextra` for `/genome/extra`), and values of
the wrong JSON type are kept the same way. The objects `genome`, `release` and `location` are
flattened onto the track (the context's `@nest`).

IRIs (one document = one track, scoped by division and release, as Ensembl publishes tracks):

    {base}collection/ensembl-{division}-{release}                              the release
    {base}collection/ensembl-{division}-{release}/track/{species}/{assembly}/{short_name}
    {track}/version/sha256-{hash of the JSON}                                  its named graph

Segments are percent-encoded as for FAIRtracks; the division is lower-cased and the draft's
spelling `funghi` read as `fungi`, so both spellings give one collection.

The release is a collection like a FAIRtracks one: the track links to it (`ft:collection_ref`)
and its graph describes it (`ft:Collection`, `ft:EnsemblRelease`, `ft:short_name` "Ensembl
Plants release 56", the normalised division and the release number, and for a known division
its site as `ft:source_repo_url`). Every track of a release states the same triples about it,
so the current view holds them once, for as long as any of its tracks is current.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from fairtracks_ld import ensembl_model
from fairtracks_ld.ensembl_model import EnsemblProp
from fairtracks_ld.mapping import curies
from fairtracks_ld.mapping.ensembl_context import load_context
from fairtracks_ld.mapping.iris import encode_segment
from fairtracks_ld.mapping.prepare import (
    MappingError,
    Note,
    Prepared,
    extension_value,
    is_iri,
    pointer_token,
)

MODEL = "ensembl"
DIVISION_ALIASES = {"funghi": "fungi"}
# How Ensembl names its divisions' sites ("ensembl" is the main, vertebrate site).
DIVISION_NAMES = {"ensembl": "Ensembl", "vertebrates": "Ensembl Vertebrates",
                  "plants": "Ensembl Plants", "bacteria": "Ensembl Bacteria",
                  "protists": "Ensembl Protists", "fungi": "Ensembl Fungi",
                  "metazoa": "Ensembl Metazoa"}
# Each division's site: the release's source repository (a FAIRtracks collection's
# `source_repo_url`; the TrackFind-compatible API names repositories by its host).
DIVISION_SITES = {"ensembl": "https://www.ensembl.org/", "vertebrates": "https://www.ensembl.org/",
                  "plants": "https://plants.ensembl.org/",
                  "bacteria": "https://bacteria.ensembl.org/",
                  "protists": "https://protists.ensembl.org/",
                  "fungi": "https://fungi.ensembl.org/", "metazoa": "https://metazoa.ensembl.org/"}
# The keys a track's IRI is made of, as (object, key).
IDENTITY = (("", "short_name"), ("genome", "genome_species"), ("genome", "genome_assembly"),
            ("release", "release_division"), ("release", "release_version"))


def extension_name(pointer: str) -> str:
    """The `ftx:` local name keeping a value the model does not know: its JSON Pointer without
    the leading '/', percent-encoded (so `/genome/x` and a top-level key `genome/x` differ)."""
    return quote(pointer.removeprefix("/"), safe="")


UNNAMED = "unnamed"  # a provisional IRI's segment for a value that cannot name the track


def _identity(document: dict[str, Any], provisional: bool = False) -> dict[str, str]:
    """The values that name the track; a MappingError (with pointer) when one is unusable, or
    with `provisional` a placeholder for it."""
    found = {}
    for parent, key in IDENTITY:
        holder = document.get(parent) if parent else document
        pointer = f"/{parent}/{key}" if parent else f"/{key}"
        value = holder.get(key) if isinstance(holder, dict) else None
        prop = ensembl_model.prop(parent, key)
        if prop is not None and prop.json_type == "integer" and _value(prop, value) is not None:
            value = str(_value(prop, value))  # 89 and 89.0 name the same release
        if (not isinstance(value, str) or not value) and provisional:
            value = UNNAMED
        if not isinstance(value, str) or not value:
            raise MappingError(pointer, "required to mint the track's IRI: a non-empty "
                               + ("integer" if key == "release_version" else "string"))
        found[key] = value
    return found


def _value(prop: EnsemblProp, value: Any) -> Any:
    """The value as the context expects it, or None when its JSON type is not the model's."""
    if prop.json_type == "string":
        return value if isinstance(value, str) else None
    if prop.json_type == "boolean":
        return value if isinstance(value, bool) else None
    if prop.json_type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return int(value) if isinstance(value, float) and value.is_integer() else None
    if prop.json_type == "array":
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        return list(value) if ok else None
    return None


class _Walker:
    """One document's walk: fills the track node and collects notes."""

    def __init__(self, node: dict[str, Any]) -> None:
        self.node = node
        self.notes: list[Note] = []

    def walk(self, value: dict[str, Any], parent: str = "") -> None:
        for key, item in value.items():
            pointer = f"/{parent}/{pointer_token(key)}" if parent else f"/{pointer_token(key)}"
            prop = ensembl_model.prop(parent, key)
            if prop is not None and prop.json_type == "object" and isinstance(item, dict):
                self.walk(item, key)
                continue
            mapped = _value(prop, item) if prop is not None else None
            if mapped is None:
                if prop is not None:
                    self.notes.append(Note(pointer, "warning", f"expected a {prop.json_type}; "
                                           "kept as an extension value"))
                self.node["ftx:" + extension_name(pointer)] = extension_value(item)
                continue
            self.node[key] = mapped
            self.derive(prop, mapped, pointer)

    def derive(self, prop: EnsemblProp, value: Any, pointer: str) -> None:
        """Links a FAIRtracks track has too: taxon, assembly accession, file URL IRI."""
        if prop.key == "genome_species":
            found = ensembl_model.species(value)
            if found is None:
                self.notes.append(Note(pointer, "warning", f"species {value!r} is not in the "
                                       "offline Ensembl species table; no NCBITaxon link made"))
                return
            self.node["genome_species_iri"] = curies.resolve(found.curie).iri
            self.node["species_name"] = found.scientific_name
            if found.production_name != value:
                self.notes.append(Note(pointer, "info", f"{value!r} read as a strain of "
                                       f"{found.production_name} (NCBITaxon:{found.taxon_id})"))
        elif prop.key == "genome_assembly":
            found_assembly = ensembl_model.assembly(value)
            if found_assembly is None:
                self.notes.append(Note(pointer, "warning", f"assembly {value!r} is not in the "
                                       "offline assembly table; no assembly_id link made"))
                return
            self.node["assembly_id"] = found_assembly.assembly_id
            iri = curies.resolve(found_assembly.assembly_id).iri
            if iri:
                self.node["assembly_id_iri"] = iri
        elif prop.key == "location_uri":
            if is_iri(value):
                self.node["location_uri_iri"] = value
            else:
                self.notes.append(Note(pointer, "warning", f"{value!r} is not a valid IRI; "
                                       "no link made"))


def _check_assembly_species(node: dict[str, Any], notes: list[Note]) -> None:
    """An assembly of another species than the genome's is reported and not linked."""
    species = ensembl_model.species(node.get("genome_species", ""))
    found = ensembl_model.assembly(node.get("genome_assembly", ""))
    if species and found and ensembl_model.species(found.species) != species:
        notes.append(Note("/genome/genome_assembly", "warning", f"assembly {found.name} is an "
                          f"assembly of {found.species}; no assembly_id link made"))
        node.pop("assembly_id", None)
        node.pop("assembly_id_iri", None)


def release_name(division: str, release: str) -> str:
    """What a person calls a release: "Ensembl release 89", "Ensembl Plants release 56"."""
    site = DIVISION_NAMES.get(division, f"Ensembl {division}")
    return f"{site} release {release}"


def release_node(collection: str, division: str, release: str) -> dict[str, Any]:
    """The release as a collection (identical for every track of the release)."""
    node: dict[str, Any] = {"@id": collection, "@type": ["Collection", "EnsemblRelease"],
                            "collection_short_name": release_name(division, release),
                            "release_division": division}
    if release.isdigit():  # a provisional mapping's placeholder is no number
        node["release_version"] = int(release)
    site = DIVISION_SITES.get(division)
    if site:
        node["collection_source_repo_url"] = node["collection_source_repo_url_iri"] = site
    return node


def prepare_ensembl(document: Any, base: str, provisional: bool = False) -> Prepared:
    """Map one Ensembl track document to JSON-LD input; raises MappingError if it cannot be.
    `provisional` maps a track whose IRI cannot be minted under a placeholder IRI, only to
    validate it (to report everything wrong with it): such a mapping is never stored."""
    if not isinstance(document, dict):
        raise MappingError("", "an Ensembl track is a JSON object")
    ids = _identity(document, provisional)
    division = ids["release_division"].lower()
    division = DIVISION_ALIASES.get(division, division)
    release = ids["release_version"]
    collection = f"{base}collection/{encode_segment(f'ensembl-{division}-{release}')}"
    track = "/".join([f"{collection}/track", *(encode_segment(ids[k]) for k in (
        "genome_species", "genome_assembly", "short_name"))])
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False).encode("utf-8",
                                                                                 "surrogatepass")
    version = "sha256-" + hashlib.sha256(canonical).hexdigest()
    walker = _Walker({"@id": track, "@type": ["Track", "EnsemblTrack"]})
    walker.walk(document)
    _check_assembly_species(walker.node, walker.notes)
    walker.node["collection_ref"] = release_node(collection, division, release)
    prepared = Prepared(
        node=walker.node, collection_iri=collection, document_iri=track,
        graph=f"{track}/version/{version}", doc_version=version, doc_date=None, variant=MODEL,
        notes=walker.notes, model=MODEL, context=load_context(),
    )
    prepared.ntriples()  # fail here, before any write, if the text cannot be encoded
    return prepared
