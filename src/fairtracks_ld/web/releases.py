"""What an Ensembl release's page says (a collection the mapping makes, mapping.ensembl).

Its name ("Ensembl release 89") says which release; a researcher also wants to know which
genomes it holds, so the title names them ("Ensembl release 89: Homo sapiens GRCh37, Mus
musculus GRCm38"), read with the page's track list from the search index. No one document
describes a release (each of its tracks' documents states the same few triples), so the page
shows no provenance of its own: each track's page has its document's.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyoxigraph as ox

from fairtracks_ld.mapping.namespaces import FT, RDF_TYPE
from fairtracks_ld.web.members import Members
from fairtracks_ld.web.summary import first_text

RELEASE = FT + "EnsemblRelease"
TITLE_GENOMES = 3  # genomes named in the title; the summary lists them all
LISTED_GENOMES = 50  # genomes listed in the summary, most tracks first


def is_release(triples: Iterable[ox.Triple], iri: str) -> bool:
    subject = ox.NamedNode(iri)
    return any(t.subject == subject and t.predicate.value == RDF_TYPE
               and t.object.value == RELEASE for t in triples)


def title(name: str, members: Members | None) -> str:
    """The release's name and the genomes of its tracks, most tracks first."""
    if members is None or not members.genomes:
        return name
    named = [text for text, _ in members.genomes[:TITLE_GENOMES]]
    more = len(members.genomes) - len(named)
    return f"{name}: {', '.join(named)}" + (f" and {more} more genomes" if more else "")


def facts(triples: list[ox.Triple], iri: str, members: Members | None
          ) -> list[tuple[str, str, str | None]]:
    """Summary rows: the division and release number, then one row per genome with its
    number of tracks."""
    subject = ox.NamedNode(iri)
    rows: list[tuple[str, str, str | None]] = [
        (title_, text, None) for title_, text in (
            ("Ensembl division", first_text(triples, subject, "release_division")),
            ("Ensembl release", first_text(triples, subject, "release_version"))) if text]
    if members is None:
        return rows
    rows += [("genome", f"{text} · {count:,} track{'s' if count != 1 else ''}", None)
             for text, count in members.genomes[:LISTED_GENOMES]]
    more = len(members.genomes) - LISTED_GENOMES
    if more > 0:
        rows.append(("genome", f"… and {more:,} more", None))
    return rows
