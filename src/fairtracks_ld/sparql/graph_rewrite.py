"""`GRAPH` over versions stored once: a query's text rewritten to read them through the view.

A current version may be "stored once" (store/members.py): it keeps no named graph, its triples
are in the default graph (the view) only, and the members graph `{base}graph/members` holds
`<e> ft:described_in <version>` for each entity it describes, and the mark `<version> a
ft:VersionStoredOnce`. A node's entity is its IRI up to any `#` (a nested node `<e#checksum>`,
an annotation or a list cell belongs to `<e>`: `entity`). No other source describes those
nodes, so the version's triples are exactly the view's triples whose subject's entity is one of
its members. pyoxigraph exposes no algebra
(and rdflib's parser fails on valid queries), so this module is a recursive-descent reader of
the query's tokens (sparql.tokens, codepoint escapes read as Oxigraph reads them) that writes
query text. The answers it gives are compared with a store holding the versions as real named
graphs in tests/test_graph_rewrite.py (a corpus and a seeded fuzz).

Rules (the active graph of a rewritten group is the default graph, the view):
- `GRAPH <v>` (v stored once; an IRI or prefixed name after BASE/PREFIX) becomes a plain group in
  which each triple pattern `s p o` is followed by `FILTER EXISTS { BIND(entity(s) AS ?e)
  FILTER EXISTS { GRAPH <members> { ?e ft:described_in <v> } } }` (a filter: no variable
  added, and the engine still joins the group's triple patterns as it chooses), also inside
  OPTIONAL, UNION, MINUS, FILTER (NOT) EXISTS, BIND, subqueries. A nested `GRAPH` in it is
  read as at the top level. SERVICE blocks are copied as written.
- `GRAPH ?g { P }` becomes `{ GRAPH ?g { P } } UNION { P' }`: the named graphs as stored, and
  the versions stored once, where in P' each triple pattern `s p o` is followed by `BIND(entity(s)
  AS ?_vgN) GRAPH <members> { ?_vgN ft:described_in ?g }` (binding ?g) and each group
  of P' holds the mark `GRAPH <members> { ?g a ft:VersionStoredOnce }` (first, or after a leading
  triples block, which binds ?g already). That keeps Oxigraph's reading of `GRAPH ?g`, which is
  what a store of named graphs answers today: ?g is bound inside the whole group, so FILTER and
  BIND see it and MINUS shares it (Oxigraph answers `GRAPH ?g { ?s ?p ?o MINUS { ?x ?y ?z } }`
  with nothing). Oxigraph evaluates VALUES inside `GRAPH ?g` outside the graph (its rows carry
  no ?g): a MINUS whose group is VALUES alone gets no mark, to match; other places where that
  would show are refused (below).
- A subquery inside `GRAPH ?g` gets ?g projected (and added to its GROUP BY), in both branches:
  Oxigraph otherwise evaluates it over all named graphs and leaves ?g unbound, while the spec
  evaluates it in each graph (Oxigraph does so once the subquery projects ?g).
- Property paths inside a rewritten group are cut into triple patterns: a sequence with fresh
  variables (`?_vg1`...), `^` by swapping ends, an alternative as a `SELECT DISTINCT` of its ends
  (and ?g) over a UNION (Oxigraph answers an alternative once per pair of ends, a sequence once
  per path). Blank nodes and `[ ... ]` become fresh variables. A `SELECT *` or `DESCRIBE *` over
  a group given fresh variables lists the query's own variables instead (the answer's header
  may then name a variable that is never bound).
- A query whose FROM / FROM NAMED name no version stored once is left as it is (its GRAPH reaches
  only the graphs it names). A query whose only dataset clause is `FROM <v>` is read as its
  WHERE inside `GRAPH <v>`; rewrite_dataset does the same for `default-graph-uri=<v>` alone.
- The protocol's `named-graph-uri` (rewrite_dataset) answers as pyoxigraph's `named_graphs=`
  does over named graphs (replacing FROM NAMED; the default graph stays the default-graph-uris,
  else the query's FROM, else the store's): the named graphs are exactly those listed (a graph
  listed twice counts once; pyoxigraph's GRAPH ?g would answer it twice). The real ones are
  passed on as `named_graphs=` with the members graph (an empty list: no named graph), and
  `GRAPH ?g` becomes `{ GRAPH ?g { P } FILTER(?g != <members>) } UNION { P' }`, P' binding ?g
  by `VALUES ?g { listed versions stored once }` in place of the mark (no second branch when
  none is listed; no FILTER when the members graph is listed). `GRAPH <v>` of a listed version
  is rewritten; of an unlisted one it is left as written: v is no named graph of either
  dataset, and Oxigraph answers alike (not always nothing: it reads VALUES outside the graph).
  A default graph of one version stored once is read as above, GRAPH inside it allowed.

Refused (GraphRewriteRefused, a one-sentence reason for an HTTP 400):
- `*`, `+`, `?` paths and negated property sets inside a rewritten group; RDF collections and
  RDF 1.2 triple terms there;
- inside `GRAPH ?g`: a nested GRAPH; a subquery with LIMIT/OFFSET, with an aggregate but no
  GROUP BY, without any triple pattern, or using ?g itself; VALUES in a group with no triple
  pattern (except a MINUS's, or an OPTIONAL's or EXISTS's, whose rows meet rows carrying ?g), or
  before the group's first triple pattern when an OPTIONAL, MINUS or BIND comes between;
- `GRAPH ?g` or `GRAPH <v>` inside another named graph's GRAPH (the view is out of reach there);
- FROM / FROM NAMED naming a version stored once, except one `FROM <v>` alone (and refused
  there: a DESCRIBE other than of IRIs without WHERE, which becomes a CONSTRUCT of the IRIs'
  triples in v; the `CONSTRUCT WHERE` short form; a GRAPH inside, since FROM leaves no named
  graphs);
- `COUNT(DISTINCT *)` over a group given fresh variables (so over any `GRAPH ?g`, whose
  entities are bound to fresh variables); a `SELECT *` with fresh variables and no variable of
  its own;
- in rewrite_dataset: `default-graph-uri` (or, with `named-graph-uri` alone, FROM) naming a
  version stored once beside other default graphs; another default graph (not the view, not
  one version stored once) with a query whose GRAPH would need the rewrite (it reads the
  view); with `named-graph-uri` listing a version stored once but not the members graph,
  `GRAPH <members>` (the rewrite passes that graph on, so it would answer) and a GRAPH inside
  the GRAPH of an unlisted version stored once (as inside another named graph's);
- SPARQL Update text naming a version stored once, or with `GRAPH ?var` (check_update);
- query text this reader cannot follow (refused rather than passed on, since passed on it could
  answer without the versions stored once).
Text that does not lex is returned as it is: the engine reports the syntax error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from fairtracks_ld.mapping.namespaces import DESCRIBED_IN, PREFIXES, STORED_ONCE
from fairtracks_ld.sparql.tokens import (
    BNODE,
    IRI,
    LANGTAG,
    NUMBER,
    PNAME,
    PUNCT,
    STRING,
    VAR,
    WORD,
    LexError,
    Token,
    tokenize,
)

_AGGREGATES = frozenset({"count", "sum", "min", "max", "avg", "sample", "group_concat"})
_NAMES = (IRI, PNAME)
NO_ENTITY = "urn:fairtracks-ld:no-entity"  # the entity of a blank node: no member has it


def entity(term: str) -> str:
    """The SPARQL expression of the entity node `term` (a variable or IRI) belongs to: its IRI
    up to any `#`, which holds the member quad. A blank node gets an IRI no member has rather
    than an error, which would leave a BIND's variable unbound and the member lookup after it
    matching every member."""
    return f'COALESCE(IRI(STRBEFORE(CONCAT(STR({term}), "#"), "#")), <{NO_ENTITY}>)'


def described_in(subject: str, version: str, members: str, variable: str) -> str:
    """A filter keeping the rows in which node `subject` is described by `version` (an IRI in
    angle brackets) stored once; `variable` a name no variable of the query has. The lookup is
    an EXISTS of its own: Oxigraph joins a BIND and a pattern inside one EXISTS by reading the
    whole pattern for each row (25 ms a row at 100k tracks), while a nested EXISTS gets the
    bound entity (10 µs a row)."""
    return (f"FILTER EXISTS {{ BIND({entity(subject)} AS {variable}) FILTER EXISTS {{ "
            f"GRAPH <{members}> {{ {variable} <{DESCRIBED_IN}> {version} }} }} }}")


class GraphRewriteRefused(ValueError):
    """The query names versions stored once in a form this module does not rewrite exactly."""


class _Unreadable(Exception):
    """The reader met a token it did not expect."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


