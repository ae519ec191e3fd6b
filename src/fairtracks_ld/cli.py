"""`fairtracks-ld`: thin commands over the pipeline. Exit codes: 0 ok, 1 failed, 2 usage."""

from __future__ import annotations

import argparse
import errno
import getpass
import gzip
import json
import os
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from fairtracks_ld.faults import checkpoint
from fairtracks_ld.mapping.export import export_document
from fairtracks_ld.mapping.iris import BASE_IRI_ENV, DEFAULT_BASE_IRI
from fairtracks_ld.standard import VARIANTS
from fairtracks_ld.store import (
    DEFAULT_STORE_PATH,
    StoreError,
    TrackStore,
    current_view,
    optimizer,
    reserve,
)
from fairtracks_ld.store.disk import usage
from fairtracks_ld.writer_lock import StoreLocked, writer_lock
from fairtracks_ld.writing import open_store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ttl": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "nt": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}
DUMP_FORMATS = {
    "nq": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
}


class UsageError(Exception):
    """Wrong input from the user (exit code 2)."""


def _store(args: argparse.Namespace, sweep: bool = True) -> TrackStore:
    """The primary store, for a command that holds the writer lock (see `main`); debris of an
    interrupted earlier write is swept first (unless `sweep` is False)."""
    from fairtracks_ld import recovery

    try:
        store = open_store(args.store, base=args.base_iri)
    except OSError as error:
        if "lock" not in str(error).lower():
            raise
        raise StoreLocked(f"store {args.store} is open in another process that does not take "
                          "the writer lock (a Python program?); stop it and run this again"
                          ) from error
    debris = recovery.sweep(store) if sweep else None
    if debris:
        print(f"swept the debris of an interrupted write: {debris.describe()} "
              f"({debris.seconds:.1f} s)", file=sys.stderr)
    return store


def _reader(args: argparse.Namespace) -> TrackStore:
    """The last published snapshot, read-only: readers never open the store a load may be
    writing. A store without one gets its first snapshot now (under the writer lock)."""
    from fairtracks_ld.store.snapshots import current_snapshot

    path = Path(args.store)
    if current_snapshot(path) is None:
        if not path.is_dir():
            raise StoreError(f"no store at {path}; load documents first")
        try:
            with writer_lock(path, wait=args.wait):
                _publish(open_store(path, base=args.base_iri))
        except OSError as error:  # a read-only store nobody writes: read it directly
            if error.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            return TrackStore(path, base=args.base_iri, read_only=True)
    return TrackStore(current_snapshot(path), base=args.base_iri, read_only=True)


def _publish(store: TrackStore) -> Path:
    """Make what was written visible to running servers (they read published snapshots)."""
    from fairtracks_ld.store.snapshots import publish

    return publish(store)


@contextmanager
def _output(path: str | None):
    """stdout, a file, or a gzip file (by suffix), as a binary stream."""
    if path in (None, "-"):
        yield sys.stdout.buffer
        sys.stdout.flush()
    elif path.endswith(".gz"):
        with gzip.open(path, "wb") as handle:
            yield handle
    else:
        with open(path, "wb") as handle:
            yield handle


# ---- commands ---------------------------------------------------------------------------------


