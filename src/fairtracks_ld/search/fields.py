"""The search fields: what each one reads from the store and how SPARQL expresses a filter on it.

Ontology fields reuse the annotation kinds of mapping.annotations, so a filter on "T cell" means
exactly what `?track ft:sample_type_ancestor <T cell>` means: in SPARQL, the path from the track to
its sample's annotations' terms and on through the class closure (`ft:descends_from`). Literal
fields hold plain strings (assembly name, species name, …); the collection field holds collection
IRIs. A field may read several paths (their values together): a FAIRtracks track's species is its
sample's, an Ensembl track carries its own; a FAIRtracks track's collection is its study's, an
Ensembl track links to its own (its release, mapping.ensembl).
"""

from __future__ import annotations

from dataclasses import dataclass

from fairtracks_ld.mapping.annotations import ANCESTOR_PREDICATES, track_path

TO_SAMPLE = ("experiment_ref", "sample_ref")
TO_STUDY = ("experiment_ref", "study_ref")
TO_COLLECTION = ((*TO_STUDY, "collection_ref"), ("collection_ref",))  # FAIRtracks, Ensembl


@dataclass(frozen=True)
class Field:
    """One facet. `kinds` (ontology fields) are mapping.annotations.ANNOTATIONS kinds; `paths`
    (literal and IRI fields) are chains of ft: properties from the track to a value."""

    name: str
    title: str
    kinds: tuple[str, ...] = ()
    paths: tuple[tuple[str, ...], ...] = ()
    iris: bool = False  # values are IRIs (always so for ontology fields)

    @property
    def ontology(self) -> bool:
        return bool(self.kinds)

    def sparql_path(self) -> str:
        """The property path from ?track to a value, in `ft:` terms."""
        if self.ontology:  # through the closure: any SPARQL engine follows it
            return track_path(self.name, prefixed=True)
        chains = ["/".join(f"ft:{step}" for step in path) for path in self.paths]
        return chains[0] if len(chains) == 1 else f"({'|'.join(chains)})"


def _ontology(name: str, title: str) -> Field:
    return Field(name, title, kinds=ANCESTOR_PREDICATES[f"{name}_ancestor"], iris=True)


FIELDS: tuple[Field, ...] = (
    _ontology("sample_type", "Cell/tissue type"),
    _ontology("technique", "Technique"),
    _ontology("target", "Target"),
    Field("assembly", "Genome assembly", paths=(("assembly_name",),)),
    _ontology("file_format", "File format"),
    Field("type_of_condensed_data", "Type of condensed data",
          paths=(("type_of_condensed_data",),)),
    Field("geometric_track_type", "Geometric track type", paths=(("geometric_track_type",),)),
    _ontology("phenotype", "Phenotype"),
    Field("species", "Species", paths=((*TO_SAMPLE, "species_name"), ("species_name",))),
    Field("collection", "Collection", paths=TO_COLLECTION, iris=True),
)
# Derived from the collection field when the index is built (search.licence_facet): licences
# are stated in the catalog, not in the version graphs the fields above are read from.
LICENCE = Field("licence", "Licence", paths=TO_COLLECTION)
FACETS: tuple[Field, ...] = (*FIELDS, LICENCE)  # what the search offers
BY_NAME = {field.name: field for field in FACETS}