@dataclass(frozen=True)
class _Context:
    """How a group is written: `member` the graph term each subject must be described in
    (`<v>` or `?g`; None: patterns as written), `graph_var` the name of an enclosing `GRAPH ?g`
    (subqueries project it), `mark` whether each group holds ?g's stored-once mark,
    `attached` whether the group's rows only meet rows that carry ?g already, `minus` whether
    it is a MINUS's group."""

    member: str | None
    graph_var: str | None = None
    mark: bool = False
    attached: bool = False  # the body of OPTIONAL or EXISTS: its rows meet others' ?g
    minus: bool = False  # the body of a MINUS


@dataclass
class _Edit:
    """Characters [start, end) of the query replaced by `text`; `fresh`: it adds variables."""

    start: int
    end: int
    text: str
    fresh: bool


# path nodes: ("link", text) | ("inv", node) | ("seq", [nodes]) | ("alt", [nodes])
# | ("mod", node, op) | ("neg", text)
_Path = tuple


def rewrite(query: str, stored_once: Collection[str], members: str, *, base: str | None = None,
            prefixes: Mapping[str, str] | None = None) -> str:
    """`query` rewritten to answer over versions stored once as if they were named graphs.

    Returned unchanged, without being read, when nothing is stored once or the text cannot name
    a graph (no `graph` or `from` in it); unchanged when it does not lex. `prefixes` None means
    the server's (mapping.namespaces.PREFIXES), as pyoxigraph is given them."""
    if not stored_once:
        return query
    folded = query.casefold()
    if "graph" not in folded and "from" not in folded:
        return query
    try:
        tokens = tokenize(query, base=base, prefixes=PREFIXES if prefixes is None else prefixes,
                          escapes="in_tokens")
    except LexError:
        return query
    if not any(token.kind == WORD and token.keyword in ("graph", "from") for token in tokens):
        return query
    return _Rewriter(query, tokens, frozenset(stored_once), members).run()


def rewrite_dataset(query: str, default_graph_uris: Sequence[str] | None,
                    named_graph_uris: Sequence[str] | None, stored_once: Collection[str],
                    members: str, *, base: str | None = None,
                    prefixes: Mapping[str, str] | None = None,
                    ) -> tuple[str, list[str] | None, list[str] | None]:
    """The query and the protocol's dataset (`default-graph-uri`, `named-graph-uri`; None when
    not given) to run instead, over a store with versions stored once: the caller passes them
    on as pyoxigraph's `default_graph=` and `named_graphs=` (an empty list is a dataset
    without named graphs, not "not given").

    The answers are those pyoxigraph gives over a store holding the versions as named graphs:
    `default_graph=` replaces the query's FROM, `named_graphs=` its FROM NAMED, each alone.
    `default-graph-uri=<v>` alone, v stored once, is answered as the query's WHERE read inside
    `GRAPH <v>` over the view (its dataset clauses dropped; the named graphs stay all the
    store's, as pyoxigraph keeps them with `default_graph=` alone): the dataset returned is
    then (None, None). With `named-graph-uri` listing a version stored once (or beside a
    `default-graph-uri=<v>`) see `_named_dataset`."""
    defaults = None if default_graph_uris is None else list(default_graph_uris)
    named = None if named_graph_uris is None else list(named_graph_uris)
    if defaults is None and named is None:
        return rewrite(query, stored_once, members, base=base, prefixes=prefixes), None, None
    stored = frozenset(stored_once)
    if not stored:
        return query, defaults, named
    if named is not None and (any(iri in stored for iri in named)
                              or any(iri in stored for iri in defaults or ())):
        return _named_dataset(query, defaults, named, stored, members, base, prefixes)
    if defaults is not None and any(iri in stored for iri in defaults):
        if len(defaults) != 1:
            raise GraphRewriteRefused("a default-graph-uri naming a version stored once must be "
                                      "the only default-graph-uri of the request")
        try:
            tokens = tokenize(query, base=base,
                              prefixes=PREFIXES if prefixes is None else prefixes,
                              escapes="in_tokens")
        except LexError:
            return query, defaults, named
        return _Rewriter(query, tokens, stored, members).run(default_graph=defaults[0]), None, None
    if named is not None:  # GRAPH reaches the graphs named, none stored once
        return query, defaults, named
    # another default graph, every named graph reachable: a rewritten GRAPH would read the
    # default graph given, not the view
    rewritten = rewrite(_without_dataset(query, base, prefixes), stored, members, base=base,
                        prefixes=prefixes)
    if rewritten != _without_dataset(query, base, prefixes):
        raise GraphRewriteRefused("a query whose GRAPH may reach a version stored once cannot "
                                  "be given another default-graph-uri")
    return query, defaults, named


