"""The `publish` command: options, the run, and its messages (one line per problem)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from fairtracks_ld.publication.plan import make_plan
from fairtracks_ld.publication.publisher import METHODS, Outcome, Publisher
from fairtracks_ld.publication.state import read_state
from fairtracks_ld.publication.target import (
    AUTH_KINDS,
    VIRTUOSO_PUT_LIMIT,
    Endpoints,
    Target,
    TargetError,
    auth_from_env,
)
from fairtracks_ld.publication.virtuoso_bulk import VirtuosoBulkLoader
from fairtracks_ld.store import TrackStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POLL_ENV = "FAIRTRACKS_LD_BACKEND_POLL"  # replicas' poll interval: how long the view graph
# stays untouched after leaving step, so every replica has gone back to the sources' list


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, metavar="ENDPOINT",
                        help="the target's SPARQL query endpoint (Virtuoso: http://HOST:8890/"
                             "sparql; oxigraph serve: http://HOST:7878/query)")
    parser.add_argument("--update-endpoint", metavar="URL",
                        help="its SPARQL Update endpoint (default: the --to endpoint; oxigraph "
                             "serve: http://HOST:7878/update)")
    parser.add_argument("--gsp", metavar="URL",
                        help="its Graph Store protocol endpoint (Virtuoso: http://HOST:8890/"
                             "sparql-graph-crud; oxigraph serve: http://HOST:7878/store)")
    parser.add_argument("--method", choices=METHODS,
                        help="update: INSERT DATA in batches, staged copies moved into place "
                             "(default); gsp: one PUT per graph (default when --gsp is given); "
                             "virtuoso-bulk: Virtuoso's bulk loader (default with "
                             "--virtuoso-isql), the switch by SPARQL Update")
    parser.add_argument("--virtuoso-isql", metavar="HOST:PORT",
                        help="Virtuoso's SQL port, for --method virtuoso-bulk (its bulk "
                             "loader, run through isql-vt; $FAIRTRACKS_LD_ISQL_USER, default "
                             "dba, and $FAIRTRACKS_LD_ISQL_PASSWORD(_FILE))")
    parser.add_argument("--bulk-dir", metavar="DIR",
                        help="for virtuoso-bulk: a folder Virtuoso reads under the same path "
                             "(listed in its DirsAllowed); files are removed after loading")
    parser.add_argument("--history", action="store_true",
                        help="also publish every earlier version (with its report)")
    parser.add_argument("--no-view-graph", action="store_true",
                        help="keep no view graph (the merge of the current view as one graph, "
                             "which replicas query instead of the list of its sources; it needs "
                             "SPARQL Update and doubles the view's triples): drop it if there "
                             "is one")
    parser.add_argument("--batch", type=int, default=2_000, metavar="TRIPLES",
                        help="triples per INSERT DATA request (default %(default)s)")
    parser.add_argument("--auth", choices=AUTH_KINDS, default="none",
                        help="credentials from $FAIRTRACKS_LD_TARGET_USER and "
                             "$FAIRTRACKS_LD_TARGET_PASSWORD(_FILE) for basic/digest, "
                             "$FAIRTRACKS_LD_TARGET_TOKEN(_FILE) for bearer")
    parser.add_argument("--max-put", type=int, default=VIRTUOSO_PUT_LIMIT, metavar="TRIPLES",
                        help="largest graph sent to Virtuoso by one Graph Store PUT (default "
                             "%(default)s; a bigger one is refused before anything is sent: "
                             "use --method virtuoso-bulk or update; sent by update, it is "
                             "named in a note advising the bulk loader)")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                        help="per request (default %(default)s)")
    parser.add_argument("--full", action="store_true",
                        help="send every graph again, whatever the target's record says (after "
                             "someone changed the target by hand)")
    parser.add_argument("--dry-run", action="store_true",
                        help="say what would be sent and dropped, send nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per graph sent")


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def publish_command(store: TrackStore, args: argparse.Namespace) -> int:
    method = args.method or ("virtuoso-bulk" if args.virtuoso_isql else
                             "gsp" if args.gsp else "update")
    if method == "gsp" and not args.gsp:
        print("error: --method gsp needs the Graph Store endpoint: --gsp URL", file=sys.stderr)
        return EXIT_USAGE
    if (method == "virtuoso-bulk") != bool(args.virtuoso_isql and args.bulk_dir):
        print("error: --method virtuoso-bulk goes with --virtuoso-isql HOST:PORT and "
              "--bulk-dir DIR", file=sys.stderr)
        return EXIT_USAGE
    if args.max_put <= 0:
        print("error: --max-put must be a positive number of triples", file=sys.stderr)
        return EXIT_USAGE
    if args.batch <= 0:
        print("error: --batch must be a positive number of triples", file=sys.stderr)
        return EXIT_USAGE
    try:
        target = Target(Endpoints(args.to, args.update_endpoint, args.gsp),
                        auth_from_env(args.auth), args.timeout)
        target.put_limit = args.max_put
        loader = (VirtuosoBulkLoader(args.virtuoso_isql, Path(args.bulk_dir))
                  if method == "virtuoso-bulk" else None)
    except TargetError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    plan = make_plan(store, history=args.history)
    publisher = Publisher(store, target, method, args.batch,
                          report=(lambda line: print(line, file=sys.stderr))
                          if args.verbose else (lambda _: None), loader=loader,
                          grace=float(os.environ.get(POLL_ENV, "2")),
                          view_graph=not args.no_view_graph)
    if args.dry_run:
        try:
            send, drop = publisher.pending(plan, read_state(target, store.base), args.full)
        except TargetError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_FAILED
        for graph in send:
            print(f"would send <{graph.iri}> ({graph.role})")
        for graph in drop:
            print(f"would drop <{graph}>")
        return EXIT_OK
    signal.signal(signal.SIGTERM, _terminate)
    try:
        outcome = publisher.run(plan, history=args.history, full=args.full)
    except (TargetError, KeyboardInterrupt) as error:
        what = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        detail = f": {error}" if isinstance(error, TargetError) else ""
        resume = (" The target still answers its previous publication; run the same command "
                  "again to finish (what was completed is kept)." if target.writes else "")
        print(f"error: publish to {args.to} {what}{detail}.{resume}", file=sys.stderr)
        return EXIT_FAILED
    print(summary(outcome, args.to, method))
    if outcome.big:
        graph, count = max(outcome.big, key=lambda found: found[1])
        print(f"note: {len(outcome.big)} graphs of more than {args.max_put:,} triples went to "
              f"Virtuoso by SPARQL Update (the biggest, <{graph}>, {count:,} triples); its bulk "
              "loader takes such graphs much faster: --method virtuoso-bulk --virtuoso-isql "
              "HOST:1111 --bulk-dir DIR (docs/external-engines.md)", file=sys.stderr)
    return EXIT_OK


def summary(outcome: Outcome, to: str, method: str) -> str:
    if not outcome.changed:
        return f"{to} is up to date ({outcome.unchanged} graphs; {outcome.requests} requests)"
    parts = [f"{len(outcome.sent)} graphs sent ({outcome.triples} triples)"]
    if outcome.reused:
        parts.append(f"{len(outcome.reused)} kept from an interrupted publish")
    if outcome.dropped:
        parts.append(f"{len(outcome.dropped)} dropped")
    parts.append(f"{outcome.unchanged} unchanged")
    if outcome.catalog_updated:
        parts.append("catalog updated")
    view = outcome.view
    if view is not None:
        parts.append(f"view graph rebuilt from {len(view.entering)} sources" if view.rebuild
                     else f"view graph: {len(view.leaving)} sources out, "
                          f"{len(view.entering)} in")
    return (f"published to {to} by {method}: {', '.join(parts)}; {outcome.requests} requests, "
            f"{outcome.seconds:.1f} s")