def cmd_load(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fairtracks_ld import heap, load_output
    from fairtracks_ld.load import load_sources
    from fairtracks_ld.sources import expand_sources

    heap.limit_arenas()  # before the loader's threads start
    sources = expand_sources(args.paths)
    if not sources:
        raise UsageError("no documents found in " + " ".join(args.paths))
    if args.report and not Path(args.report).resolve().parent.is_dir():
        raise UsageError(f"--report {args.report}: no such folder")
    store = _store(args)
    bar = tqdm(total=len(sources), unit="doc", disable=None if len(sources) > 1 else True,
               file=sys.stderr)
    report = load_sources(store, sources, variant=args.variant, bulk=args.bulk,
                          progress=lambda _: bar.update(), allow_invalid=args.allow_invalid,
                          model=args.model, limits=_limits(args))
    bar.close()
    for line in load_output.loaded_lines(report, args.verbose):
        print(line)
    sys.stdout.flush()
    for line in load_output.problem_lines(report, args.verbose):
        print(line, file=sys.stderr)
    snapshot, published = None, True
    if report.loaded:  # what loaded is published even when other files were not
        try:
            snapshot = _publish(store)
        except (OSError, RuntimeError) as error:
            published = False
            print(f"error: the loaded documents are stored but could not be published for "
                  f"servers ({error}); the next load or `serve` publishes them", file=sys.stderr)
    for line in load_output.summary_lines(report, snapshot):
        print(line, file=sys.stderr)
    if snapshot is not None and optimizer.wanted(snapshot):
        _compact_in_background(Path(args.store), snapshot)
    if args.report:
        load_output.write_report(args.report,
                                 load_output.report_json(report, str(args.store), snapshot))
    return EXIT_OK if report.ok and published else EXIT_FAILED


def _compact_in_background(store: Path, snapshot: Path) -> None:
    """Start a big load's background compaction (store/optimizer.py) and say so; the load has
    succeeded whether or not it can be started."""
    missing = optimizer.missing_room(store, snapshot)
    if missing:
        _not_compacted(f"it may need {missing / 1e9:.1f} GB more free disk than there is")
        return
    try:
        pid = optimizer.start(store)
    except OSError as error:
        _not_compacted(str(error))
        return
    print(f"compacting the store in the background (process {pid}, log "
          f"{optimizer.log_path(store)}): queries read faster once it has published; the "
          "next write stops it", file=sys.stderr)


def _not_compacted(reason: str) -> None:
    print(f"note: the store was not compacted in the background ({reason}); "
          "`fairtracks-ld optimize` does it", file=sys.stderr)


def _read_query(text: str) -> str:
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise UsageError(f"no query file {path}")
        return path.read_text(encoding="utf-8")
    if text == "-":
        return sys.stdin.read()
    return text


def _print_table(solutions: ox.QuerySolutions, out: IO[str], skip: Sequence[str] = (),
                 limit: int | None = None) -> None:
    names = [v.value for v in solutions.variables if v.value not in skip]
    rows = [["" if row[n] is None else _short(row[n]) for n in names] for row in solutions]
    shown = rows if limit is None else rows[:limit]
    widths = [max([len(n), *(len(r[i]) for r in shown)]) for i, n in enumerate(names)]
    out.write("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip() + "\n")
    for row in shown:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    more = f", the first {len(shown)} shown" if len(shown) < len(rows) else ""
    out.write(f"({len(rows)} rows{more})\n")


def _short(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> str:
    return term.value if isinstance(term, ox.Literal) else str(term)


def cmd_query(args: argparse.Namespace) -> int:
    from fairtracks_ld.sparql import graph_rewrite
    from fairtracks_ld.store import members

    sparql = _read_query(args.query)
    store = _reader(args)
    try:
        if not args.all_graphs:  # GRAPH over versions stored once (store/members.py)
            sparql, _, _ = members.rewrite_query(sparql, store)
        result = store.query(sparql, all_graphs=args.all_graphs)
    except SyntaxError as error:
        raise UsageError(f"SPARQL syntax error: {error}") from error
    except graph_rewrite.GraphRewriteRefused as error:
        raise UsageError(str(error)) from error
    with _output(args.output) as out:
        if isinstance(result, ox.QuerySolutions):
            if args.format == "table":
                import io

                text = io.StringIO()
                _print_table(result, text, limit=args.limit)
                out.write(text.getvalue().encode())
            elif args.format in RESULT_FORMATS:
                result.serialize(out, RESULT_FORMATS[args.format])
            else:
                raise UsageError(f"--format {args.format} is for graphs; SELECT gives "
                                 f"table/{'/'.join(RESULT_FORMATS)}")
        elif isinstance(result, ox.QueryBoolean):
            if args.format in RESULT_FORMATS:
                result.serialize(out, RESULT_FORMATS[args.format])
            else:
                out.write(f"{bool(result)}\n".lower().encode())
        else:
            fmt = GRAPH_FORMATS.get(args.format if args.format != "table" else "turtle")
            if fmt is None:
                raise UsageError(f"--format {args.format} is for SELECT; graphs give "
                                 f"{'/'.join(GRAPH_FORMATS)}")
            result.serialize(out, fmt)
    return EXIT_OK


def cmd_dump(args: argparse.Namespace) -> int:
    store = _reader(args)
    with _output(args.output) as out:
        store.dump(out, DUMP_FORMATS[args.format], graph=args.graph)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    store = _reader(args)
    wanted = args.collection
    versions = [
        v for v in store.versions()
        if wanted in (v.collection, v.collection.rsplit("/", 1)[-1])
        or wanted == _decoded_tail(v.collection)
    ]
    if args.version:
        versions = [v for v in versions if v.doc_version == args.version]
    else:
        versions = [v for v in versions if v.current]
    if args.document:
        versions = [v for v in versions if _decoded_tail(v.document) == args.document]
    if not versions:
        print(f"error: no {'matching version of ' if args.version else ''}collection "
              f"{wanted!r} in the store", file=sys.stderr)
        return EXIT_FAILED
    if len({v.document for v in versions}) > 1:
        docs = ", ".join(sorted(_decoded_tail(v.document) for v in versions))
        raise UsageError(f"collection {wanted!r} has several documents ({docs}); pick --document")
    version = versions[-1]
    document = export_document(store.graph_quads(version.graph), version.document)
    with _output(args.output) as out:
        out.write(json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n")
    return EXIT_OK


def _decoded_tail(iri: str) -> str:
    from fairtracks_ld.mapping.iris import local_id_of

    return local_id_of(iri)


def cmd_stats(args: argparse.Namespace) -> int:
    store = _reader(args)
    versions = store.versions()
    counts = store.query(
        "SELECT ?type (COUNT(?s) AS ?n) WHERE { ?s a ?type "
        "FILTER(STRSTARTS(STR(?type), STR(ft:))) } GROUP BY ?type ORDER BY ?type"
    )
    stats = {
        "store": str(args.store),
        "base_iri": store.base,
        "documents": len({v.document for v in versions}),
        "document_versions": len(versions),
        "collections": len({v.collection for v in versions if v.current}),
        "quads": len(store.ox),
        "current_view_triples": current_view.size(store),
        "current_view": {row["type"].value.split("#")[-1]: int(row["n"].value) for row in counts},
    }
    if Path(args.store).is_dir():
        stats["disk_bytes"] = usage(Path(args.store))
    stats["published_snapshot"] = _snapshot_stats(Path(args.store))
    print(json.dumps(stats, indent=2))
    return EXIT_OK


def _snapshot_stats(store_path: Path) -> dict | None:
    """The published snapshot's table files and what the compaction wait before it did."""
    from fairtracks_ld.store import compaction
    from fairtracks_ld.store.snapshots import current_snapshot

    snapshot = current_snapshot(store_path)
    if snapshot is None:
        return None
    return {"path": str(snapshot), "table_files": len(compaction.table_files(snapshot)),
            "compaction": compaction.record(snapshot)}


def cmd_migrate(args: argparse.Namespace) -> int:
    """Opening the store for writing migrates an earlier view (writing.open_store); then each
    current version that could be stored once loses its named graph (store/members.py); say
    what the store holds now."""
    from fairtracks_ld.store import members

    if not Path(args.store).is_dir():
        raise StoreError(f"no store at {args.store}")
    started = time.perf_counter()
    store = _store(args)
    converted = sum(members.store_once(store, version, collection)
                    for version, collection in members.convertible(store))
    _publish(store)
    print(f"{args.store}: layout {current_view.LAYOUT}, {current_view.size(store):,} triples in "
          f"the current view, {len(members.stored_once(store)):,} version(s) stored once "
          f"({converted:,} converted now; {time.perf_counter() - started:.1f} s)")
    return EXIT_OK


def cmd_optimize(args: argparse.Namespace) -> int:
    """Store once each current version that can be (one superseding another kept a named
    graph: store/members.py), compact the store in full (Oxigraph's `optimize`, a RocksDB
    compaction of every index) and publish it. A big load starts this in the background
    (`--yield`, store/optimizer.py), which the next writer stops; run it by hand for stores
    written before that, or to squeeze a store before it is copied."""
    from fairtracks_ld.store import members

    if not Path(args.store).is_dir():
        raise StoreError(f"no store at {args.store}")
    started = time.perf_counter()
    store = _store(args)
    before = usage(Path(args.store))["store"]
    if args.yield_:
        print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: compacting {args.store} (process "
              f"{os.getpid()})", flush=True)
    converted = sum(members.store_once(store, version, collection)
                    for version, collection in members.convertible(store))
    if converted:
        print(f"{converted:,} version(s) now stored once", flush=True)
    checkpoint("optimizing")
    store.ox.optimize()
    store.flush()
    after = usage(Path(args.store))["store"]
    _publish(store)
    print(f"{args.store}: optimized in {time.perf_counter() - started:.1f} s; store "
          f"{before / 1e6:,.0f} MB → {after / 1e6:,.0f} MB")
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    from fairtracks_ld.generate import write_corpus

    paths = write_corpus(Path(args.out), tracks=args.tracks, seed=args.seed,
                         variant=args.variant or "v1-current",
                         tracks_per_document=args.tracks_per_document, gzip=args.gzip)
    print(f"wrote {len(paths)} documents with {args.tracks} tracks to {args.out}")
    return EXIT_OK


def cmd_ontologies_build(args: argparse.Namespace) -> int:
    from fairtracks_ld.ontology import build_bundle, shipped_sources

    sources = [Path(s) for s in args.sources] or shipped_sources(Path(args.shared))
    manifest = build_bundle(sources, Path(args.out))
    for module in manifest.modules:
        print(f"{module.file}: {module.ontology_iri} ({module.counts['classes']} classes)")
    return EXIT_OK


def cmd_ontologies_load(args: argparse.Namespace) -> int:
    from fairtracks_ld.ontology.install import load_bundle

    store = _store(args)
    for iri in load_bundle(store, Path(args.bundle) if args.bundle else None):
        print(f"loaded {iri}")
    _publish(store)
    return EXIT_OK


def cmd_ontologies_add(args: argparse.Namespace) -> int:
    from fairtracks_ld.ontology.install import add_ontology

    store = _store(args)
    print(f"loaded {add_ontology(store, args.location)}")
    _publish(store)
    return EXIT_OK


def cmd_ontologies_check_reasoner(args: argparse.Namespace) -> int:
    from fairtracks_ld.ontology.reasoner_check import check_bundle

    try:
        results = check_bundle(args.module, args.reasoner, args.timeout, args.java_memory,
                               Path(args.bundle) if args.bundle else None)
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.json:
        print(json.dumps([result.as_json() for result in results], indent=1))
    else:
        for result in results:
            print("\n".join(result.describe()))
    return EXIT_OK if all(result.agree for result in results) else EXIT_FAILED


def cmd_ontologies_list(args: argparse.Namespace) -> int:
    for info in _reader(args).ontologies():
        print(f"{info.graph}\t{info.version_iri or '-'}\t{info.source}\t{info.loaded_at}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from fairtracks_ld.queries import QueryError, list_queries, load_query, parse_assignments, run

    try:
        if args.list or not args.query:
            for named in list_queries():
                params = " ".join(f"{p.name}=<{p.kind}{', optional' if p.optional else ''}>"
                                  for p in named.params)
                print(f"{named.name} {params}".rstrip())
                print(f"    {named.description}")
                for p in named.params:
                    print(f"    {p.name}: {p.description}")
            return EXIT_OK
        named = load_query(args.query)
        store = _reader(args)
        result, bound = run(store, named, parse_assignments(args.param))
    except QueryError as error:
        raise UsageError(str(error)) from error
    except SyntaxError as error:
        raise UsageError(f"SPARQL syntax error in {args.query}: {error}") from error
    for note in bound.notes:
        print(note, file=sys.stderr)
    if not isinstance(result, ox.QuerySolutions):
        raise UsageError(f"{named.name} is not a SELECT query; run it with `query @{named.path}`")
    if args.format == "table":
        _print_table(result, sys.stdout, skip=[p.name for p in named.params], limit=args.limit)
    else:
        result.serialize(sys.stdout.buffer, RESULT_FORMATS[args.format])
        sys.stdout.flush()
    return EXIT_OK


def cmd_reason(args: argparse.Namespace) -> int:
    from fairtracks_ld.reasoning import FAST, current_state, ontology_graphs, refresh

    store = _store(args)
    subclass_of, reasoner = None, FAST
    if args.owl_reasoner:
        from fairtracks_ld.ontology.owl_reasoner import classify_graphs

        found = classify_graphs(store.ox, ontology_graphs(store), args.owl_reasoner,
                                args.owl_timeout, args.java_memory)
        subclass_of, reasoner = found.subclass_of, args.owl_reasoner
        print(f"{reasoner}: {found.pairs} ft:subclass_of links ({found.seconds:.1f} s)")
        if found.unsatisfiable:
            print(f"warning: {len(found.unsatisfiable)} unsatisfiable classes, e.g. "
                  f"{sorted(found.unsatisfiable)[0]}", file=sys.stderr)
    report = refresh(store, None if args.full else current_state(store), subclass_of, reasoner)
    print(f"closure: {report.classes} classes, {report.subclass_of} ft:subclass_of, "
          f"{report.descends_from} ft:descends_from and {report.found_under} ft:found_under "
          f"links ({report.seconds:.1f} s); "
          + ("rewritten from scratch" if args.full and not report.removed else
             f"{report.removed} links removed, {report.added} added"))
    _publish(store)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from fairtracks_ld import doctor

    if not Path(args.store).is_dir():
        raise StoreError(f"no store at {args.store}")
    findings = doctor.check(_store(args, sweep=False), repair=args.repair)
    print(doctor.render(findings, args.repair), end="")
    return EXIT_FAILED if doctor.remaining(findings) else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from fairtracks_ld.web.serve import serve

    extra = {}
    if args.query_timeout is not None:
        extra["FAIRTRACKS_LD_QUERY_TIMEOUT"] = str(args.query_timeout)
    if args.allow_service:
        from fairtracks_ld.sparql.policy import allowed_endpoints

        allowed_endpoints(args.allow_service)  # ValueError names an entry that never matches
        extra["FAIRTRACKS_LD_SERVICE_ALLOW_LIST"] = " ".join(args.allow_service)
    if args.trusted_proxy:
        from fairtracks_ld.web.clients import networks

        networks(args.trusted_proxy)  # ValueError names an entry that is not an address
        extra["FAIRTRACKS_LD_TRUSTED_PROXIES"] = " ".join(args.trusted_proxy)
    if args.segments is not None and not args.backend:
        raise UsageError("--segments is for a replica (--backend): a store's server keeps its "
                         "segments beside its snapshots")
    from fairtracks_ld.web.serve import BackendUnreachable, UnsafeFolder

    try:
        serve(args.store, args.host, args.port, args.base_iri, workers=args.workers,
              extra_env=extra, access_log=args.access_log, backend=args.backend, log=args.log,
              segments=args.segments)
    except (BackendUnreachable, UnsafeFolder) as failure:
        print(f"error: {failure}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK  # not reached: serve replaces this process with the HTTP server


def cmd_publish(args: argparse.Namespace) -> int:
    from fairtracks_ld.publication.run import publish_command

    return publish_command(_reader(args), args)


def cmd_validate(args: argparse.Namespace) -> int:
    from fairtracks_ld.sources import expand_sources
    from fairtracks_ld.validation import exit_code, render_json, render_text, validate_documents

    if not expand_sources(args.paths):
        raise UsageError("no documents found in " + " ".join(args.paths))
    store = _reader(args) if args.against_store and Path(args.store).exists() else None
    reports = validate_documents(args.paths, store=store, variant=args.variant,
                                 model=args.model, limits=_limits(args))
    if args.format == "json":
        sys.stdout.write(render_json(reports))
    elif args.format in ("turtle", "jsonld"):
        fmt = ox.RdfFormat.TURTLE if args.format == "turtle" else ox.RdfFormat.JSON_LD
        for report in reports:
            sys.stdout.buffer.write(report.shacl_report(fmt))
    else:
        sys.stdout.write(render_text(reports, verbose=args.verbose))
    return exit_code(reports)


def cmd_shacl(args: argparse.Namespace) -> int:
    from fairtracks_ld.validation import shacl
    from fairtracks_ld.validation.shapes import UnsupportedShape

    try:
        report = shacl.validate_files(args.data, args.shapes, args.catalog)
    except (shacl.InputError, UnsupportedShape) as error:
        raise UsageError(str(error)) from None
    if args.format == "text":
        sys.stdout.write(shacl.render_text(report))
    else:
        fmt = ox.RdfFormat.TURTLE if args.format == "turtle" else ox.RdfFormat.JSON_LD
        sys.stdout.buffer.write(report.serialize(fmt))
    return EXIT_FAILED if report.violations else EXIT_OK


def cmd_augment(args: argparse.Namespace) -> int:
    import dataclasses
    import os
    import tempfile

    from fairtracks_ld.augment import augment, fills
    from fairtracks_ld.mapping.models import FAIRTRACKS
    from fairtracks_ld.sources import DocumentError, read_source
    from fairtracks_ld.validation import Validator, findings, render_text
    from fairtracks_ld.validation.context import bundled_ontologies, store_ontologies

    stdin, output = args.path == "-", args.output or "-"
    if not stdin and not Path(args.path).is_file():
        raise UsageError(f"no such file {args.path}")
    if (output != "-" and not stdin and Path(output).resolve() == Path(args.path).resolve()
            and not args.in_place):
        raise UsageError(f"-o {output} would overwrite the input; add --in-place to do that")
    try:
        document = read_source(args.path)
    except DocumentError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    store = _reader(args) if Path(args.store).exists() else None
    ontologies = (store_ontologies(store) if store else None) or bundled_ontologies()
    validator = Validator(ontologies=ontologies)
    source = "<stdin>" if stdin else args.path
    report = validator.document(document, source, model=FAIRTRACKS)
    report = dataclasses.replace(report, findings=[f for f in report.findings if not fills(f)])
    if not report.valid:  # missing fields that augmentation writes are not reasons to refuse
        print("error: not a valid FAIRtracks v1 document, nothing augmented:\n"
              + render_text([report]), file=sys.stderr, end="")
        return EXIT_FAILED
    result = augment(document, ontologies, _stated_releases(args.ontology_version or []))
    notes = findings.from_notes(result.notes if args.verbose else result.warnings)
    for line in findings.render(notes, verbose=args.verbose, indent=""):
        print(line, file=sys.stderr)
    checked = validator.document(result.document, f"{source} (augmented)", model=FAIRTRACKS)
    if not checked.valid:
        print("error: the augmented document does not validate, nothing written:\n"
              + render_text([checked]), file=sys.stderr, end="")
        return EXIT_FAILED
    text = json.dumps(result.document, indent=4, ensure_ascii=False) + "\n"
    if output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    target = Path(output)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent,
                                     delete=False, suffix=".partial") as handle:
        handle.write(text)
    os.replace(handle.name, target)  # whole or not at all, also with --in-place
    return EXIT_OK


def _stated_releases(given: list[str]) -> dict[str, str]:
    """`ONTOLOGY=VERSION_IRI` options → schema ontology IRI → version IRI (ONTOLOGY: the IRI
    doc_ontology_versions uses, or its short name: ncit)."""
    from fairtracks_ld.augment import ontology_names

    stated = {}
    for option in given:
        name, _, iri = option.partition("=")
        known = [o for o in ontology_names() if name in (o, o.rsplit("/", 1)[-1].removesuffix(
            ".owl").lower())]
        if not iri or len(known) != 1:
            raise UsageError(f"--ontology-version {option}: write ONTOLOGY=VERSION_IRI with "
                             "ONTOLOGY one of " + ", ".join(ontology_names()))
        stated[known[0]] = iri
    return stated


# ---- parser -----------------------------------------------------------------------------------


def cmd_withdraw(args: argparse.Namespace) -> int:
    from fairtracks_ld.withdrawal import WithdrawalError, withdraw

    store = _store(args)
    try:
        done = withdraw(store, args.collection, args.document, args.reason,
                        args.by or getpass.getuser())
    except WithdrawalError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    _publish(store)
    print(f"withdrew {done.target} ({len(done.graphs)} current version(s); they stay in the "
          f"store): {done.reason}")
    return 0


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    """What one input document may hold (docs/loading.md); beyond it, a one-line error."""
    from fairtracks_ld.sources import DEFAULT_LIMITS, MiB

    group = parser.add_argument_group("input limits")
    group.add_argument("--max-document-mb", type=_positive, metavar="MB",
                       default=DEFAULT_LIMITS.max_document_bytes // MiB,
                       help="largest document, decompressed (default: %(default)s)")
    group.add_argument("--max-depth", type=_positive, default=DEFAULT_LIMITS.max_depth,
                       help="deepest nesting of objects and arrays (default: %(default)s)")
    group.add_argument("--max-string-kb", type=_positive, metavar="KB",
                       default=DEFAULT_LIMITS.max_string_bytes // 1024,
                       help="longest string value or key, UTF-8 (default: %(default)s)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _limits(args: argparse.Namespace):  # -> ReadLimits (imported lazily, like the commands)
    from fairtracks_ld.sources import MiB, ReadLimits

    return ReadLimits(args.max_document_mb * MiB, args.max_depth, args.max_string_kb * 1024)



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fairtracks-ld",
        description="FAIRtracks genomic track metadata as linked data in an Oxigraph store.",
        epilog="Exit codes: 0 success, 1 failure (e.g. a document could not be loaded), "
               "2 usage error.",
    )
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE_PATH,
                        help=f"store directory (default: {DEFAULT_STORE_PATH})")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="a command that writes waits this long for another writer to "
                             "finish (default 0: it is told at once who is writing)")
    parser.add_argument("--base-iri", default=None,
                        help=f"base of minted IRIs for a new store (default: ${BASE_IRI_ENV} or "
                             f"{DEFAULT_BASE_IRI}); an existing store keeps its own")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    load = commands.add_parser("load", help="load FAIRtracks documents",
                               description="Load FAIRtracks JSON documents (files, folders, .gz, "
                                           "'-' for stdin). Each document is read in a "
                                           "bounded window, written, validated, and made "
                                           "visible all or nothing; invalid ones are refused "
                                           "(docs/loading.md).")
    load.add_argument("paths", nargs="+", metavar="PATH")
    load.add_argument("--variant", choices=VARIANTS, help="schema variant (default: detect)")
    _add_model_option(load)
    load.add_argument("--bulk", action="store_true",
                      help="use Oxigraph's bulk loader (fast for large batches of new documents)")
    load.add_argument("--allow-invalid", action="store_true",
                      help="store documents that break the standard too (each is validated "
                           "first either way; the report is kept in the store)")
    load.add_argument("-v", "--verbose", action="store_true",
                      help="list every note and finding (default: grouped by kind, with a count "
                           "and the first few JSON Pointers) and print info notes too")
    load.add_argument("--report", metavar="FILE.json",
                      help="also write everything as JSON: per source its status, version graph, "
                           "notes and findings with JSON Pointers")
    _add_limit_options(load)
    load.set_defaults(func=cmd_load)

    withdraw = commands.add_parser(
        "withdraw", help="withdraw a collection or one of its documents",
        description="Take a collection (or one document) out of the current view, dumps and "
                    "search; its IRIs then answer 410 Gone with a tombstone, and its versions "
                    "stay in the store (GRAPH).")
    withdraw.add_argument("collection", metavar="COLLECTION", help="the collection's local id")
    withdraw.add_argument("--document", help="withdraw only this document (its local id)")
    withdraw.add_argument("--reason", required=True, help="why (shown on the tombstone)")
    withdraw.add_argument("--by",
                          help="who withdraws it (default: the current user)")
    withdraw.set_defaults(func=cmd_withdraw)

    query = commands.add_parser("query", help="run a SPARQL query over the current view",
                                description="Run SPARQL (text, @file.rq, or - for stdin).")
    query.add_argument("query", metavar="SPARQL")
    query.add_argument("--format", default="table",
                       choices=["table", *RESULT_FORMATS, *GRAPH_FORMATS],
                       help="table/json/csv/tsv/xml for SELECT and ASK; "
                            "turtle/ntriples/jsonld/rdfxml for CONSTRUCT and DESCRIBE")
    query.add_argument("--all-graphs", action="store_true",
                       help="query every graph (all versions) instead of the current view")
    query.add_argument("-o", "--output", help="write to a file instead of stdout")
    query.add_argument("--limit", type=int, metavar="N",
                       help="table format: print the first N rows (and how many there are)")
    query.set_defaults(func=cmd_query)

    dump = commands.add_parser("dump", help="dump the store or one graph",
                               description="Stream RDF; a .gz output path is gzip-compressed.")
    dump.add_argument("--format", default="nq", choices=DUMP_FORMATS)
    dump.add_argument("--graph", help="only this named graph (IRI)")
    dump.add_argument("-o", "--output", help="output file (default: stdout)")
    dump.set_defaults(func=cmd_dump)

    export = commands.add_parser("export", help="export a collection as FAIRtracks JSON",
                                 description="Rebuild a stored collection's FAIRtracks document.")
    export.add_argument("collection", help="collection local_id or IRI")
    export.add_argument("--version", help="a doc_version (default: the current one)")
    export.add_argument("--document", help="document local_id, if the collection has several")
    export.add_argument("-o", "--output", help="output file (default: stdout)")
    export.set_defaults(func=cmd_export)

    stats = commands.add_parser("stats", help="summarise the store and its disk use by part")
    stats.set_defaults(func=cmd_stats)
    migrate = commands.add_parser(
        "migrate", help="bring a store of an earlier layout to this one (any write does too) and "
                        "store each current version once that can be (docs/store.md)")
    migrate.set_defaults(func=cmd_migrate)
    optimize = commands.add_parser(
        "optimize", help="store each current version once that can be, compact every index in "
                         "full, then publish (a big load starts this in the background: "
                         "docs/operations.md)")
    optimize.add_argument(
        "--yield", dest="yield_", action="store_true",
        help="give way to any other writer: one that wants the store stops this compaction "
             "(what a big load starts in the background)")
    optimize.set_defaults(func=cmd_optimize)

    generate = commands.add_parser("generate", help="write a generated FAIRtracks corpus",
                                   description="Write schema-valid generated documents.")
    generate.add_argument("--tracks", type=int, required=True)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--out", required=True, help="output folder")
    generate.add_argument("--variant", choices=VARIANTS)
    generate.add_argument("--tracks-per-document", type=int, default=20_000)
    generate.add_argument("--gzip", action="store_true")
    generate.set_defaults(func=cmd_generate)
    _add_ontology_commands(commands)

    validate = commands.add_parser(
        "validate", help="check documents against the FAIRtracks shapes",
        description="Validate FAIRtracks documents with the SHACL shapes in shapes/ (run inside "
                    "Oxigraph). Exit 0 when every document is valid (warnings allowed), 1 when "
                    "any is invalid, 2 on usage errors.")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.add_argument("--variant", choices=VARIANTS, help="schema variant (default: detect)")
    _add_model_option(validate)
    validate.add_argument("--format", default="text", choices=["text", "json", "turtle", "jsonld"],
                          help="text/json reports with JSON Pointers, or the W3C "
                               "sh:ValidationReport in Turtle or JSON-LD")
    validate.add_argument("-v", "--verbose", action="store_true",
                          help="text format: list every finding (default: grouped by rule, "
                               "with a count and the first few JSON Pointers)")
    validate.add_argument("--against-store", action="store_true",
                          help="also check uniqueness and references against the store")
    _add_limit_options(validate)
    validate.set_defaults(func=cmd_validate)

    shacl = commands.add_parser(
        "shacl", help="validate any RDF data against any SHACL shapes",
        description="SHACL Core and SHACL-SPARQL, compiled to SPARQL and run inside Oxigraph "
                    "(docs/shacl.md). Formats by extension: .ttl .nt .nq .trig .rdf/.owl "
                    ".jsonld. Exit 0 when no result is a violation, 1 otherwise, 2 on usage or "
                    "input errors (unreadable files, unsupported shapes).")
    shacl.add_argument("data", nargs="+", metavar="DATA")
    shacl.add_argument("--shapes", nargs="+", required=True, metavar="SHAPES")
    shacl.add_argument("--format", default="text", choices=["text", "turtle", "jsonld"],
                       help="a text summary, or the W3C sh:ValidationReport")
    shacl.add_argument("--catalog", metavar="DIR",
                       help="resolve owl:imports of the shapes from this folder's ontologies")
    shacl.set_defaults(func=cmd_shacl)

    augment = commands.add_parser(
        "augment", help="fill a document's augmented fields offline (labels, summaries, …)",
        description="Do what the FAIRtracks augmentation service does, offline: term labels "
                    "from the ontologies (the store's when it has them, else the bundle), "
                    "file names, sample_type and target summaries, species names, "
                    "doc_ontology_versions and has_augmented_metadata. The input must be a "
                    "valid FAIRtracks v1 document and the result must validate as an augmented "
                    "(master) document: exit 0, else 1 (nothing written); 2 on usage errors.")
    augment.add_argument("path", metavar="FILE", help="a FAIRtracks JSON document, '-' for stdin")
    augment.add_argument("-o", "--output", help="output file (default: stdout)")
    augment.add_argument("--in-place", action="store_true",
                         help="allow -o to name the input file (it is never overwritten "
                              "otherwise)")
    augment.add_argument("-v", "--verbose", action="store_true",
                         help="also print info notes (replaced values)")
    augment.add_argument("--ontology-version", action="append", metavar="ONTOLOGY=IRI",
                         help="the release of an ontology loaded without one, for "
                              "doc_ontology_versions (e.g. ncit=http://purl.obolibrary.org/obo/"
                              "ncit/releases/2020-07-17/ncit.owl; the bundled NCIT is a subset "
                              "with no release); repeatable")
    augment.set_defaults(func=cmd_augment)
    _add_search_commands(commands)

    doctor = commands.add_parser(
        "doctor", help="check the store's invariants (and --repair what is safe)",
        description="Check the catalog against the graphs, the current versions, reports "
                    "and records, the closure, debris of interrupted writes, the published "
                    "snapshot, the search segments and the API's exports. Exit 0 when "
                    "healthy (or everything "
                    "was repaired), 1 when problems remain.")
    doctor.add_argument("--repair", action="store_true",
                        help="fix what is safe: recompute derived graphs, remove debris and "
                             "stale segments, publish a snapshot")
    doctor.set_defaults(func=cmd_doctor)

    serve = commands.add_parser("serve", help="serve the store over HTTP (granian)",
                                description="Serve dereferenceable IRIs and the SPARQL endpoint. "
                                            "Admin token: $FAIRTRACKS_LD_ADMIN_TOKEN or the file "
                                            "$FAIRTRACKS_LD_ADMIN_TOKEN_FILE (see "
                                            "docs/endpoint-security.md).")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2, help="server worker processes")
    serve.add_argument("--query-timeout", type=float, help="seconds (default 30)")
    serve.add_argument("--allow-service", action="append", metavar="ENDPOINT",
                       help="SPARQL endpoint SERVICE and LOAD may reach, matched exactly "
                            "(repeatable; none by default, and then query workers have no "
                            "network)")
    serve.add_argument("--trusted-proxy", action="append", metavar="ADDRESS",
                       help="a reverse proxy (address or network) whose X-Forwarded-For names "
                            "the client for per-client query limits (repeatable; none by "
                            "default; see docs/scheduling.md)")
    serve.add_argument("--access-log", metavar="FILE",
                       help="log every request to FILE ('-': stdout); off by default")
    serve.add_argument("--log", metavar="FILE",
                       help="the server's log (start-up, accepted writes, unexpected errors) "
                            "to FILE; stdout by default")
    serve.add_argument("--backend", metavar="ENDPOINT",
                       help="answer from this SPARQL 1.1 endpoint (e.g. Virtuoso) instead of "
                            "the store: read-only, stateless replicas (see docs/backends.md)")
    serve.add_argument("--segments", metavar="DIR", type=Path,
                       help="with --backend: keep the search index's segments in DIR (made "
                            "0700 if missing; refused if others can write it), so a restarted "
                            "replica loads them instead of reading every version again; by "
                            "default a temporary folder removed when the server stops")
    serve.set_defaults(func=cmd_serve)
    _add_publish_command(commands)
    return parser


def _add_publish_command(commands: argparse._SubParsersAction) -> None:
    from fairtracks_ld.publication.run import add_arguments

    publish = commands.add_parser(
        "publish", help="write the store into an external SPARQL 1.1 store (incrementally)",
        description="Write the current view (and with --history every version) into an "
                    "external SPARQL 1.1 store through SPARQL Update or the Graph Store "
                    "protocol. Only graphs that changed since the last publish are sent; a new "
                    "version becomes visible in the target's catalog only once it is complete; "
                    "an interrupted publish is resumed by running it again "
                    "(docs/external-engines.md). Exit 0 when the target is up to date, 1 when "
                    "the target failed or could not be reached, 2 on usage errors.")
    add_arguments(publish)
    publish.set_defaults(func=cmd_publish)


def _add_model_option(command: argparse.ArgumentParser) -> None:
    from fairtracks_ld.mapping.models import AUTO, CHOICES

    command.add_argument("--model", choices=CHOICES, default=AUTO,
                         help="input model: a FAIRtracks document or one Ensembl-style track "
                              "(default: auto, by the document's keys)")


def _add_search_commands(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser(
        "search", help="run a named, parameterised query (ancestor-aware term search)",
        description="Run a named query from queries/ (or any .rq file) with parameters bound "
                    "safely. Class parameters take an IRI, a CURIE (CL:0000236) or an exact "
                    "label or synonym (\"B cell\"); subclasses and parts are found too.",
    )
    search.add_argument("query", nargs="?", metavar="QUERY", help="query name or .rq file")
    search.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter value (repeatable)")
    search.add_argument("--list", action="store_true", help="list the named queries")
    search.add_argument("--format", default="table", choices=["table", *RESULT_FORMATS])
    search.add_argument("--limit", type=int, metavar="N",
                        help="table format: print the first N rows (and how many there are)")
    search.set_defaults(func=cmd_search)
    reason = commands.add_parser(
        "reason", help="recompute the class closure ancestor-aware answers join",
        description="Recompute the class closure (done automatically after ontology "
                    "changes) and write what differs; --full rewrites it from scratch.",
    )
    reason.add_argument("--full", action="store_true", help="rewrite instead of comparing")
    reason.add_argument("--owl-reasoner", choices=["hermit", "pellet"],
                        help="compute ft:subclass_of with this OWL reasoner (needs Java) "
                             "instead of the fast closure; the next automatic recomputation "
                             "returns to the fast closure")
    _add_java_options(reason, "--owl-timeout")
    reason.set_defaults(func=cmd_reason)


def _add_java_options(command: argparse.ArgumentParser, timeout_flag: str) -> None:
    command.add_argument(timeout_flag, type=float, default=600.0, metavar="SECONDS",
                         help="stop the reasoner (and its Java process) after this long "
                              "(default 600)")
    command.add_argument("--java-memory", type=int, default=1500, metavar="MB",
                         help="Java heap for the reasoner (default 1500)")


def _add_ontology_commands(commands: argparse._SubParsersAction) -> None:
    ontologies = commands.add_parser("ontologies", help="build, load and list ontologies")
    actions = ontologies.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="build the offline bundle from ontology sources",
                               description="Read OBO / OWL (RDF/XML, Turtle, OWL/XML) / closure "
                                           "JSON sources and write the modules and manifest.")
    build.add_argument("sources", nargs="*", metavar="SOURCE")
    build.add_argument("--shared", default="../shared/ontologies",
                       help="folder of the reference releases (when no SOURCE is given)")
    build.add_argument("--out", default="ontologies", help="bundle folder (default: ontologies)")
    build.set_defaults(func=cmd_ontologies_build)
    load = actions.add_parser("load", help="load the bundled ontologies into the store")
    load.add_argument("--bundle", help="bundle folder (default: the shipped one)")
    load.set_defaults(func=cmd_ontologies_load)
    add = actions.add_parser("add", help="load any ontology release (file or URL)",
                             description="Load an ontology into its own named graph, replacing "
                                         "an earlier load atomically.")
    add.add_argument("location", metavar="FILE|URL")
    add.set_defaults(func=cmd_ontologies_add)
    listing = actions.add_parser("list", help="list the ontologies in the store")
    listing.set_defaults(func=cmd_ontologies_list)
    check = actions.add_parser(
        "check-reasoner", help="compare the fast closure with a full OWL reasoner (needs Java)",
        description="Per bundled module: classes, ft:subclass_of pairs from the fast closure "
                    "and from the reasoner, and the pairs only one side has. Exit 0 when they "
                    "agree on every module, 1 otherwise.")
    check.add_argument("--module", action="append", default=[], metavar="KEY",
                       help="only this module (so, obi, cl, edam, uberon, efo, ncit); repeatable")
    check.add_argument("--reasoner", choices=["hermit", "pellet"], default="hermit")
    check.add_argument("--bundle", help="bundle folder (default: the shipped one)")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    _add_java_options(check, "--timeout")
    check.set_defaults(func=cmd_ontologies_check_reasoner)


WRITERS = {cmd_load, cmd_ontologies_load, cmd_ontologies_add, cmd_reason, cmd_doctor, cmd_migrate,
           cmd_optimize}


def _run(args: argparse.Namespace) -> int:
    """Run a command; one that writes holds the writer lock throughout (and its store is
    closed before the lock is released, when the command's frame is gone)."""
    if args.func not in WRITERS:
        return args.func(args)
    with writer_lock(args.store, wait=args.wait):
        return args.func(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        if reserve.is_disk_full(error):  # so the store opens again (reserve.py)
            reserve.release(args.store)
        print(f"error: {_explain(error, args.store)}", file=sys.stderr)
        return EXIT_FAILED
    except (StoreError, ValueError, RuntimeError, SyntaxError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


def _explain(error: OSError, store: Path) -> str:
    """An operating-system error in one sentence that says what to do."""
    text = str(error)
    if reserve.is_disk_full(error):
        return (f"the disk holding {store} is full (No space left on device), so nothing of "
                "the document being written was stored; free some space and run the command "
                "again (the next write command sweeps what the failed write left)")
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and not isinstance(
            error, FileNotFoundError):
        return (f"{text}: {store} cannot be written here; readers (query, stats, dump, export, "
                "serve) work on a read-only store, writers need a writable one")
    return text


if __name__ == "__main__":
    sys.exit(main())