def _named_dataset(query: str, defaults: list[str] | None, named: list[str],
                   stored: frozenset[str], members: str, base: str | None,
                   prefixes: Mapping[str, str] | None,
                   ) -> tuple[str, list[str] | None, list[str]]:
    """`named-graph-uri` given, naming a version stored once or beside a default-graph-uri that
    does. The dataset's named graphs are exactly those listed: a `GRAPH ?g` binds ?g to the
    real ones (passed on as `named_graphs=`, with the members graph, which the rewrite reads
    and a FILTER hides from ?g unless listed) and to the listed versions stored once (a VALUES
    in place of the mark); `GRAPH <v>` of a listed version is rewritten, of an unlisted one
    left to answer nothing. The default graph is pyoxigraph's: the default-graph-uris, else
    the query's FROM, else the store's (the view); when it is one version stored once the
    WHERE is read inside its GRAPH over the view. Refused: another default graph with a GRAPH
    that needs the rewrite (the rewrite reads the view, which is then not the default graph),
    a version stored once beside other default graphs, and `GRAPH <members graph>` unlisted."""
    try:
        tokens = tokenize(query, base=base, prefixes=PREFIXES if prefixes is None else prefixes,
                          escapes="in_tokens")
    except LexError:
        return query, defaults, [iri for iri in named if iri not in stored]
    effective = defaults
    if effective is None:  # pyoxigraph keeps the query's FROM beside `named_graphs=`
        froms = []
        for index, token in enumerate(tokens):
            if token.kind == WORD and token.keyword == "from" and not (
                    index + 1 < len(tokens) and tokens[index + 1].kind == WORD
                    and tokens[index + 1].keyword == "named"):
                if index + 1 >= len(tokens) or tokens[index + 1].kind not in _NAMES \
                        or tokens[index + 1].iri is None:
                    raise GraphRewriteRefused("the query could not be read for the rewrite of "
                                              "versions stored once (near character "
                                              f"{token.start}); check its syntax")
                froms.append(tokens[index + 1].iri)
        effective = froms or None
    listed = frozenset(iri for iri in named if iri in stored)
    real = [iri for iri in dict.fromkeys(named) if iri not in stored]
    hide = members not in real
    passed = [*real, members] if hide else real
    if effective is None:
        rewriter = _Rewriter(query, tokens, stored, members, listed=listed, hide_members=hide)
        return rewriter.run(protocol=True), None, passed
    if any(iri in stored for iri in effective):
        if len(effective) != 1:
            raise GraphRewriteRefused("a default graph naming a version stored once must be the "
                                      "only default graph of the request's dataset")
        rewriter = _Rewriter(query, tokens, stored, members, listed=listed, hide_members=hide)
        return rewriter.run(default_graph=effective[0]), None, passed
    # another default graph: the query is run as it is if none of its GRAPH needs the view
    rewriter = _Rewriter(query, tokens, stored, members, listed=listed)
    text = rewriter.run(protocol=True)
    if rewriter.reads_view:
        raise GraphRewriteRefused("a query whose GRAPH may reach a version stored once listed "
                                  "as a named-graph-uri cannot be given another default graph")
    return text, effective, real


def check_update(update: str, stored_once: Collection[str], members: str, *,
                 base: str | None = None, prefixes: Mapping[str, str] | None = None) -> None:
    """Raise GraphRewriteRefused when a SPARQL Update names a version stored once (anywhere: a
    GRAPH, WITH, USING, INSERT DATA, DROP...) or has `GRAPH ?var`, which would reach the
    versions' named graphs in a store that had them; such a version changes only through a
    load. Text that does not lex is left to the engine."""
    if not stored_once:
        return
    stored = frozenset(stored_once)
    try:
        tokens = tokenize(update, base=base, prefixes=PREFIXES if prefixes is None else prefixes,
                          escapes="in_tokens")
    except LexError:
        return
    for index, token in enumerate(tokens):
        if token.kind in _NAMES and token.iri in stored:
            raise GraphRewriteRefused(f"the update names <{token.iri}>, a version stored once, "
                                      "which changes only when its document is loaded")
        if token.kind == WORD and token.keyword == "graph" and index + 1 < len(tokens) \
                and tokens[index + 1].kind == VAR:
            raise GraphRewriteRefused("an update with GRAPH ?variable is refused while versions "
                                      "are stored once (their triples have no named graph)")


def _without_dataset(query: str, base: str | None, prefixes: Mapping[str, str] | None) -> str:
    """The query with its FROM / FROM NAMED clauses blanked (the protocol's dataset overrides
    them); unchanged when it does not lex."""
    try:
        tokens = tokenize(query, base=base, prefixes=PREFIXES if prefixes is None else prefixes,
                          escapes="in_tokens")
    except LexError:
        return query
    for index in reversed(range(len(tokens))):
        token = tokens[index]
        if token.kind == WORD and token.keyword == "from":
            last = index + 2 if index + 1 < len(tokens) and tokens[index + 1].kind == WORD \
                and tokens[index + 1].keyword == "named" else index + 1
            if last < len(tokens):
                end = tokens[last].start + len(tokens[last].text)
                query = query[:token.start] + " " * (end - token.start) + query[end:]
    return query


