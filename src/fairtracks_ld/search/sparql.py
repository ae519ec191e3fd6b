"""SPARQL for a search: the query equivalent to it (to take to the endpoint), and the query that
fetches the rows of one page. Values reach the text only as terms the index holds, serialised by
Oxigraph (IRIs checked, literals escaped), never as user text."""

from __future__ import annotations

import pyoxigraph as ox

from fairtracks_ld.search.engine import Search
from fairtracks_ld.search.fields import BY_NAME
from fairtracks_ld.search.index import FacetIndex

PREFIX = "PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"
# Each OPTIONAL binds its own variables: one shared by two OPTIONALs (the track's and the
# sample's species) stops Oxigraph from evaluating them per track, 300x slower.
ROW_COLUMNS = """\
  OPTIONAL { ?track ft:label_short ?label }
  OPTIONAL { ?track ft:local_id ?local_id }
  OPTIONAL { ?track ft:file_url ?file_url }
  OPTIONAL { ?track ft:assembly_name ?assembly }
  OPTIONAL { ?track ft:geometric_track_type ?track_type }
  OPTIONAL { ?track ft:type_of_condensed_data ?condensed }
  OPTIONAL { ?track ft:species_name ?track_species }
  OPTIONAL { ?track ft:file_format/ft:term_label ?format }
  OPTIONAL { ?track ft:experiment_ref ?experiment
    OPTIONAL { ?experiment ft:technique/ft:term_label ?technique }
    OPTIONAL { ?experiment ft:target/ft:summary ?target }
    OPTIONAL { ?experiment ft:sample_ref ?sample
      OPTIONAL { ?sample ft:sample_type/ft:summary ?cell_type }
      OPTIONAL { ?sample ft:species_name ?sample_species } } }
  BIND(COALESCE(?track_species, ?sample_species) AS ?species)
"""
COLUMNS = ("label", "local_id", "file_url", "assembly", "track_type", "condensed", "format",
           "technique", "target", "cell_type", "species")


def term(field: str, key: str) -> str:
    return str(ox.NamedNode(key) if BY_NAME[field].iris else ox.Literal(key))


def search_query(search: Search, index: FacetIndex | None = None) -> str:
    """SELECT the tracks the search matches, in the order the results table lists them (a
    derived field, such as the licence, as the values of its source it stands for: `index`)."""
    lines = []
    for number, (name, keys) in enumerate(search.filters.items()):
        path = BY_NAME[name].sparql_path()
        facet = index.fields.get(name) if index is not None else None
        if facet is not None and facet.stands_for:
            stands = sorted({v for k in keys for v in facet.stands_for.get(k, ())})
            lines.append(f"  # {name} {' or '.join(repr(k) for k in keys)}: these collections")
            values = " ".join(str(ox.NamedNode(v)) for v in stands)
            lines.append(f"  VALUES ?v{number} {{ {values} }}")
            lines.append(f"  ?track {path} ?v{number} .")
        elif len(keys) == 1:
            lines.append(f"  ?track {path} {term(name, keys[0])} .")
        else:
            lines.append(f"  VALUES ?v{number} {{ {' '.join(term(name, k) for k in keys)} }}")
            lines.append(f"  ?track {path} ?v{number} .")
    # a field read along several paths may end on another subject too (a sample's species)
    alternatives = any(len(BY_NAME[name].paths) > 1 for name in search.filters)
    if search.words or alternatives or not lines:
        lines.append("  ?track a ft:Track .")
    if search.words:
        lines.append("  OPTIONAL { ?track ft:label_short ?short }")
        lines.append("  OPTIONAL { ?track ft:label_long ?long }")
        lines.append('  BIND(LCASE(CONCAT(COALESCE(?short, ""), " ", COALESCE(?long, ""))) '
                     "AS ?text)")
        for word in search.words:
            lines.append(f"  FILTER(CONTAINS(?text, {ox.Literal(word)}))")
    offset = (search.page - 1) * search.size
    return (PREFIX + "SELECT DISTINCT ?track WHERE {\n" + "\n".join(lines) + "\n}\n"
            f"ORDER BY STR(?track)\nLIMIT {search.size}" + (f" OFFSET {offset}" if offset else ""))


def rows_query(tracks: list[str], graphs: list[str]) -> str:
    """The table columns of these tracks (IRIs from the index), one row per track, read FROM
    the version graphs that hold them (index.graphs_of): every column is in a track's own
    document, and a dataset of a few graphs keeps the query fast whatever the store's size.
    No `graphs`: read from the view (versions stored once have no named graph)."""
    values = " ".join(str(ox.NamedNode(t)) for t in tracks)
    picked = " ".join(f"(SAMPLE(?{c}) AS ?{c}_)" for c in COLUMNS)
    sources = "".join(f"FROM {ox.NamedNode(g)}\n" for g in graphs)
    return (PREFIX + f"SELECT ?track {picked}\n{sources}WHERE {{\n  VALUES ?track {{ {values} }}\n"
            + ROW_COLUMNS + "}\nGROUP BY ?track")
