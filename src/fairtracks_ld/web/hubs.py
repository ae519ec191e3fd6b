"""UCSC track hubs and IGV sessions for a selection of tracks.

A hub follows UCSC's rules (https://genome.ucsc.edu/goldenPath/help/hgTrackHubHelp.html): it holds
only binary indexed files a genome browser reads by range (bigWig, bigBed, BAM, CRAM, tabix VCF,
bigInteract, hic); track names are unique, letters, digits and underscores, starting with a
letter; a shortLabel has at most 17 characters, a longLabel at most 76. Tracks a hub cannot hold
(text formats, unknown assemblies, controlled access) are listed as comments in trackDb.txt with
the reason, so nothing is dropped silently.

Hand-written rather than PyPI `trackhub`: that library writes hubs to disk and pulls in
requests, openpyxl, bs4 and html5lib; a hub here is three small text files made on request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fairtracks_ld.web.browsers import controlled, file_format, genome, igv_track

SHORT_LABEL = 17
LONG_LABEL = 76
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
NAME_LENGTH = 64


@dataclass(frozen=True)
class HubTrack:
    """One track as a hub holds it."""

    name: str
    short_label: str
    long_label: str
    type: str
    url: str
    page: str  # the track's page on this site (the hub's `html`-free link back)


@dataclass(frozen=True)
class Skipped:
    track: str
    reason: str
    genome: str | None = None  # None: no genome known, noted in every trackDb


@dataclass
class Selection:
    """The tracks of a selection, by genome, and the ones no hub or session can hold."""

    genomes: dict[str, list[HubTrack]]
    igv: dict[str, list[dict[str, object]]]
    skipped: list[Skipped]


def clip(text: str, limit: int) -> str:
    """Whitespace-folded text cut to at most `limit` characters."""
    return " ".join(text.split())[:limit].rstrip()


def track_name(local_id: str, taken: set[str]) -> str:
    """A UCSC track name from a local id: letters, digits, underscores, a letter first, unique."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", local_id).strip("_")[:NAME_LENGTH - 8] or "track"
    if not stem[0].isalpha():
        stem = "t" + stem
    name, number = stem, 1
    while name in taken:
        number += 1
        name = f"{stem}_{number}"
    taken.add(name)
    return name


def select(rows: Iterable[Mapping[str, str | None]]) -> Selection:
    """Sort search rows (fetch_rows' columns) into hub tracks and IGV tracks per genome."""
    genomes: dict[str, list[HubTrack]] = {}
    igv: dict[str, list[dict[str, object]]] = {}
    skipped: list[Skipped] = []
    taken: set[str] = set()
    for row in rows:
        track = str(row["track"])
        url = row.get("file_url")
        fmt = file_format(None, url, label=row.get("format"))
        db = genome(row.get("assembly"))
        label = row.get("label") or row.get("local_id") or track.rsplit("/", 1)[-1]
        reason = (None if url else "no file") or (
            "controlled access" if controlled(str(url)) else None) or (
            None if fmt else f"format {row.get('format')!r} is not one genome browsers read") or (
            None if db else f"assembly {row.get('assembly')!r} has no UCSC/IGV genome")
        if reason:
            skipped.append(Skipped(track, reason, db))
            continue
        assert fmt is not None and db is not None and url
        if fmt.igv:
            igv.setdefault(db, []).append(igv_track(url, fmt, label))
        if not fmt.binary or not fmt.ucsc:
            skipped.append(Skipped(track, f"{fmt.name} is not a binary indexed format, which a "
                                          f"hub needs; the IGV session holds it", db))
            continue
        genomes.setdefault(db, []).append(HubTrack(
            track_name(row.get("local_id") or label, taken), clip(label, SHORT_LABEL),
            clip(" ".join(p for p in (label, row.get("cell_type"), row.get("technique"))
                          if p), LONG_LABEL), fmt.ucsc, url, track))
    return Selection(genomes, igv, skipped)


def hub_txt(name: str, short_label: str, long_label: str, email: str) -> str:
    return (f"hub {name}\nshortLabel {clip(short_label, SHORT_LABEL)}\n"
            f"longLabel {clip(long_label, LONG_LABEL)}\ngenomesFile genomes.txt\n"
            f"email {email}\n")


def genomes_txt(genomes: Iterable[str]) -> str:
    return "".join(f"genome {db}\ntrackDb {db}/trackDb.txt\n\n" for db in sorted(genomes))


def trackdb_txt(db: str, tracks: list[HubTrack], skipped: list[Skipped]) -> str:
    """The trackDb of one genome: a stanza per track, then the tracks of this genome (or of
    none) left out, and why."""
    skipped = [s for s in skipped if s.genome in (db, None)]
    stanzas = [f"track {t.name}\nshortLabel {t.short_label}\nlongLabel {t.long_label}\n"
               f"type {t.type}\nbigDataUrl {t.url}\nvisibility {_visibility(t.type)}\n"
               f"metadata fairtracks={t.page}\n" for t in tracks]
    notes = [f"# not in this hub: {s.track} ({s.reason})\n" for s in skipped]
    return "\n".join(stanzas) + ("\n" if notes and stanzas else "") + "".join(notes)


def _visibility(kind: str) -> str:
    return "full" if kind in ("bigWig", "hic") else "dense"


def igv_session(db: str, tracks: list[dict[str, object]],
                options: dict[str, object] | None = None) -> dict[str, object]:
    """An igv.js / IGV-Web session (JSON): the genome (or the site's configured reference
    options) and the tracks."""
    head: dict[str, object] = options if options else {"genome": db}
    return {**head, "tracks": tracks}
