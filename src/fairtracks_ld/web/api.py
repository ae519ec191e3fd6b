"""`/api/v1`: a TrackFind-compatible REST API (repositories, hubs, metamodel, categories,
attributes, values, search), described by `/api/v1/openapi.json`.

Mapping: a repository is a collection's source (the host of its `source_repo_url`), a hub is a
collection (its local_id), categories are the document's object types. An Ensembl release is a
hub too (`www.ensembl.org` / `ensembl-ensembl-89`): its tracks in the vocabulary's terms
(mapping.ensembl_export), the release as its collection_info. Search records join each
track with its experiment, sample and study, as TrackFind's do. Where TrackFind takes an SQL
fragment (`query`), this API takes the structured filter syntax of search.filters, which adds
an ontology-aware `UNDER` (descendants from the snapshot's closure, search.descendants).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request

from fairtracks_ld.mapping.ensembl import MODEL as ENSEMBL  # the catalog's variant of a track
from fairtracks_ld.mapping.ensembl_export import release_record, track_record
from fairtracks_ld.mapping.iris import local_id_of
from fairtracks_ld.search import exports
from fairtracks_ld.search.descendants import Descendants
from fairtracks_ld.search.filters import (
    CATEGORIES,
    FilterError,
    Test,
    check_paths,
    parse_filter,
    values_at,
)
from fairtracks_ld.search.gsuite import gsuite
from fairtracks_ld.search.trackfind_gsuite import trackfind_gsuite
from fairtracks_ld.store import TrackStore, VersionInfo
from fairtracks_ld.store.records import graph_triples
from fairtracks_ld.store.snapshots import SnapshotReader
from fairtracks_ld.web.openapi import openapi

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
CACHED_HUBS = 8
_CACHE: OrderedDict[tuple[str, str], _Hub] = OrderedDict()  # (snapshot, collection) → hub
_PARTS: dict[tuple[str, str], dict[str, list[dict]]] = {}  # the cached hubs' versions' parts
_TERMS: dict[str, Descendants] = {}  # the current snapshot's only
_LOCK = threading.Lock()
Record = dict[str, Any]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@blueprint.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return _json({"error": error.message}, error.status)


@blueprint.errorhandler(FilterError)
def _filter_error(error: FilterError) -> Response:
    return _json({"error": f"bad query: {error}"}, 400)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def repository_of(url: str | None) -> str:
    return (urlsplit(url).hostname or "unknown") if url else "unknown"


def _collections() -> dict[str, dict[str, str]]:
    """repository → hub → collection IRI, for the current snapshot."""
    store = current_app.extensions["snapshots"].store()
    found: dict[str, dict[str, str]] = {}
    rows = store.query("SELECT ?c ?url WHERE { ?c a ft:Collection "
                       "OPTIONAL { ?c ft:source_repo_url ?url } }")
    for row in rows:
        url = row["url"].value if row["url"] is not None else None
        found.setdefault(repository_of(url), {})[local_id_of(row["c"].value)] = row["c"].value
    return found


@dataclass
class _Hub:
    """A hub as one snapshot has it: the (graph, load time) of its current versions, their
    documents merged by category, and (once a search asked) its joined records."""

    versions: list[tuple[str, str]]
    content: dict[str, list[dict]]
    joined: list[Record] | None = None


def _hub(repository: str, hub: str) -> dict[str, list[dict]]:
    """The hub's documents merged by category."""
    return _cached_hub(repository, hub).content


def _joined(cached: _Hub) -> list[Record]:
    """The hub's records (`records`), joined once per snapshot."""
    if cached.joined is None:
        cached.joined = records(cached.content)
    return cached.joined


def _cached_hub(repository: str, hub: str) -> _Hub:
    """The hub (cached per snapshot and hub; each version's part cached per version, so a new
    snapshot reads only the versions it adds)."""
    hubs = _collections()
    if repository not in hubs:
        raise ApiError(404, f"no repository {repository!r}; known: {', '.join(sorted(hubs))}")
    if hub not in hubs[repository]:
        raise ApiError(404, f"no hub {hub!r} in {repository}; known: "
                            f"{', '.join(sorted(hubs[repository]))}")
    reader = current_app.extensions["snapshots"]
    store = reader.store()
    key = (str(store.path), hubs[repository][hub])
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    # exports are shared on the snapshots' disk; a backend's server has none
    folder = exports.folder_of(reader.store_path) if isinstance(reader, SnapshotReader) else None
    merged: dict[str, list[dict]] = {c: [] for c in CATEGORIES}
    held = []
    for version in store.versions():
        if version.current and version.collection == key[1]:
            held.append((version.graph, version.loaded_at))
            part = _part(store, folder, version)
            for category, content in part.items():
                if version.variant != ENSEMBL or category != "collection_info" \
                        or not merged[category]:
                    merged[category].extend(content)
    made = _Hub(held, merged)
    with _LOCK:
        _CACHE[key] = made
        while len(_CACHE) > CACHED_HUBS:
            _CACHE.popitem(last=False)
        kept = {version for cached in _CACHE.values() for version in cached.versions}
        for version in set(_PARTS) - kept:
            del _PARTS[version]
    return made