class _Rewriter:
    """One query's tokens, read once, and the edits that rewrite it."""

    def __init__(self, query: str, tokens: list[Token], stored: frozenset[str],
                 members: str, *, listed: frozenset[str] | None = None,
                 hide_members: bool = False) -> None:
        self.query = query
        self.tokens = tokens
        self.stored = stored
        self.members = members
        # the versions stored once that are named graphs of the dataset (None: all of them),
        # and whether the members graph, passed on as a named graph, is hidden from GRAPH
        self.listed = listed
        self.hide_members = hide_members
        self.blanked = 0  # the edits that drop the query's dataset clauses
        self.reads_view = False  # whether a GRAPH was rewritten to read the view
        self.match = _matching(tokens)
        names = {token.text[1:] for token in tokens if token.kind == VAR}
        prefix = "_vg"
        while any(name.startswith(prefix) for name in names):
            prefix += "x"
        self.fresh_prefix = prefix
        self.counter = 0
        self.blank: dict[str, str] = {}
        self.edits: list[_Edit] = []
        self.triple_blocks = 0

    # -- the whole query ------------------------------------------------------------------

    def run(self, default_graph: str | None = None, protocol: bool = False) -> str:
        """The rewritten query; `default_graph` (a version stored once) the protocol's default
        graph, `protocol` whether the protocol gives the dataset (the query's own dropped)."""
        try:
            self._run(default_graph, protocol or default_graph is not None)
        except _Unreadable as error:
            raise GraphRewriteRefused(
                "the query could not be read for the rewrite of versions stored once (near "
                f"character {error.position}); check its syntax") from None
        fresh = any(edit.fresh for edit in self.edits)
        if fresh:
            self._star_projections()
        text = self.query
        for edit in sorted(self.edits, key=lambda e: e.start, reverse=True):
            text = text[:edit.start] + edit.text + text[edit.end:]
        return text

    def _run(self, default_graph: str | None, protocol: bool) -> None:
        tokens = self.tokens
        form_at = self._prologue_end()
        if form_at >= len(tokens) or tokens[form_at].kind != WORD or tokens[form_at].keyword \
                not in ("select", "construct", "describe", "ask"):
            raise _Unreadable(self._position(form_at))
        form = tokens[form_at].keyword
        clauses = [index for index, token in enumerate(tokens)
                   if token.kind == WORD and token.keyword == "from"]
        if protocol:  # the protocol's dataset: the query's clauses ignored
            for index in clauses:
                self._edit(index, index + (3 if self._word(index + 1, "named") else 2), "")
            self.blanked = len(self.edits)
            if default_graph is not None:
                self._wrap(form, form_at, f"<{default_graph}>", allow_graph=True)
            else:
                self._scan(0, len(tokens))
            return
        if clauses:
            targets = []
            for index in clauses:
                named = self._word(index + 1, "named")
                target = index + (2 if named else 1)
                if target >= len(tokens) or tokens[target].kind not in _NAMES:
                    raise _Unreadable(self._position(target))
                targets.append((named, tokens[target].iri, index, target))
            if not any(iri in self.stored for _, iri, _, _ in targets):
                return  # GRAPH reaches only the graphs named, none stored once
            named, iri, index, target = targets[0]
            if len(targets) != 1 or named:
                raise GraphRewriteRefused(
                    "FROM / FROM NAMED naming a version stored once is refused (except one FROM "
                    "<version> alone); use GRAPH <version> in the WHERE clause")
            self._edit(index, target + 1, "")
            self._wrap(form, form_at, f"<{iri}>", allow_graph=False)
            return
        self._scan(0, len(tokens))

    def _wrap(self, form: str, form_at: int, version: str, allow_graph: bool) -> None:
        """The query's WHERE group read inside `GRAPH version`."""
        if form == "describe":
            self._describe(form_at, version)
            return
        if form == "construct" and not self._punct(form_at + 1, "{"):
            raise GraphRewriteRefused("the CONSTRUCT WHERE short form over a version stored once "
                                      "as the default graph is refused; write its template")
        if not allow_graph and any(token.kind == WORD and token.keyword == "graph"
                                   for token in self.tokens):
            raise GraphRewriteRefused("a query with FROM <version> has no named graphs, so its "
                                      "GRAPH patterns are refused with a version stored once")
        opening = form_at + 1
        if form == "construct":  # after the template
            opening = self.match.get(opening, len(self.tokens)) + 1
        while opening < len(self.tokens) and not self._punct(opening, "{"):
            opening = self.match.get(opening, opening) + 1 if self._punct(opening, "(") \
                else opening + 1
        if opening >= len(self.tokens):
            raise _Unreadable(self._position(opening))
        text, end = self.group(opening, _Context(member=version))
        self._edit(opening, end, "{ " + text + " }", self.counter > 0)

    def _describe(self, form_at: int, version: str) -> None:
        """`DESCRIBE <iri>...` over a version stored once as the default graph: the triples
        about each IRI in the version (its description: the version has no blank-node subject,
        so there is nothing further to follow). Any other DESCRIBE is refused."""
        last = form_at + 1
        while self._kind(last) in _NAMES:
            last += 1
        rest = last
        while self._word(rest, "from"):
            rest += 3 if self._word(rest + 1, "named") else 2
        if last == form_at + 1 or rest < len(self.tokens):
            raise GraphRewriteRefused("over a version stored once as the default graph, only a "
                                      "DESCRIBE of IRIs without WHERE is answered; use "
                                      "CONSTRUCT with GRAPH <version>")
        subject, predicate, value = self._fresh(), self._fresh(), self._fresh()
        names = " ".join(token.text for token in self.tokens[form_at + 1:last])
        self._edit(form_at, last, f"CONSTRUCT {{ {subject} {predicate} {value} }} WHERE {{ "
                                  f"VALUES {subject} {{ {names} }} {subject} {predicate} {value} . "
                                  f"{self._member(subject, version)} }}")

    def _scan(self, start: int, end: int) -> None:
        """Tokens read at the top level (the default graph): each GRAPH becomes an edit."""
        index = start
        while index < end:
            token = self.tokens[index]
            if token.kind == WORD and token.keyword == "service":
                index = self._service_end(index)
                continue
            if token.kind == WORD and token.keyword == "graph":
                before = self.counter
                text, after = self.graph_element(index)
                if text is not None:
                    self._edit(index, after, text, self.counter > before)
                index = after
                continue
            index += 1

    def _star_projections(self) -> None:
        """`SELECT *` / `DESCRIBE *` outside the edits, over a group given fresh variables:
        the query's own variables instead; and COUNT(DISTINCT *) refused."""
        tokens = self.tokens
        for index, token in enumerate(tokens):
            if token.kind == WORD and token.keyword == "count" and self._punct(index + 1, "(") \
                    and self._word(index + 2, "distinct") and self._punct(index + 3, "*"):
                raise GraphRewriteRefused("COUNT(DISTINCT *) over a version stored once is "
                                          "refused; count DISTINCT over named variables")
        for index, token in enumerate(tokens):
            if token.kind != WORD or token.keyword not in ("select", "describe"):
                continue
            star = index + 1
            if token.keyword == "select" and (self._word(star, "distinct")
                                              or self._word(star, "reduced")):
                star += 1
            if not self._punct(star, "*") or self._inside_edit(tokens[star].start):
                continue
            opening = star + 1
            while opening < len(tokens) and not self._punct(opening, "{"):
                opening += 1
            if opening >= len(tokens):
                continue
            closing = self.match.get(opening, len(tokens) - 1)
            low, high = tokens[opening].start, tokens[closing].start
            if not any(edit.fresh and low <= edit.start < high for edit in self.edits):
                continue
            # the WHERE and what follows it (a VALUES clause): to the subquery's closing
            # brace, or to the end of the query
            last = self.match.get(index - 1, len(tokens)) if self._punct(index - 1, "{") \
                else len(tokens)
            names = self._variables(opening, last)
            if not names:
                raise GraphRewriteRefused("SELECT * over a version stored once with property "
                                          "paths or blank nodes needs a variable to select")
            self._edit(star, star + 1, " ".join("?" + name for name in names))

    # -- graph patterns ---------------------------------------------------------------------

    def graph_element(self, index: int) -> tuple[str | None, int]:
        """`GRAPH term { ... }` read where the active graph is the view: its rewritten text
        (None: a named graph as stored, left as written) and the index after it."""
        target = index + 1
        opening = index + 2
        if not self._punct(opening, "{") or self._kind(target) not in (VAR, IRI, PNAME):
            raise _Unreadable(self._position(target))
        token = self.tokens[target]
        if token.kind == VAR:
            name = token.text[1:]
            real, end = self.group(opening, _Context(member=None, graph_var=name))
            hidden = f" FILTER({token.text} != <{self.members}>)" if self.hide_members else ""
            if self.listed is not None and not self.listed:
                return f"{{ GRAPH {token.text} {real}{hidden} }}", end
            once, _ = self.group(opening, _Context(member="?" + name, graph_var=name, mark=True))
            self.reads_view = True
            return f"{{ GRAPH {token.text} {real}{hidden} }} UNION {once}", end
        if token.iri is None:
            raise _Unreadable(token.start)
        if token.iri in self.stored and (self.listed is None or token.iri in self.listed):
            self.reads_view = True
            return self.group(opening, _Context(member=f"<{token.iri}>"))
        if self.hide_members and token.iri == self.members:
            raise GraphRewriteRefused(self._MEMBERS_UNLISTED)
        closing = self.match.get(opening)
        if closing is None:
            raise _Unreadable(self.tokens[opening].start)
        # a named graph as stored, or a version stored once not listed as a named graph of the
        # dataset (not one in either store: Oxigraph answers as it would for any other graph,
        # which is not always nothing, its VALUES rows being read outside the graph)
        for inner in range(opening + 1, closing):  # the view is out of reach there, so no
            if self._word(inner, "graph"):           # rewrite can sit inside
                named = self.tokens[inner + 1] if inner + 1 < closing else None
                if named is not None and self.hide_members and named.iri == self.members:
                    raise GraphRewriteRefused(self._MEMBERS_UNLISTED)
                if named is not None and (named.kind == VAR or named.iri in self.stored):
                    raise GraphRewriteRefused(
                        "GRAPH ?var or GRAPH <version stored once> inside another named graph's "
                        "GRAPH is refused; write it beside that GRAPH")
        return None, closing + 1

    _MEMBERS_UNLISTED = ("GRAPH <members graph> is refused when named-graph-uri lists a version "
                         "stored once but not the members graph, which the rewrite reads")

    _VALUES_FIRST = ("VALUES inside GRAPH ?var is refused unless a triple pattern of its group "
                     "comes before any OPTIONAL, MINUS or BIND: Oxigraph evaluates VALUES "
                     "outside the graph, leaving ?var unbound")

    def group(self, index: int, context: _Context) -> tuple[str, int]:
        """A group graph pattern `{ ... }` at `index`: its rewritten text, the index after."""
        if not self._punct(index, "{"):
            raise _Unreadable(self._position(index))
        index += 1
        if self._word(index, "select"):
            text, index = self.subselect(index, context)
            if not self._punct(index, "}"):
                raise _Unreadable(self._position(index))
            return "{ " + text + " }", index + 1
        parts: list[str] = []
        values = triples = leading_triples = others = False
        minus, context = context.minus, replace(context, minus=False)
        while not self._punct(index, "}"):
            token = self._token(index)
            keyword = token.keyword if token.kind == WORD else ""
            if keyword in ("optional", "minus", "bind") and values and not triples \
                    and context.graph_var is not None:
                raise GraphRewriteRefused(self._VALUES_FIRST)
            others = others or not (keyword in ("values", "filter") or self._punct(index, "."))
            if keyword in ("optional", "minus"):
                text, index = self.group(index + 1, replace(
                    context, attached=keyword == "optional", minus=keyword == "minus"))
                parts.append(f"{token.text} {text}")
            elif keyword == "graph":
                if context.graph_var is not None:
                    raise GraphRewriteRefused("a GRAPH nested inside GRAPH ?var is refused while "
                                              "versions are stored once; write it beside it")
                if context.member is None:
                    raise _Unreadable(token.start)
                text, end = self.graph_element(index)
                parts.append(self._slice(index, end) if text is None else text)
                index = end
            elif keyword == "service":
                end = self._service_end(index)
                parts.append(self._slice(index, end))
                index = end
            elif keyword == "filter":
                text, index = self.constraint(index + 1, context)
                parts.append(f"{token.text} {text}")
            elif keyword == "bind":
                text, index = self.bracketed(index + 1, context)
                parts.append(f"{token.text} {text}")
            elif keyword == "values":
                values = True
                end = self._values_end(index)
                parts.append(self._slice(index, end))
                index = end
            elif self._punct(index, "{"):
                text, index = self.group(index, context)
                while self._word(index, "union"):
                    more, index = self.group(index + 1, context)
                    text += f" UNION {more}"
                parts.append(text)
            elif self._punct(index, "."):
                index += 1
            else:
                leading_triples = leading_triples or not parts
                triples = True
                self.triple_blocks += 1
                text, index = self.triples(index, context)
                parts.append(text)
        if values and not triples and context.graph_var is not None:
            if minus and not others:  # Oxigraph's VALUES rows carry no ?g: MINUS shares
                return "{ " + " ".join(parts) + " }", index + 1  # only their variables
            if not context.attached:
                raise GraphRewriteRefused(self._VALUES_FIRST)
        if context.mark:  # after a leading triples block, whose members bind ?g: a lookup
            parts.insert(1 if leading_triples else 0, self._mark(context))
        return "{ " + " ".join(parts) + " }", index + 1

    def subselect(self, index: int, context: _Context) -> tuple[str, int]:
        """A subquery `SELECT ... WHERE { ... } modifiers [VALUES]` (without its braces)."""
        start = index
        index += 1
        if self._word(index, "distinct") or self._word(index, "reduced"):
            index += 1
        head = self._slice(start, index)
        star = self._punct(index, "*")
        projection: list[str] = []
        aggregate = False
        if star:
            index += 1
        else:
            while self._kind(index) == VAR or self._punct(index, "("):
                if self._kind(index) == VAR:
                    projection.append(self.tokens[index].text)
                    index += 1
                else:
                    aggregate |= self._has_aggregate(index, self.match.get(index, index))
                    text, index = self.bracketed(index, context)
                    projection.append(text)
            if not projection:
                raise _Unreadable(self._position(index))
        if self._word(index, "where"):
            index += 1
        before, blocks = self.counter, self.triple_blocks
        where, index = self.group(index, context)
        fresh = self.counter > before
        if context.graph_var is not None and self.triple_blocks == blocks:
            raise GraphRewriteRefused("a subquery without a triple pattern inside GRAPH ?var is "
                                      "refused: Oxigraph evaluates it outside the graph")
        modifiers_at = index
        group_by_end: int | None = None
        limited = False
        while index < len(self.tokens) and not self._punct(index, "}"):
            token = self.tokens[index]
            if token.kind == WORD and token.keyword == "values":
                break
            if token.kind == WORD and token.keyword in ("limit", "offset"):
                limited = True
            if token.kind == WORD and token.keyword in _AGGREGATES and self._punct(index + 1, "("):
                aggregate = True
            if token.kind == WORD and token.keyword == "exists" and context.member is not None:
                raise GraphRewriteRefused("EXISTS in a subquery's HAVING or ORDER BY over a "
                                          "version stored once is refused")
            if token.kind == WORD and token.keyword in ("having", "order", "limit", "offset") \
                    and group_by_end is None and self._word(modifiers_at, "group"):
                group_by_end = index
            index = self.match.get(index, index) + 1 if self._punct(index, "(") else index + 1
        if self._word(modifiers_at, "group") and group_by_end is None:
            group_by_end = index
        grouped = self._word(modifiers_at, "group")
        values_end = self._values_end(index) if self._word(index, "values") else index
        end = values_end
        graph_var = context.graph_var
        if graph_var is not None:
            if limited:
                raise GraphRewriteRefused("a subquery with LIMIT or OFFSET inside GRAPH ?var is "
                                          "refused while versions are stored once")
            if aggregate and not grouped:
                raise GraphRewriteRefused("a subquery with an aggregate but no GROUP BY inside "
                                          "GRAPH ?var is refused while versions are stored once")
            if any(self.tokens[at].kind == VAR and self.tokens[at].text[1:] == graph_var
                   for at in range(start, end)):
                raise GraphRewriteRefused(f"a subquery inside GRAPH ?{graph_var} that uses "
                                          f"?{graph_var} itself is refused")
        if star and (fresh or graph_var is not None):
            names = self._variables(start, end)
            if graph_var is not None:
                names.append(graph_var)
            if not names:
                raise GraphRewriteRefused("SELECT * over a version stored once with property "
                                          "paths or blank nodes needs a variable to select")
            selected = " ".join("?" + name for name in names)
        elif star:
            selected = "*"
        else:
            selected = " ".join(projection) + (f" ?{graph_var}" if graph_var else "")
        modifiers = self._slice(modifiers_at, index) if index > modifiers_at else ""
        if graph_var is not None and grouped:
            assert group_by_end is not None
            modifiers = (self._slice(modifiers_at, group_by_end) + f" ?{graph_var} "
                         + (self._slice(group_by_end, index) if index > group_by_end else ""))
        values = self._slice(index, values_end) if values_end > index else ""
        return f"{head} {selected} WHERE {where} {modifiers} {values}", end

    def constraint(self, index: int, context: _Context) -> tuple[str, int]:
        """A FILTER's constraint: `( expr )`, `NOT EXISTS {}`, `EXISTS {}`, or a call."""
        if self._word(index, "not") and self._word(index + 1, "exists"):
            text, end = self.group(index + 2, replace(context, attached=True))
            return f"{self._slice(index, index + 2)} {text}", end
        if self._word(index, "exists"):
            text, end = self.group(index + 1, replace(context, attached=True))
            return f"{self.tokens[index].text} {text}", end
        if self._punct(index, "("):
            return self.bracketed(index, context)
        if self._kind(index) in (WORD, IRI, PNAME) and self._punct(index + 1, "("):
            text, end = self.bracketed(index + 1, context)
            return f"{self.tokens[index].text}{text}", end
        raise _Unreadable(self._position(index))

    def bracketed(self, index: int, context: _Context) -> tuple[str, int]:
        """`( expression )` as written, its EXISTS groups rewritten."""
        closing = self.match.get(index) if self._punct(index, "(") else None
        if closing is None:
            raise _Unreadable(self._position(index))
        pieces: list[str] = []
        run = index
        at = index
        while at <= closing:
            if self._word(at, "exists") and self._punct(at + 1, "{"):
                pieces.append(self._slice(run, at + 1))
                text, after = self.group(at + 1, replace(context, attached=True))
                pieces.append(text)
                run = at = after
                continue
            if self._word(at, "graph") or self._punct(at, "{"):
                raise _Unreadable(self.tokens[at].start)
            at += 1
        pieces.append(self._slice(run, closing + 1))
        return " ".join(pieces), closing + 1

    # -- triples ---------------------------------------------------------------------------

    def triples(self, index: int, context: _Context) -> tuple[str, int]:
        """One `subject property-list` block: as written when nothing is rewritten, else its
        triple patterns with their membership patterns."""
        start = index
        out: list[str] = []
        subject, index, listed = self.node(index, context, out)
        if self._verb_start(index) or not listed:
            index = self.property_list(subject, index, context, out)
        if context.member is None:
            return self._slice(start, index) + " .", index
        return " ".join(out), index

    def property_list(self, subject: str, index: int, context: _Context,
                      out: list[str]) -> int:
        """`verb objects (; verb objects)*` about `subject`."""
        while True:
            if self._kind(index) == VAR:
                verb: _Path = ("link", self.tokens[index].text)
                index += 1
            else:
                verb, index = self.path(index)
            while True:
                value, index, _ = self.node(index, context, out)
                if context.member is not None:
                    self._triple(subject, verb, value, context, out)
                if not self._punct(index, ","):
                    break
                index += 1
            if not self._punct(index, ";"):
                return index
            while self._punct(index, ";"):
                index += 1
            if not self._verb_start(index):
                return index

    def node(self, index: int, context: _Context, out: list[str]) -> tuple[str, int, bool]:
        """A subject or object: its text (a fresh variable for a blank node when rewriting),
        the index after, and whether it was a `[ ... ]` with properties."""
        token = self._token(index)
        rewriting = context.member is not None
        if token.kind in (VAR, IRI, PNAME, NUMBER):
            return token.text, index + 1, False
        if token.kind == BNODE:
            if not rewriting:
                return token.text, index + 1, False
            if token.text not in self.blank:
                self.blank[token.text] = self._fresh()
            return self.blank[token.text], index + 1, False
        if token.kind == STRING:
            if self._kind(index + 1) == LANGTAG:
                return self._slice(index, index + 2), index + 2, False
            if self._punct(index + 1, "^^") and self._kind(index + 2) in _NAMES:
                return self._slice(index, index + 3), index + 3, False
            return token.text, index + 1, False
        if token.kind == WORD and token.keyword in ("true", "false"):
            return token.text, index + 1, False
        if token.kind == PUNCT and token.text in ("+", "-") and self._kind(index + 1) == NUMBER:
            return self._slice(index, index + 2), index + 2, False
        if self._punct(index, "[") and self._punct(index + 1, "]"):
            return (self._fresh() if rewriting else "[]"), index + 2, False
        if self._punct(index, "["):
            variable = self._fresh() if rewriting else ""
            after = self.property_list(variable, index + 1, context, out)
            if not self._punct(after, "]"):
                raise _Unreadable(self._position(after))
            return (variable if rewriting else self._slice(index, after + 1)), after + 1, True
        if self._punct(index, "(") and self._punct(index + 1, ")"):
            return "()", index + 2, False
        if self._punct(index, "("):
            if rewriting:
                raise GraphRewriteRefused("an RDF collection in a pattern over a version stored "
                                          "once is refused")
            at = index + 1
            while not self._punct(at, ")"):
                _, at, _ = self.node(at, context, out)
            return self._slice(index, at + 1), at + 1, True
        if self._punct(index, "<") and rewriting:
            raise GraphRewriteRefused("a triple term in a pattern over a version stored once "
                                      "is refused")
        raise _Unreadable(token.start)

    def path(self, index: int) -> tuple[_Path, int]:
        """A property path (alternatives of sequences of `^`-able, modified primaries)."""
        options = []
        while True:
            steps = []
            while True:
                inverse = self._punct(index, "^")
                if inverse:
                    index += 1
                element, index = self._path_primary(index)
                if self._kind(index) == PUNCT and self.tokens[index].text in ("*", "+", "?"):
                    element = ("mod", element, self.tokens[index].text)
                    index += 1
                steps.append(("inv", element) if inverse else element)
                if not self._punct(index, "/"):
                    break
                index += 1
            options.append(steps[0] if len(steps) == 1 else ("seq", steps))
            if not self._punct(index, "|"):
                break
            index += 1
        return (options[0] if len(options) == 1 else ("alt", options)), index

    def _path_primary(self, index: int) -> tuple[_Path, int]:
        token = self._token(index)
        if token.kind in _NAMES or (token.kind == WORD and token.text == "a"):
            return ("link", token.text), index + 1
        if self._punct(index, "("):
            inner, index = self.path(index + 1)
            if not self._punct(index, ")"):
                raise _Unreadable(self._position(index))
            return inner, index + 1
        if self._punct(index, "!"):
            if self._punct(index + 1, "("):
                closing = self.match.get(index + 1)
                if closing is None:
                    raise _Unreadable(token.start)
                return ("neg", self._slice(index, closing + 1)), closing + 1
            end = index + 2 if self._punct(index + 1, "^") else index + 1
            return ("neg", self._slice(index, end + 1)), end + 1
        raise _Unreadable(token.start)

    def _triple(self, subject: str, verb: _Path, value: str, context: _Context,
                out: list[str]) -> None:
        """The patterns of `subject verb value` inside a rewritten group."""
        kind = verb[0]
        if kind == "link":
            out.append(f"{subject} {verb[1]} {value} .")
            assert context.member is not None
            if context.member.startswith("<"):
                membership = self._member(subject, context.member)
                if membership not in out:
                    out.append(membership)
            elif not any(text.startswith(f"BIND({entity(subject)} AS ") for text in out):
                holder = self._fresh()  # binds ?g: the version describing the entity
                out.append(f"BIND({entity(subject)} AS {holder}) GRAPH <{self.members}> "
                           f"{{ {holder} <{DESCRIBED_IN}> {context.member} }} .")
        elif kind == "inv":
            self._triple(value, verb[1], subject, context, out)
        elif kind == "seq":
            ends = [subject] + [self._fresh() for _ in verb[1][1:]] + [value]
            for number, step in enumerate(verb[1]):
                self._triple(ends[number], step, ends[number + 1], context, out)
        elif kind == "alt":
            branches = []
            for option in verb[1]:
                inner: list[str] = []
                self._triple(subject, option, value, context, inner)
                branches.append("{ " + " ".join(inner) + " }")
            names = [end for end in (subject, value) if end.startswith(("?", "$"))]
            if context.graph_var is not None and context.mark:
                names.append("?" + context.graph_var)
            selected = " ".join(dict.fromkeys(names)) or f"(1 AS {self._fresh()})"
            mark = self._mark(context) + " " if context.mark else ""
            out.append(f"{{ SELECT DISTINCT {selected} WHERE {{ {mark}"
                       f"{' UNION '.join(branches)} }} }}")
        elif kind == "mod":
            raise GraphRewriteRefused(f"a property path with {verb[2]} over a version stored "
                                      "once is refused; write its steps as triple patterns")
        else:
            raise GraphRewriteRefused("a negated property set over a version stored once is "
                                      "refused")

    # -- helpers ---------------------------------------------------------------------------

    def _mark(self, context: _Context) -> str:
        """What binds ?g to the versions stored once in each group of `GRAPH ?g`'s second
        branch: the mark, or the versions listed as the dataset's named graphs."""
        if self.listed is not None:
            return (f"VALUES ?{context.graph_var} {{ "
                    + " ".join(f"<{iri}>" for iri in sorted(self.listed)) + " }")
        return f"GRAPH <{self.members}> {{ ?{context.graph_var} a <{STORED_ONCE}> }} ."

    def _member(self, subject: str, version: str) -> str:
        """The filter requiring `subject` to be a node of `version` (`<v>`), stored once."""
        return described_in(subject, version, self.members, f"?{self.fresh_prefix}e")

    def _fresh(self) -> str:
        self.counter += 1
        return f"?{self.fresh_prefix}{self.counter}"

    def _variables(self, start: int, end: int) -> list[str]:
        """The names of the query's own variables between two token indexes, in order."""
        names = dict.fromkeys(token.text[1:] for token in self.tokens[start:end]
                              if token.kind == VAR)
        return list(names)

    def _has_aggregate(self, start: int, end: int) -> bool:
        return any(self.tokens[at].kind == WORD and self.tokens[at].keyword in _AGGREGATES
                   and self._punct(at + 1, "(") for at in range(start, end))

    def _verb_start(self, index: int) -> bool:
        kind = self._kind(index)
        return kind in (VAR, IRI, PNAME) or (kind == WORD and self.tokens[index].text == "a") \
            or (kind == PUNCT and self.tokens[index].text in ("^", "(", "!"))

    def _service_end(self, index: int) -> int:
        at = index + 1
        while at < len(self.tokens) and not self._punct(at, "{"):
            at += 1
        closing = self.match.get(at)
        if closing is None:
            raise _Unreadable(self._position(at))
        return closing + 1

    def _values_end(self, index: int) -> int:
        return self._service_end(index)  # the data block is the first group after the keyword

    def _prologue_end(self) -> int:
        index = 0
        while True:
            if self._word(index, "base") and self._kind(index + 1) == IRI:
                index += 2
            elif self._word(index, "prefix") and self._kind(index + 1) == PNAME \
                    and self._kind(index + 2) == IRI:
                index += 3
            else:
                return index

    def _inside_edit(self, position: int) -> bool:
        return any(edit.start <= position < edit.end for edit in self.edits)

    def _edit(self, start: int, end: int, text: str, fresh: bool = False) -> None:
        """Replace tokens [start, end) by `text`."""
        last = self.tokens[end - 1]
        self.edits.append(_Edit(self.tokens[start].start, last.start + len(last.text),
                                text, fresh))

    def _slice(self, start: int, end: int) -> str:
        """The query's text of tokens [start, end), spaces and comments between them kept."""
        last = self.tokens[end - 1]
        return self.query[self.tokens[start].start:last.start + len(last.text)]

    def _token(self, index: int) -> Token:
        if index >= len(self.tokens):
            raise _Unreadable(len(self.query))
        return self.tokens[index]

    def _kind(self, index: int) -> str | None:
        return self.tokens[index].kind if index < len(self.tokens) else None

    def _word(self, index: int, keyword: str) -> bool:
        return index < len(self.tokens) and self.tokens[index].kind == WORD \
            and self.tokens[index].keyword == keyword

    def _punct(self, index: int, text: str) -> bool:
        return index < len(self.tokens) and self.tokens[index].kind == PUNCT \
            and self.tokens[index].text == text

    def _position(self, index: int) -> int:
        return self.tokens[index].start if index < len(self.tokens) else len(self.query)


def _matching(tokens: list[Token]) -> dict[int, int]:
    """Index of each `{` and `(` → index of its closing `}` / `)`, and back."""
    found: dict[int, int] = {}
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.kind != PUNCT:
            continue
        if token.text in ("{", "("):
            stack.append(index)
        elif token.text in ("}", ")") and stack:
            opening = stack.pop()
            found[opening] = index
    return found
