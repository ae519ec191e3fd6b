"""The annotations inferred links hang off: their kinds, the entities carrying them, the facet
predicates and their paths, and what one document says about them.

Pure tables and the JSON-LD reading, below the store: the mapper collects a document's
annotations while it streams it (`annotations_of`), the vocabulary documents the facets, and
`reasoning` writes the companion links from them (see reasoning.py for the layout).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol

from fairtracks_ld.mapping.namespaces import FT

# Annotation kinds: the entity an annotation hangs off (track, experiment or sample: its carrier),
# the path from that entity to the annotation node, and the track predicates (facets) whose
# links the carrier gets for every ancestor of the annotation's term. A track reaches its
# experiment by ft:experiment_ref and the experiment's sample by ft:sample_ref.
ANNOTATIONS: dict[str, tuple[str, str]] = {
    "cell_type": ("sample", "ft:sample_type/ft:cell_type"),
    "abnormal_cell_type": ("sample", "ft:sample_type/ft:abnormal_cell_type"),
    "cell_line": ("sample", "ft:sample_type/ft:cell_line"),
    "organism_part": ("sample", "ft:sample_type/ft:organism_part"),
    "biospecimen_class": ("sample", "ft:biospecimen_class"),
    "sample_phenotype": ("sample", "ft:phenotype"),
    "technique": ("experiment", "ft:technique"),
    "sequence_feature": ("experiment", "ft:target/ft:sequence_feature"),
    "gene_product_type": ("experiment", "ft:target/ft:gene_product_type"),
    "macromolecular_structure": ("experiment", "ft:target/ft:macromolecular_structure"),
    "target_phenotype": ("experiment", "ft:target/ft:phenotype"),
    "file_format": ("track", "ft:file_format"),
}
ANCESTOR_PREDICATES: dict[str, tuple[str, ...]] = {
    "cell_type_ancestor": ("cell_type",),
    "abnormal_cell_type_ancestor": ("abnormal_cell_type",),
    "cell_line_ancestor": ("cell_line",),
    "tissue_ancestor": ("organism_part",),
    "sample_type_ancestor": ("cell_type", "abnormal_cell_type", "cell_line", "organism_part"),
    "biospecimen_class_ancestor": ("biospecimen_class",),
    "phenotype_ancestor": ("sample_phenotype", "target_phenotype"),
    "technique_ancestor": ("technique",),
    "target_ancestor": ("sequence_feature", "gene_product_type", "macromolecular_structure"),
    "file_format_ancestor": ("file_format",),
}
CARRIER_STEPS = {"track": (), "experiment": ("experiment_ref",),
                 "sample": ("experiment_ref", "sample_ref")}  # track → carrier


def own_predicate(facet: str) -> str:
    """The stored link of a facet (`cell_type`): carrier → every ancestor of its annotation."""
    return f"{FT}own_{facet}_ancestor"


def facet_of(predicate_name: str) -> str:
    """`cell_type_ancestor` → `cell_type`."""
    return predicate_name.removesuffix("_ancestor")


def carriers(facet: str) -> tuple[str, ...]:
    """The entities (sample, experiment, track) carrying a facet's annotations, in order."""
    owners = {ANNOTATIONS[kind][0] for kind in ANCESTOR_PREDICATES[f"{facet}_ancestor"]}
    return tuple(owner for owner in CARRIER_STEPS if owner in owners)


def track_path(facet: str, prefixed: bool = False) -> str:
    """The SPARQL property path from a track to every ancestor of a facet's annotations (full
    IRIs, or `ft:` names when `prefixed`): what `ft:{facet}_ancestor` means, reached through
    the carrier's own link, e.g. `ft:experiment_ref/ft:sample_ref/ft:own_cell_type_ancestor`."""
    def name(local: str) -> str:
        return f"ft:{local}" if prefixed else f"<{FT}{local}>"

    routes = [[*CARRIER_STEPS[owner], f"own_{facet}_ancestor"] for owner in carriers(facet)]
    shared = 0  # steps every route starts with are walked once: a/(b|c/b), not (a/b|a/c/b)
    while all(len(r) > shared + 1 and r[shared] == routes[0][shared] for r in routes):
        shared += 1
    rests = ["/".join(map(name, route[shared:])) for route in routes]
    rest = rests[0] if len(rests) == 1 else "(" + "|".join(rests) + ")"
    return "/".join([*map(name, routes[0][:shared]), rest])


TRACK_PATHS: dict[str, str] = {  # user-facing track predicate IRI → its path
    FT + name: track_path(facet_of(name)) for name in ANCESTOR_PREDICATES}
KIND_PREDICATES: dict[str, tuple[str, ...]] = {  # annotation kind → the own links it feeds
    kind: tuple(own_predicate(facet_of(name)) for name, kinds in ANCESTOR_PREDICATES.items()
                if kind in kinds)
    for kind in ANNOTATIONS
}


class CarrierTerms(Protocol):
    """Entity → its (kind, term) pairs: a dict, or a streamed document's spooled table."""

    def items(self) -> Iterable[tuple[str, AbstractSet[tuple[str, str]]]]: ...

    def values(self) -> Iterable[AbstractSet[tuple[str, str]]]: ...


@dataclass
class DocumentAnnotations:
    """What one version graph says about its annotations. Links need only `terms`; `tracks`
    and `samples` (the references, filled while streaming a document) are no longer read."""

    tracks: dict[str, set[str]]  # track → experiments
    samples: dict[str, set[str]]  # experiment → samples
    terms: CarrierTerms  # track / experiment / sample → (kind, term)

    def all_terms(self) -> set[str]:
        return {term for pairs in self.terms.values() for _, term in pairs}


def annotations_of(node: dict) -> DocumentAnnotations:
    """The same facts as `read_annotations`, from a prepared document's JSON-LD tree.

    Used when writing: the document is in memory already, and reading it back out of the store
    with SPARQL costs a third of the write.
    """
    tracks: dict[str, set[str]] = {}
    samples: dict[str, set[str]] = defaultdict(set)
    terms: dict[str, set[tuple[str, str]]] = defaultdict(set)
    paths = {kind: path.replace("ft:", "").split("/") for kind, (_, path) in ANNOTATIONS.items()}
    owners = {"track": "tracks", "experiment": "experiments", "sample": "samples"}
    for kind, (owner, _) in ANNOTATIONS.items():
        for entity in node.get(owners[owner], ()):
            value: object = entity
            for step in paths[kind]:
                value = value.get(step) if isinstance(value, dict) else None
            term = value.get("term_id") if isinstance(value, dict) else None
            if isinstance(term, str):
                terms[entity["@id"]].add((kind, term))
    for track in node.get("tracks", ()):
        ref = track.get("experiment_ref")
        tracks[track["@id"]] = {ref} if isinstance(ref, str) else set()
    for experiment in node.get("experiments", ()):
        if isinstance(experiment.get("sample_ref"), str):
            samples[experiment["@id"]].add(experiment["sample_ref"])
    return DocumentAnnotations(tracks, dict(samples), dict(terms))