def _part(store: TrackStore, folder: Path | None, version: VersionInfo) -> dict[str, list[dict]]:
    """A current version's share of its hub, by category: a document's objects (its export,
    made by the writer or another process: search.exports), or an Ensembl track with its
    release as the hub's collection_info (every track's graph describes it alike)."""
    key = (version.graph, version.loaded_at)
    with _LOCK:
        if key in _PARTS:
            return _PARTS[key]
    if version.variant == ENSEMBL:
        quads = list(graph_triples(store, version.graph))
        part = {"tracks": [track_record(quads, version.document)],
                "collection_info": [release_record(quads, version.collection)]}
    else:
        document = exports.obtain(store, folder, version)
        part = {c: content if isinstance(content, list) else [content]
                for c in CATEGORIES if (content := document.get(c)) is not None}
    with _LOCK:
        _PARTS[key] = part
    return part


def _descendants() -> Descendants:
    """The current snapshot's term descendants (a new snapshot starts afresh)."""
    store = current_app.extensions["snapshots"].store()
    key = str(store.path)
    with _LOCK:
        if key not in _TERMS:
            _TERMS.clear()
            _TERMS[key] = Descendants(store)
        return _TERMS[key]


def _filter(query: str) -> Test:
    return parse_filter(query, _descendants())


def records(hub: dict[str, list[dict]]) -> list[Record]:
    """One record per track: the track with its experiment, sample, study and collection."""
    by_id = {c: {o.get("local_id"): o for o in hub[c]} for c in ("experiments", "samples",
                                                                 "studies")}
    found = []
    for track in hub["tracks"]:
        experiment = by_id["experiments"].get(track.get("experiment_ref"), {})
        record = {"tracks": track, "experiments": experiment,
                  "samples": by_id["samples"].get(experiment.get("sample_ref"), {}),
                  "studies": by_id["studies"].get(experiment.get("study_ref"), {}),
                  "collection_info": (hub["collection_info"] or [{}])[0],
                  "doc_info": (hub["doc_info"] or [{}])[0]}
        found.append(record)
    return found


