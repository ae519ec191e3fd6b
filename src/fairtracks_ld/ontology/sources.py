"""What is known about each ontology source the project bundles: module key, licence, origin.

Matched by file name, so `build_bundle` can be given plain paths. The facts come from
shared/ontologies/README.md (the dev-time source folder) and are copied into the manifest, which is
what ships; unknown files still build, with licence "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

CC_BY_4 = ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/")
CC_BY_SA_4 = ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/")
CC_BY_3 = ("CC BY 3.0", "https://creativecommons.org/licenses/by/3.0/")
APACHE_2 = ("Apache-2.0", "https://www.apache.org/licenses/LICENSE-2.0")
CELLXGENE = "Python package cellxgene-ontology-guide 1.11.1, data file"
NO_PRUNING = "none: every class of the source is kept"
CLOSURE_NOTE = (
    "Built from a precomputed closure (is_a and part_of mixed, kind not recorded): parents are "
    "written as hierarchical parents (skos:broader), never as rdfs:subClassOf. Direct parents are "
    "the distance-1 ancestors, plus 'bridged' parents: the nearest in-ontology ancestors that are "
    "reached only through classes of other ontologies, which the source filtered out."
)


@dataclass(frozen=True)
class SourceInfo:
    """Provenance of one source file."""

    pattern: str
    key: str | None
    title: str | None
    licence: str
    licence_url: str | None
    origin: str
    commit: str | None = None
    schema_ontology_iri: str | None = None  # the IRI FAIRtracks schemas give as "ontology"
    pruning: str = NO_PRUNING
    notes: tuple[str, ...] = ()


KNOWN_SOURCES: tuple[SourceInfo, ...] = (
    SourceInfo(
        "so.obo",
        "so",
        "Sequence Ontology",
        *CC_BY_4,
        origin="The-Sequence-Ontology/SO-Ontologies, Ontology_Files/so.obo",
        commit="01c33c6d",
        schema_ontology_iri="http://purl.obolibrary.org/obo/so.owl",
        notes=(
            "SO's own part_of relation is written as BFO:0000050 (part of); other SO "
            "relationships (has_part, derives_from, ...) are not kept.",
        ),
    ),
    SourceInfo(
        "obi.obo",
        "obi",
        "Ontology for Biomedical Investigations",
        *CC_BY_4,
        origin="obi-ontology/obi, views/obi.obo",
        commit="498085ad",
        schema_ontology_iri="http://purl.obolibrary.org/obo/obi.owl",
        notes=(
            "OBI:0000011 (planned process), an ancestor the FAIRtracks technique field names, is "
            "obsolete in this release with replaced_by COB:0000035 (completely executed planned "
            "process); resolve the schema's ancestor through IAO:0100001.",
            "The OBO view carries is_a only (no part_of). It declares the upper-level and "
            "imported classes OBI uses (COB, BFO, IAO, GO, UBERON, CL, CHEBI, ...); they are kept "
            "as OBI states them (see classes_by_prefix).",
        ),
    ),
    SourceInfo(
        "cl-basic.obo",
        "cl",
        "Cell Ontology (basic edition)",
        *CC_BY_4,
        origin="obophenotype/cell-ontology, cl-basic.obo",
        commit="e79795ca",
        schema_ontology_iri="http://purl.obolibrary.org/obo/cl.owl",
        notes=(
            "CL:0000003 (native cell), the FAIRtracks cell_type ancestor, is live in this "
            "2022-12-15 release but deprecated in CL 2026-03-26 (replaced_by CL:0000000).",
            "cl-basic states no part_of relationships; only is_a is kept.",
        ),
    ),
    SourceInfo(
        "cl-basic.owl",
        "cl",
        "Cell Ontology (basic edition)",
        *CC_BY_4,
        origin="obophenotype/cell-ontology, cl-basic.owl",
        schema_ontology_iri="http://purl.obolibrary.org/obo/cl.owl",
    ),
    SourceInfo(
        "EDAM_*.owl",
        "edam",
        "EDAM",
        *CC_BY_SA_4,
        origin="edamontology/edamontology, releases/EDAM_1.25.owl",
        commit="3a6e2ca4",
        schema_ontology_iri="http://edamontology.org/EDAM.owl",
        notes=(
            "EDAM's other restrictions (has_topic, is_format_of, has_input, has_output, "
            "is_identifier_of) are not kept; EDAM has no part_of.",
        ),
    ),
    SourceInfo(
        "UBERON-ontology-*.json*",
        "uberon",
        "Uberon multi-species anatomy ontology",
        *CC_BY_3,
        origin=f"{CELLXGENE} UBERON-ontology-v2026-04-01.json.zst (licence: Uberon CC BY 3.0; "
        "package MIT)",
        schema_ontology_iri="http://purl.obolibrary.org/obo/uberon.owl",
        notes=(
            CLOSURE_NOTE,
            "Only UBERON classes: ancestors from CL, GO, BFO etc. are not in the source.",
        ),
    ),
    SourceInfo(
        "EFO-ontology-*.json*",
        "efo",
        "Experimental Factor Ontology",
        *APACHE_2,
        origin=f"{CELLXGENE} EFO-ontology-v3.90.0.json.zst (licence: EFO Apache 2.0; package MIT)",
        schema_ontology_iri="http://www.ebi.ac.uk/efo/efo.owl",
        pruning="none by this project; the source itself holds only EFO-namespace classes (EFO's "
        "imported MONDO, CL, CLO, UBERON, ... classes are not in it)",
        notes=(
            CLOSURE_NOTE,
            "Term IRIs are http://www.ebi.ac.uk/efo/EFO_nnnnnnn (as FAIRtracks documents write "
            "them); each class also states owl:equivalentClass to its OBO PURL form "
            "http://purl.obolibrary.org/obo/EFO_nnnnnnn so both spellings resolve.",
            "EFO cell lines do not reach CL:0000010 (cultured cell): their CLO/CL ancestors are "
            "not in the source, so the FAIRtracks rule 'cell_line descends from CL_0000010' "
            "cannot be decided from this bundle. EFO:0000322 (cell line) is obsolete, "
            "replaced_by CL:0000010.",
        ),
    ),
    SourceInfo(
        "CL-ontology-*.json*",
        "cl",
        "Cell Ontology",
        *CC_BY_4,
        origin=f"{CELLXGENE} CL-ontology-v2026-03-26.json.zst",
        schema_ontology_iri="http://purl.obolibrary.org/obo/cl.owl",
        notes=(CLOSURE_NOTE,),
    ),
)

SCHEMA_SOURCE = SourceInfo(
    "*",
    "ncit",
    "NCI Thesaurus terms named by the FAIRtracks schemas",
    "CC BY 4.0 (NCIt; labels as given in the FAIRtracks schemas, CC BY 4.0)",
    "https://creativecommons.org/licenses/by/4.0/",
    origin="FAIRtracks JSON Schemas vendored in standard/ (v1-current and master, see "
    "standard/README.md)",
    schema_ontology_iri="http://purl.obolibrary.org/obo/ncit.owl",
    pruning="subset: only the NCIT classes the FAIRtracks schemas name (NCIT is not available "
    "offline)",
    notes=(
        "NCIT is not available offline; only the classes the schemas name are here. Labels come "
        "from the schemas where given, else from NCIt (each class says which in rdfs:comment); "
        "NCIT:C13402 has no label offline.",
        "Hierarchy: only the links the schemas imply (gene_product_type constants under "
        "NCIT:C26548, macromolecular_structure constant under NCIT:C14134), as skos:broader.",
    ),
)


def describe_source(path: Path, source_format: str) -> SourceInfo:
    """The known provenance of `path`, or an 'unknown' record naming just the file."""
    if source_format == "fairtracks-schemas":
        return SCHEMA_SOURCE
    for info in KNOWN_SOURCES:
        if fnmatch(path.name, info.pattern):
            return info
    return SourceInfo(path.name, None, None, "unknown", None, origin=path.name)
