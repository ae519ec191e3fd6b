"""Publishing the store into the target, incrementally and resumably.

Order of work, so a reader of the target never sees half a document and an interrupted run
leaves the previous publication answerable:
1. every graph whose fingerprint differs from the target's record is written: a graph the
   target does not have yet under its own name (nothing names it yet), a new copy of a graph
   the target already publishes into a staging graph; the record is rewritten after each;
2. the switch: staging copies are moved into place, the catalog is replaced and the record
   names the new current view, in one SPARQL Update request (the Graph Store protocol has no
   such request: it replaces each graph in one PUT instead, the catalog last);
3. graphs no longer published (withdrawn, replaced, earlier versions without --history) are
   dropped.
The view graph (`{base}graph/view`, publication/view.py), the merge of the view's sources, is
kept in step around these steps, in the target by SPARQL Update, source by source (`ViewChange`):
before anything is written its record leaves step (replicas go back to the sources' list) and
the triples of the sources leaving it or changing are deleted from it unless a source that stays
unchanged holds them too; after the switch the entering and changed sources' triples are added
(each triple once: a set), and the record names the catalog stamp it is in step with. Both are
done from the graphs the target holds, so blank nodes stay the target's own. A run interrupted
while the view graph is out of step rebuilds it whole next time.
A second run compares fingerprints again: only what changed is sent; after an interruption,
what was completed is kept and the rest is sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fairtracks_ld.publication.plan import Plan, PlannedGraph, triples
from fairtracks_ld.publication.state import State, now, read_state
from fairtracks_ld.publication.target import BlankNodesTooConnected, Target, graph_block
from fairtracks_ld.publication.view import STAMP_QUERY, catalog_stamp
from fairtracks_ld.publication.view import view_graph as view_graph_of
from fairtracks_ld.publication.virtuoso_bulk import VirtuosoBulkLoader
from fairtracks_ld.store import TrackStore

METHODS = ("update", "gsp", "virtuoso-bulk")
# the bulk loader's order: what is loaded last is waited for after the last graph is written, so
# the big graphs (the closure at any scale, versions growing with the tracks) go first
BULK_ORDER = {role: rank for rank, role in enumerate(("closure", "version", "other"))}


@dataclass
class Outcome:
    """What one run did, for the summary line (and the tests)."""

    sent: list[PlannedGraph] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)  # staged by an interrupted run, kept
    dropped: list[str] = field(default_factory=list)
    unchanged: int = 0
    triples: int = 0
    catalog_updated: bool = False
    seconds: float = 0.0
    requests: int = 0
    big: list[tuple[str, int]] = field(default_factory=list)  # sent to Virtuoso by update,
    # over the PUT limit: graphs its bulk loader takes much faster (said after the run)
    view: ViewChange | None = None  # what the view graph took in and gave up

    @property
    def changed(self) -> bool:
        return bool(self.sent or self.dropped or self.catalog_updated or self.reused or
                    self.view)


@dataclass(frozen=True)
class ViewChange:
    """How the view graph moves to the plan's view: the sources whose triples leave it (gone
    or changed: their graphs still hold what the view graph took from them), those whose
    triples enter it, and those that stay unchanged (they keep the triples they share with a
    leaving one). `rebuild`: dropped and filled anew (never built, or left out of step by an
    interrupted run)."""

    leaving: tuple[str, ...]
    entering: tuple[str, ...]
    staying: tuple[str, ...]
    rebuild: bool = False


def view_change(plan: Plan, state: State, sent: set[str]) -> ViewChange | None:
    """The view graph's change for `plan` (None: it holds the plan's view already). A source
    sent again counts as changed even with the same content: its blank nodes are new."""
    fingerprints = {g.iri: g.fingerprint for g in plan.graphs}
    holds = {g: fingerprints[g] for g in plan.default_graphs}
    if state.view_stamp is None:
        return ViewChange((), tuple(holds), (), rebuild=True)
    leaving = tuple(g for g, fp in state.view.items() if holds.get(g) != fp or g in sent)
    entering = tuple(g for g, fp in holds.items() if state.view.get(g) != fp or g in sent)
    if not (leaving or entering):
        return None
    staying = tuple(g for g in holds if g not in entering)
    return ViewChange(leaving, entering, staying)


class Publisher:
    """Writes a plan into a target through SPARQL Update (`update`) or the Graph Store
    protocol (`gsp`), keeping the target's publication record current as it goes."""

    def __init__(self, store: TrackStore, target: Target, method: str = "update",
                 batch: int = 2_000, report: Callable[[str], None] = lambda _: None,
                 loader: VirtuosoBulkLoader | None = None, grace: float = 2.0,
                 view_graph: bool = True) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}: {', '.join(METHODS)}")
        if (method == "virtuoso-bulk") != (loader is not None):
            raise ValueError("the virtuoso-bulk method, and only it, needs a bulk loader")
        self.store, self.target, self.method, self.batch = store, target, method, batch
        self.report, self.loader = report, loader
        self.grace = grace  # seconds replicas may go on reading a view graph that left step
        self.view = view_graph_of(store.base)
        self.keeps_view = view_graph  # False: no view graph (replicas send the sources' list)

    def pending(self, plan: Plan, state: State, full: bool = False
                ) -> tuple[list[PlannedGraph], list[str]]:
        """The graphs to send (with `full`, all of them) and the graphs to drop."""
        send = [g for g in plan.graphs
                if full or state.published.get(g.iri) != g.fingerprint]
        drop = [g for g in state.published if g not in plan.iris]
        drop += [s for s, (g, _) in state.staged.items() if g not in plan.iris]
        return send, drop

    def run(self, plan: Plan, history: bool, full: bool = False) -> Outcome:
        """Publish `plan`; with `full`, every graph is sent again whatever the record says."""
        started = time.perf_counter()
        outcome = Outcome()
        state = read_state(self.target, self.store.base)
        send, drop = self.pending(plan, state, full)
        catalog_changed = full or (state.published.get(plan.catalog.iri)
                                   != plan.catalog.fingerprint)
        view_changed = (sorted(state.default_graphs) != sorted(plan.default_graphs)
                        or state.history != history)
        outcome.unchanged = len(plan.graphs) - len(send)
        if self.keeps_view:
            outcome.view = view_change(plan, state, {g.iri for g in send})
        forget = not self.keeps_view and bool(state.view or state.view_stamp)
        if self.method == "gsp":  # refused before anything is written
            for graph in send:
                refusal = self.target.too_big_to_put(graph.iri, self.store.graph_quads(graph.iri))
                if refusal is not None:
                    raise refusal
        if not (send or drop or catalog_changed or view_changed or outcome.view or forget):
            outcome.seconds = time.perf_counter() - started
            outcome.requests = self.target.requests
            return outcome
        if outcome.view is not None:
            self._view_leaves(outcome.view, state)
        if forget:
            self._forget_view(state)
        if self.loader is not None:
            self._bulk_write(send, state, outcome)
        else:
            for graph in send:
                self._write(graph, state, outcome)
        self._switch(plan, state, history)
        outcome.catalog_updated = catalog_changed
        for graph in drop:
            self._drop(graph)
            state.published.pop(graph, None)
            state.staged.pop(graph, None)
            outcome.dropped.append(graph)
        if outcome.view is not None:
            self._view_enters(outcome.view)
        if self.keeps_view:
            self._restamp(plan, state)
        elif drop:
            self._save(state)
        outcome.seconds = time.perf_counter() - started
        outcome.requests = self.target.requests
        return outcome

    # ---- the steps --------------------------------------------------------------------------

    def _write(self, graph: PlannedGraph, state: State, outcome: Outcome) -> None:
        in_place = graph.iri not in state.published or self.method == "gsp"
        name = graph.iri if in_place else state.staging_name(graph.iri)
        if not in_place and state.staged.get(name) == (graph.iri, graph.fingerprint):
            outcome.reused.append(graph.iri)  # a complete copy from an interrupted run
            return
        if name in state.staged:  # an older copy: forget it before overwriting it
            del state.staged[name]
            self._save(state)
        count = self._send_graph(name, graph.iri)
        if in_place:
            state.published[graph.iri] = graph.fingerprint
        else:
            state.staged[name] = (graph.iri, graph.fingerprint)
        self._save(state)
        outcome.sent.append(graph)
        outcome.triples += count
        if self.method == "update" and self.target.is_virtuoso and \
                count > self.target.put_limit:
            outcome.big.append((graph.iri, count))
        self.report(f"sent <{graph.iri}> ({graph.role}, {count} triples)")

    def _bulk_write(self, send: list[PlannedGraph], state: State, outcome: Outcome) -> None:
        """All changed graphs in one run of Virtuoso's bulk loader (it appends, so each
        target graph is dropped first; the loader loads one file while the next is written);
        recorded once the loader has finished."""
        assert self.loader is not None
        loading: list[tuple[PlannedGraph, str]] = []
        for graph in send:
            in_place = graph.iri not in state.published
            name = graph.iri if in_place else state.staging_name(graph.iri)
            if not in_place and state.staged.get(name) == (graph.iri, graph.fingerprint):
                outcome.reused.append(graph.iri)
                continue
            state.staged.pop(name, None)
            loading.append((graph, name))
        if not loading:
            return
        loading.sort(key=lambda found: BULK_ORDER.get(found[0].role, len(BULK_ORDER)))
        self._save(state)
        self.target.update(" ;\n".join(f"DROP SILENT GRAPH <{name}>" for _, name in loading),
                           "dropping the graphs to be bulk-loaded")
        try:
            counts = [self.loader.add(self.store, graph.iri, name) for graph, name in loading]
        except BaseException:  # interrupted: what was loaded stays unrecorded, sent again
            self.loader.abandon()
            raise
        self.loader.load()
        for (graph, name), count in zip(loading, counts, strict=True):
            if name == graph.iri:
                state.published[graph.iri] = graph.fingerprint
            else:
                state.staged[name] = (graph.iri, graph.fingerprint)
            outcome.sent.append(graph)
            outcome.triples += count
            self.report(f"sent <{graph.iri}> ({graph.role}, {count} triples)")
        self._save(state)

    def _send_graph(self, name: str, source: str) -> int:
        count = 0

        def counted():
            nonlocal count
            for triple in triples(self.store, source):
                count += 1
                yield triple

        if self.method == "update":
            self.target.update(f"DROP SILENT GRAPH <{name}>", f"DROP <{name}>")
            try:
                self.target.insert(name, counted(), self.batch)
                return count
            except BlankNodesTooConnected:
                count = 0  # sent again whole, below
        self.target.put(name, counted())
        return count

    def _switch(self, plan: Plan, state: State, history: bool) -> None:
        """Make the new publication visible: staged copies into place, the catalog, the
        record naming the current view."""
        if self.method == "gsp":  # copies staged by an earlier run by update: replaced by PUT
            for staging in state.staged:
                self.target.delete(staging)
            state.staged.clear()
        for graph, fingerprint in state.staged.values():
            state.published[graph] = fingerprint
        moves = [f"MOVE <{staging}> TO <{graph}>" for staging, (graph, _) in state.staged.items()]
        state.staged.clear()
        state.published[plan.catalog.iri] = plan.catalog.fingerprint
        state.default_graphs = list(plan.default_graphs)
        state.history = history
        state.published_at = now()
        catalog = list(triples(self.store, plan.catalog.iri))
        if self.method == "gsp":
            self.target.put(plan.catalog.iri, catalog)
            self.target.put(state.graph, state.triples())
            return
        self.target.update(" ;\n".join([
            *moves,
            f"DROP SILENT GRAPH <{plan.catalog.iri}>",
            f"INSERT {graph_block(plan.catalog.iri, catalog)} WHERE {{}}",
            f"DROP SILENT GRAPH <{state.graph}>",
            f"INSERT DATA {graph_block(state.graph, state.triples())}",
        ]), "switch (catalog and publication record)")

    # ---- the view graph ---------------------------------------------------------------------

    def _view_update(self, operations: list[str], what: str) -> None:
        """Changes of the view graph. With the bulk loader's isql, committed row by row (a big
        source in one transaction outgrows Virtuoso's transaction log), which is safe because
        the record says the view graph is out of step while it changes; else one SPARQL Update
        request per operation, each one transaction (`DEFINE sql:log-enable` over HTTP left
        Virtuoso writing later requests' graphs wrongly, even on a connection of its own)."""
        if not operations:
            return
        if self.loader is not None:
            self.loader.sparql(*operations)
            return
        for operation in operations:
            self.target.update(operation, what)

    def _view_leaves(self, change: ViewChange, state: State) -> None:
        """Take the view graph out of step (and give replicas `grace` seconds to notice), then
        delete what the leaving sources held unless a staying source holds it too."""
        started = time.perf_counter()
        if state.view_stamp is not None:
            state.view_stamp = None
            self._save(state)
            time.sleep(self.grace)
        if change.rebuild:
            self._view_update([f"DROP SILENT GRAPH <{self.view}>"], "dropping the view graph")
            return
        kept = " ".join(f"<{g}>" for g in change.staying)
        unless = (f" FILTER NOT EXISTS {{ VALUES ?k {{ {kept} }} GRAPH ?k {{ ?s ?p ?o }} }}"
                  if kept else "")
        self._view_update([f"DELETE {{ GRAPH <{self.view}> {{ ?s ?p ?o }} }} WHERE {{ GRAPH "
                           f"<{graph}> {{ ?s ?p ?o }}{unless} }}" for graph in change.leaving],
                          "the view graph giving up a source")
        for graph in change.leaving:
            self.report(f"view graph: gave up <{graph}>")
        self.report(f"view graph: {len(change.leaving)} sources given up in "
                    f"{time.perf_counter() - started:.1f} s")

    def _forget_view(self, state: State) -> None:
        """No view graph any more (`--no-view-graph`): replicas go back to the sources' list
        first, then it is dropped."""
        state.view, state.view_stamp = {}, None
        self._save(state)
        time.sleep(self.grace)
        self._view_update([f"DROP SILENT GRAPH <{self.view}>"], "dropping the view graph")

    def _view_enters(self, change: ViewChange) -> None:
        """Add the entering sources' triples (from the graphs as now published)."""
        started = time.perf_counter()
        self._view_update([f"INSERT {{ GRAPH <{self.view}> {{ ?s ?p ?o }} }} WHERE {{ GRAPH "
                           f"<{graph}> {{ ?s ?p ?o }} }}" for graph in change.entering],
                          "the view graph taking in a source")
        for graph in change.entering:
            self.report(f"view graph: took in <{graph}>")
        self.report(f"view graph: {len(change.entering)} sources taken in in "
                    f"{time.perf_counter() - started:.1f} s")

    def _restamp(self, plan: Plan, state: State) -> None:
        """Record the view graph in step with the catalog now published (the stamp read back
        from the target, as replicas compute it)."""
        stamp, _ = catalog_stamp(self.target.select(STAMP_QUERY))
        state.view = {g.iri: g.fingerprint for g in plan.graphs if g.iri in plan.default_graphs}
        state.view_stamp = stamp
        self._save(state)

    def _drop(self, graph: str) -> None:
        if self.method == "gsp":
            self.target.delete(graph)
        else:
            self.target.update(f"DROP SILENT GRAPH <{graph}>", f"DROP <{graph}>")

    def _save(self, state: State) -> None:
        """Rewrite the publication record (small: a few triples per graph)."""
        if self.method == "gsp":
            self.target.put(state.graph, state.triples())
            return
        self.target.update(f"DROP SILENT GRAPH <{state.graph}> ;\n"
                           f"INSERT DATA {graph_block(state.graph, state.triples())}",
                           "recording progress")