def paths(content: Any, prefix: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """`a->b->c` attribute paths below an object, each with its distinct scalar values."""
    found: dict[str, set[str]] = {}
    items = content if isinstance(content, list) else [content]
    for item in items:
        if isinstance(item, dict):
            for key, value in item.items():
                for path, values in paths(value, (*prefix, key)).items():
                    found.setdefault(path, set()).update(values)
        elif prefix:
            text = json.dumps(item) if not isinstance(item, str) else item
            found.setdefault("->".join(prefix), set()).add(text)
    return found


def _category(category: str) -> None:
    if category not in CATEGORIES:
        raise ApiError(400, f"unknown category {category!r}; one of {', '.join(CATEGORIES)}")


def _flag(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false")
    return value == "true"


def _path(required: bool) -> list[str]:
    text = request.args.get("path", "")
    if not text:
        if required:
            raise ApiError(400, "path is required, e.g. path=sample_type->cell_type->term_label")
        return []
    parts = [p.strip() for p in text.split("->")]
    if any(not p for p in parts):
        raise ApiError(400, f"bad path {text!r}: attribute names joined by '->'")
    return parts


@blueprint.route("/openapi.json")
def openapi_json() -> Response:
    return _json(openapi())


@blueprint.route("/repositories")
def repositories() -> Response:
    return _json(sorted(_collections()))


@blueprint.route("/hubs/<repository>")
def hubs(repository: str) -> Response:
    found = _collections()
    if repository not in found:
        raise ApiError(404, f"no repository {repository!r}")
    return _json(sorted(found[repository]))


@blueprint.route("/metamodel/<repository>/<hub>")
def metamodel(repository: str, hub: str) -> Response:
    content = _hub(repository, hub)
    flat, attributes, values = (_flag("flat"), request.args.get("attributesFilter", ""),
                                request.args.get("valuesFilter", "").lower())
    model: dict[str, Any] = {}
    for category in CATEGORIES:
        if not content[category]:
            continue
        found = {p: sorted(v for v in vs if values in v.lower())
                 for p, vs in paths(content[category]).items() if attributes in p}
        found = {p: vs for p, vs in found.items() if vs or not values}
        if flat:
            model[category] = dict(sorted(found.items()))
            continue
        tree: dict[str, Any] = {}
        for path, vs in sorted(found.items()):
            node = tree
            *heads, last = path.split("->")
            for head in heads:
                node = node.setdefault(head, {})
                if not isinstance(node, dict):
                    break
            else:
                node[last] = vs
        model[category] = tree
    return _json(model)


@blueprint.route("/categories/<repository>/<hub>")
def categories(repository: str, hub: str) -> Response:
    content = _hub(repository, hub)
    return _json([c for c in CATEGORIES if content[c]])


@blueprint.route("/attributes/<repository>/<hub>/<category>")
def attributes(repository: str, hub: str, category: str) -> Response:
    _category(category)
    prefix = _path(required=False)
    names: set[str] = set()
    for path in paths(_hub(repository, hub)[category]):
        parts = path.split("->")
        if parts[:len(prefix)] == prefix and len(parts) > len(prefix):
            names.add(parts[len(prefix)])
    return _json(sorted(names))


@blueprint.route("/values/<repository>/<hub>/<category>")
def values(repository: str, hub: str, category: str) -> Response:
    _category(category)
    path = _path(required=True)
    cached = _cached_hub(repository, hub)
    query = request.args.get("query")
    if query:
        test = _filter(query)
        items = [r[category] for r in _joined(cached) if test(r)]
    else:
        items = cached.content[category]
    text = request.args.get("filter", "").lower()
    found = {json.dumps(v) if not isinstance(v, str) else v
             for item in items for v in values_at(item, path)}
    return _json(sorted(v for v in found if text in v.lower()))


def _limit() -> int:
    text = request.args.get("limit", "0")
    if not text.isdigit():
        raise ApiError(400, f"limit must be a whole number (0: no limit), not {text!r}")
    return int(text)


@blueprint.route("/search/<repository>/<hub>")
def search(repository: str, hub: str) -> Response:
    query = request.args.get("query")
    if not query:
        raise ApiError(400, "query is required, e.g. query=samples->species_name = 'Homo "
                            "sapiens' (structured filter syntax: see /api/v1/openapi.json)")
    named: list[tuple[str, list[str]]] = []
    test = parse_filter(query, _descendants(), named)
    wanted = [c.strip() for c in request.args.get("categories", "").split(",") if c.strip()]
    for category in wanted:
        _category(category)
    limit = _limit()
    every = _joined(_cached_hub(repository, hub))
    check_paths(named, every)
    found = [r for r in every if test(r)]
    if limit:
        found = found[:limit]
    accept = request.accept_mimetypes
    if accept["text/plain"] > accept["application/json"]:
        return Response(_gsuite(found), mimetype="text/plain")
    return _json([{c: r[c] for c in (wanted or CATEGORIES)} for r in found])


def _gsuite(found: list[Record]) -> str:
    """Every attribute as TrackFind lays it out; with `attributes=`, those columns only."""
    columns = [c.strip() for c in request.args.get("attributes", "").split(",") if c.strip()]
    if not columns:
        return trackfind_gsuite(found)
    for column in columns:
        category = column.split("->", 1)[0]
        if category not in CATEGORIES or "->" not in column:
            raise ApiError(400, f"bad attribute {column!r}: category->attribute->…")

    def first(record: Record, category: str, *path: str) -> str | None:
        found_values = values_at(record[category], list(path))
        return ",".join(str(v) for v in found_values) if found_values else None

    rows = [{"uri": first(r, "tracks", "file_url") or ".",
             "title": first(r, "tracks", "label_short") or first(r, "tracks", "local_id"),
             "file_format": first(r, "tracks", "file_format", "term_label"),
             "track_type": first(r, "tracks", "geometric_track_type"),
             "genome": first(r, "tracks", "assembly_name"),
             **{c: first(r, *c.split("->")) for c in columns}} for r in found]
    return gsuite(rows, {c: c.removeprefix("tracks->") for c in columns})
