"""The ontology annotations ancestor-aware answers follow: their kinds, the entities carrying
them, and the track predicates (facets) with the property paths that answer them.

Pure tables, below the store: `sparql.virtual` writes the paths into queries, the vocabulary
documents the facets, the named queries and pages use both.
"""

from __future__ import annotations

from fairtracks_ld.mapping.namespaces import FT

# Annotation kinds: the entity an annotation hangs off (track, experiment or sample: its carrier),
# the path from that entity to the annotation node, and the track predicates (facets) that reach
# every ancestor of the annotation's term. A track reaches its experiment by ft:experiment_ref
# and the experiment's sample by ft:sample_ref.
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


def facet_of(predicate_name: str) -> str:
    """`cell_type_ancestor` → `cell_type`."""
    return predicate_name.removesuffix("_ancestor")


def carriers(facet: str) -> tuple[str, ...]:
    """The entities (sample, experiment, track) carrying a facet's annotations, in order."""
    owners = {ANNOTATIONS[kind][0] for kind in ANCESTOR_PREDICATES[f"{facet}_ancestor"]}
    return tuple(owner for owner in CARRIER_STEPS if owner in owners)


def track_path(facet: str, prefixed: bool = False) -> str:
    """The SPARQL property path from a track to every ancestor of a facet's annotations (full
    IRIs, or `ft:` names when `prefixed`): what `ft:{facet}_ancestor` means. It walks to the
    annotation's term, e.g. `ft:experiment_ref/ft:sample_ref/ft:sample_type/ft:cell_type/
    ft:term_id`, then on through the class closure: `ft:descends_from` (reflexive), or
    `ft:found_under` for an obsolete term's replacement, or none for a term no loaded ontology
    knows (it is found under itself only).

    A facet reached by several routes (sample type: cell type, cell line, …) is an alternative
    of whole routes, closure included: an engine answers an alternative once per pair (Oxigraph
    removes the duplicates), while a step after the alternative would answer a track once per
    annotation reaching the ancestor (a cell type and an organism part both below "material
    anatomical entity": 695,600 rows for 614,746 tracks at 1M). Shared first steps are not
    factored out (`a/(b/c|d/c)`): at 1M Oxigraph took 200 s instead of 3.6 to count that form."""
    def name(local: str) -> str:
        return f"ft:{local}" if prefixed else f"<{FT}{local}>"

    closure = f"({name('descends_from')}|{name('found_under')})?"
    routes = ["/".join([*map(name, CARRIER_STEPS[ANNOTATIONS[kind][0]]),
                        *map(name, ANNOTATIONS[kind][1].replace("ft:", "").split("/")),
                        name("term_id"), closure])
              for kind in ANCESTOR_PREDICATES[f"{facet}_ancestor"]]
    return routes[0] if len(routes) == 1 else "(" + "|".join(routes) + ")"


TRACK_PATHS: dict[str, str] = {  # user-facing track predicate IRI → its path
    FT + name: track_path(facet_of(name)) for name in ANCESTOR_PREDICATES}
