"""OBO flat-file reader (OBO 1.2/1.4 subset needed for classification and labels).

Hand-written: the subset needed is small, errors must name file and line, and it keeps a
heavier OBO library (pronto, fastobo) out of the dependencies for a dev-time step. It reads:

- `id`, `name`, `def`, `synonym` (scope kept; synonym type and xrefs dropped), OBO 1.0
  `exact_synonym` & co., `is_obsolete`, `replaced_by`, `consider`, `alt_id`,
  `property_value: IAO:0100001 X` (term replaced by) and `IAO:0000115` (definition).
- `is_a` -> is_a; `relationship: part_of X` -> part_of. A relation counts as part_of when its id is
  `part_of`, `BFO:0000050` or a Typedef whose xref is BFO:0000050 (SO's own `part_of` typedef is
  therefore read as BFO:0000050). Other relationships are not kept.
- `intersection_of`: a genus-differentia definition C = G and R some Y entails C is_a G and
  C R some Y, so the genus becomes an is_a parent and a part_of differentia a part_of parent.
- Escapes (`\\n`, `\\t`, `\\W`, `\\"`, `\\!`, `\\:`, ...), trailing `{modifiers}`, `! comments`,
  and backslash line continuations.
- `is_a: ObsoleteClass` and other references that are not CURIEs or IRIs are dropped (counted in
  stats as `unresolved_references`); obsoleteness is carried by owl:deprecated instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .iris import to_iri
from .model import OntologyData, OntologySourceError, Synonym, SynonymScope, Term
from .vocab import OBO

PART_OF_IDS = frozenset({"part_of", "BFO:0000050", "OBO_REL:part_of"})
REPLACED_BY_PROPERTIES = frozenset({"IAO:0100001", "term_replaced_by"})
DEFINITION_PROPERTIES = frozenset({"IAO:0000115"})
TITLE_PROPERTIES = frozenset(
    {
        "dc-title",
        "dcterms-title",
        "http://purl.org/dc/elements/1.1/title",
        "http://purl.org/dc/terms/title",
    }
)
OLD_SYNONYM_TAGS = {
    "exact_synonym": SynonymScope.EXACT,
    "narrow_synonym": SynonymScope.NARROW,
    "broad_synonym": SynonymScope.BROAD,
    "related_synonym": SynonymScope.RELATED,
}
_ESCAPES = {"n": "\n", "t": "\t", "W": " "}
_STANZA = re.compile(r"^\[([^\]]+)\]\s*(?:!.*)?$")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MODIFIER_HINT = "="  # trailing {...} blocks are key=value lists; a bare {x} stays part of a value


@dataclass(frozen=True)
class Clause:
    """One `tag: value` line of a stanza, with the line number it started on."""

    tag: str
    value: str
    line: int


@dataclass
class Stanza:
    kind: str
    clauses: list[Clause]
    line: int

    def values(self, tag: str) -> list[str]:
        return [c.value for c in self.clauses if c.tag == tag]


def read_obo(path: Path) -> OntologyData:
    """Read an OBO file into the term model."""
    with path.open(encoding="utf-8") as handle:
        return parse_obo(handle, path)


def parse_obo(lines: Iterable[str], path: Path) -> OntologyData:
    """Parse OBO text; `path` is used for naming the module and in error messages."""
    header, stanzas = _split_stanzas(lines, path)
    reader = _OboReader(path, header, stanzas)
    return reader.read()


# ---- lexical layer -------------------------------------------------------------------------


def _logical_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Yield (first line number, text), joining lines that end in an unescaped backslash."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        if not pending:
            start = number
        trailing = len(text) - len(text.rstrip("\\"))
        if trailing % 2 == 1:
            pending.append(text[:-1])
            continue
        pending.append(text)
        yield start, "".join(pending)
        pending = []
    if pending:
        yield start, "".join(pending)


def _split_stanzas(lines: Iterable[str], path: Path) -> tuple[list[Clause], list[Stanza]]:
    header: list[Clause] = []
    stanzas: list[Stanza] = []
    current: list[Clause] = header
    for number, text in _logical_lines(lines):
        stripped = text.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if stripped.startswith("["):
            match = _STANZA.match(stripped)
            if not match:
                raise OntologySourceError(path, f"malformed stanza header {stripped!r}", number)
            stanza = Stanza(match.group(1).strip(), [], number)
            stanzas.append(stanza)
            current = stanza.clauses
            continue
        tag, sep, value = text.partition(":")
        tag = tag.strip()
        if not sep or not tag or " " in tag:
            raise OntologySourceError(path, f"expected 'tag: value', got {stripped[:60]!r}", number)
        current.append(Clause(tag, value.strip(), number))
    return header, stanzas


def unescape(text: str) -> str:
    r"""Resolve OBO escapes: \n, \t, \W (space); any other \X stands for X."""
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        out.append(_ESCAPES.get(following, following) if following else "\\")
    return "".join(out)


def strip_trailing(value: str) -> str:
    """Remove a trailing `! comment` and `{modifiers}` outside quotes/brackets; keep escapes."""
    in_quote = False
    depth = 0
    cut = len(value)
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\":
            index += 2
            continue
        if char == '"':
            in_quote = not in_quote
        elif not in_quote and char == "[":
            depth += 1
        elif not in_quote and char == "]" and depth:
            depth -= 1
        elif (
            char == "!" and not in_quote and not depth and (index == 0 or value[index - 1] in " \t")
        ):
            cut = index
            break
        index += 1
    main = value[:cut].rstrip()
    if main.endswith("}"):
        brace = _unescaped_rfind(main, "{")
        if brace > 0 and main[brace - 1] in " \t" and _MODIFIER_HINT in main[brace:]:
            main = main[:brace].rstrip()
    return main


def _unescaped_rfind(text: str, char: str) -> int:
    index = text.rfind(char)
    while index > 0 and _escaped(text, index):
        index = text.rfind(char, 0, index)
    return index


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and text[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def split_quoted(value: str) -> tuple[str, str] | None:
    """Split `"quoted text" rest` into (unescaped text, rest); None if the quote never closes."""
    if not value.startswith('"'):
        return None
    index = 1
    while index < len(value):
        char = value[index]
        if char == "\\":
            index += 2
            continue
        if char == '"':
            return unescape(value[1:index]), value[index + 1 :].strip()
        index += 1
    return None


def _tokens(value: str) -> list[str]:
    """Whitespace-separated tokens of an unquoted value (escaped spaces stay inside a token)."""
    tokens: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            current.append(value[index : index + 2])
            index += 2
            continue
        if char in " \t":
            if current:
                tokens.append(unescape("".join(current)))
                current = []
        else:
            current.append(char)
        index += 1
    if current:
        tokens.append(unescape("".join(current)))
    return tokens


# ---- semantic layer ------------------------------------------------------------------------


class _OboReader:
    """Turns header clauses and stanzas into an OntologyData."""

    def __init__(self, path: Path, header: list[Clause], stanzas: list[Stanza]) -> None:
        self.path = path
        self.header = header
        self.stanzas = stanzas
        self.idspaces = self._idspaces()
        self.part_of_ids = set(PART_OF_IDS) | self._part_of_typedefs()
        self.data = self._empty_ontology()

    def read(self) -> OntologyData:
        for stanza in self.stanzas:
            if stanza.kind == "Term":
                self._read_term(stanza)
            elif stanza.kind not in ("Typedef", "Instance"):
                self.data.count("skipped_stanzas")
        return self.data

    # header ----------------------------------------------------------------------------------

    def _header_value(self, tag: str) -> str | None:
        for clause in self.header:
            if clause.tag == tag:
                return strip_trailing(clause.value)
        return None

    def _idspaces(self) -> dict[str, str]:
        spaces: dict[str, str] = {}
        for clause in self.header:
            if clause.tag == "idspace":
                parts = strip_trailing(clause.value).split()
                if len(parts) < 2:
                    raise OntologySourceError(
                        self.path, "idspace needs a prefix and a base IRI", clause.line
                    )
                spaces[parts[0]] = parts[1]
        return spaces

    def _part_of_typedefs(self) -> set[str]:
        ids: set[str] = set()
        for stanza in self.stanzas:
            if stanza.kind != "Typedef":
                continue
            xrefs = {strip_trailing(v).split()[0] for v in stanza.values("xref") if v.strip()}
            if xrefs & {"BFO:0000050", OBO + "BFO_0000050"}:
                ids.update(strip_trailing(v) for v in stanza.values("id"))
        return ids

    def _title(self) -> str | None:
        for clause in self.header:
            if clause.tag != "property_value":
                continue
            prop, _, rest = strip_trailing(clause.value).partition(" ")
            quoted = split_quoted(rest.strip())
            if prop in TITLE_PROPERTIES and quoted:
                return quoted[0]
        return None

    def _empty_ontology(self) -> OntologyData:
        ontology = self._header_value("ontology") or self.path.name.split(".")[0].lower()
        data_version = self._header_value("data-version")
        version_iri = obo_version_iri(ontology, data_version) if data_version else None
        version = None
        if data_version:
            date = _DATE.search(data_version)
            version = date.group(0) if date else data_version
        return OntologyData(
            key=ontology.split("/")[0].lower(),
            ontology_iri=f"{OBO}{ontology}.owl",
            version_iri=version_iri,
            version=version,
            source_path=self.path,
            source_format="obo",
            title=self._title(),
        )

    # terms -----------------------------------------------------------------------------------

    def _ref(self, value: str) -> str | None:
        iri = to_iri(value, self.idspaces)
        if iri is None:
            self.data.count("unresolved_references")
        return iri

    def _read_term(self, stanza: Stanza) -> None:
        ids = [strip_trailing(v) for v in stanza.values("id")]
        if len(ids) != 1 or not ids[0]:
            raise OntologySourceError(self.path, "[Term] stanza needs exactly one id", stanza.line)
        iri = to_iri(unescape(ids[0]), self.idspaces)
        if iri is None:
            self.data.count("skipped_terms")  # e.g. OBI's helper class `ObsoleteClass`
            return
        term = self.data.term(iri)
        for clause in stanza.clauses:
            handler = _TERM_TAGS.get(clause.tag)
            if handler is not None:
                handler(self, term, clause)
            elif clause.tag in OLD_SYNONYM_TAGS:
                self._synonym(term, clause, OLD_SYNONYM_TAGS[clause.tag])

    def _quoted(self, clause: Clause) -> tuple[str, str]:
        parts = split_quoted(clause.value)
        if parts is None:
            raise OntologySourceError(
                self.path, f"{clause.tag}: expected a closed quoted string", clause.line
            )
        return parts

    def _name(self, term: Term, clause: Clause) -> None:
        term.label = unescape(strip_trailing(clause.value))

    def _def(self, term: Term, clause: Clause) -> None:
        term.definition = self._quoted(clause)[0]

    def _synonym(self, term: Term, clause: Clause, scope: SynonymScope | None = None) -> None:
        text, rest = self._quoted(clause)
        if scope is None:
            words = rest.split()
            scope = SynonymScope.RELATED  # OBO 1.2 default when no scope is given
            if words and words[0] in SynonymScope.__members__:
                scope = SynonymScope[words[0]]
        term.add_synonym(Synonym(text, scope))

    def _obsolete(self, term: Term, clause: Clause) -> None:
        flag = strip_trailing(clause.value).lower()
        if flag not in ("true", "false"):
            raise OntologySourceError(
                self.path, f"is_obsolete must be true or false, got {flag!r}", clause.line
            )
        term.obsolete = flag == "true"

    def _first_ref(self, clause: Clause) -> str | None:
        tokens = _tokens(strip_trailing(clause.value))
        if not tokens:
            raise OntologySourceError(self.path, f"{clause.tag}: missing value", clause.line)
        return self._ref(tokens[0])

    def _alt_id(self, term: Term, clause: Clause) -> None:
        alt = unescape(strip_trailing(clause.value))
        if alt and alt not in term.alt_ids:
            term.alt_ids.append(alt)

    def _relationship(self, term: Term, clause: Clause) -> None:
        tokens = _tokens(strip_trailing(clause.value))
        if len(tokens) < 2:
            raise OntologySourceError(
                self.path, "relationship needs a relation and a target", clause.line
            )
        if tokens[0] in self.part_of_ids:
            iri = self._ref(tokens[1])
            if iri is not None:
                term.add("part_of", iri)

    def _intersection_of(self, term: Term, clause: Clause) -> None:
        tokens = _tokens(strip_trailing(clause.value))
        if len(tokens) == 1:
            iri = self._ref(tokens[0])
            if iri is not None:
                term.add("is_a", iri)
        elif len(tokens) >= 2 and tokens[0] in self.part_of_ids:
            iri = self._ref(tokens[1])
            if iri is not None:
                term.add("part_of", iri)
        elif not tokens:
            raise OntologySourceError(self.path, "intersection_of: missing value", clause.line)

    def _property_value(self, term: Term, clause: Clause) -> None:
        prop, _, rest = strip_trailing(clause.value).partition(" ")
        rest = rest.strip()
        if prop in REPLACED_BY_PROPERTIES and rest:
            iri = self._ref(_tokens(rest)[0].strip('"'))
            if iri is not None:
                term.add("replaced_by", iri)
        elif prop in DEFINITION_PROPERTIES and term.definition is None:
            quoted = split_quoted(rest)
            if quoted:
                term.definition = quoted[0]


def _ref_handler(attribute: str) -> Callable[[_OboReader, Term, Clause], None]:
    """A clause handler that adds the clause's first reference to a Term list attribute."""

    def handler(reader: _OboReader, term: Term, clause: Clause) -> None:
        iri = reader._first_ref(clause)
        if iri is not None:
            term.add(attribute, iri)

    return handler


def obo_version_iri(ontology: str, data_version: str) -> str:
    """OBO -> OWL version IRI rule (as the OWL API applies it).

    `cl/releases/2022-12-15/cl-basic.owl` is already a path below the PURL root; a plain
    `2024-11-18` becomes http://purl.obolibrary.org/obo/so/2024-11-18/so.owl.
    """
    if data_version.startswith(("http://", "https://")):
        return data_version
    if data_version.endswith(".owl"):
        return OBO + data_version.lstrip("/")
    return f"{OBO}{ontology}/{data_version.strip('/')}/{ontology.split('/')[-1]}.owl"


_TERM_TAGS = {
    "name": _OboReader._name,
    "def": _OboReader._def,
    "synonym": _OboReader._synonym,
    "is_obsolete": _OboReader._obsolete,
    "is_a": _ref_handler("is_a"),
    "replaced_by": _ref_handler("replaced_by"),
    "consider": _ref_handler("consider"),
    "alt_id": _OboReader._alt_id,
    "relationship": _OboReader._relationship,
    "intersection_of": _OboReader._intersection_of,
    "property_value": _OboReader._property_value,
}
