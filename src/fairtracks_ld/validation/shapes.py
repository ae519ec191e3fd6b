"""A SHACL shapes graph read into shapes, targets, paths and constraints.

Only what the engine can compile is accepted: an unsupported constraint component raises
`UnsupportedShape` rather than being skipped, so a shape can never be silently ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from itertools import product
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from fairtracks_ld.paths import data_dir
from fairtracks_ld.validation.vocab import RDF, RDFS, SH

Term = ox.NamedNode | ox.BlankNode | ox.Literal
RDF_TYPE = RDF + "type"
RDF_FIRST, RDF_REST, RDF_NIL = RDF + "first", RDF + "rest", RDF + "nil"
OWL_IMPORTS = "http://www.w3.org/2002/07/owl#imports"

# parameter → constraint component (local names under sh:)
COMPONENTS = {
    "class": "ClassConstraintComponent",
    "datatype": "DatatypeConstraintComponent",
    "nodeKind": "NodeKindConstraintComponent",
    "minCount": "MinCountConstraintComponent",
    "maxCount": "MaxCountConstraintComponent",
    "minLength": "MinLengthConstraintComponent",
    "maxLength": "MaxLengthConstraintComponent",
    "pattern": "PatternConstraintComponent",
    "in": "InConstraintComponent",
    "hasValue": "HasValueConstraintComponent",
    "node": "NodeConstraintComponent",
    "not": "NotConstraintComponent",
    "and": "AndConstraintComponent",
    "or": "OrConstraintComponent",
    "xone": "XoneConstraintComponent",
    "sparql": "SPARQLConstraintComponent",
    "minInclusive": "MinInclusiveConstraintComponent",
    "maxInclusive": "MaxInclusiveConstraintComponent",
    "minExclusive": "MinExclusiveConstraintComponent",
    "maxExclusive": "MaxExclusiveConstraintComponent",
    "languageIn": "LanguageInConstraintComponent",
    "equals": "EqualsConstraintComponent",
    "disjoint": "DisjointConstraintComponent",
    "lessThan": "LessThanConstraintComponent",
    "lessThanOrEquals": "LessThanOrEqualsConstraintComponent",
    "uniqueLang": "UniqueLangConstraintComponent",
    "closed": "ClosedConstraintComponent",
    "qualifiedValueShape": "",  # QualifiedMin/MaxCountConstraintComponent, by its counts
}
# sh: terms a shape may carry besides the component parameters (targets, paths, reports,
# non-validating annotations and the parameters read with another one)
_OTHER = {"path", "severity", "message", "deactivated", "property", "targetClass", "targetNode",
          "targetSubjectsOf", "targetObjectsOf", "target", "name", "description", "order",
          "group", "defaultValue", "flags", "ignoredProperties", "qualifiedMinCount",
          "qualifiedMaxCount", "qualifiedValueShapesDisjoint", "declare", "prefixes"}
_PROPERTY_ONLY = {"lessThan", "lessThanOrEquals", "uniqueLang", "qualifiedValueShape",
                  "minCount", "maxCount"}
_LIST_PARAMS = ("in", "and", "or", "xone", "languageIn")
_SHAPE_PARAMS = ("node", "not")


class UnsupportedShape(ValueError):
    """The shapes graph uses SHACL the engine does not implement."""


@dataclass(frozen=True)
class PropertyPath:
    """A SHACL property path: an IRI, or an operator over sub-paths."""

    kind: str  # iri | inverse | sequence | alternative | zeroOrMore | oneOrMore | zeroOrOne
    iri: str | None = None
    items: tuple[PropertyPath, ...] = ()

    def sparql(self) -> str:
        if self.kind == "iri":
            return f"<{self.iri}>"
        if self.kind == "sequence":
            return "(" + "/".join(p.sparql() for p in self.items) + ")"
        if self.kind == "alternative":
            return "(" + "|".join(p.sparql() for p in self.items) + ")"
        inner = self.items[0].sparql()
        return {"inverse": f"^{inner}", "zeroOrMore": f"({inner})*",
                "oneOrMore": f"({inner})+", "zeroOrOne": f"({inner})?"}[self.kind]


@dataclass
class Constraint:
    """One constraint: a component and its parameter values."""

    component: str  # full IRI
    params: dict[str, Any]
    node: Term  # the shape, or the sh:sparql constraint node


@dataclass
class Validator:
    """A SPARQL-based validator of a constraint component (sh:ask or sh:select)."""

    node: Term
    ask: bool
    text: str
    messages: list[str]
    prefixes: dict[str, str]


@dataclass
class Component:
    """A SPARQL-based constraint component declared in the shapes graph."""

    node: ox.NamedNode
    parameters: list[tuple[str, str, bool]]  # (variable name, predicate, optional)
    validators: dict[str, Validator]  # "any" | "node" | "property"


@dataclass
class Target:
    kind: str  # class | node | subjectsOf | objectsOf | sparql
    value: Term | str  # the node, or the SELECT of a SPARQL-based target
    prefixes: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class Shape:
    node: Term
    path: PropertyPath | None
    severity: str = SH + "Violation"
    messages: list[str] = field(default_factory=list)
    deactivated: bool = False
    targets: list[Target] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    properties: list[Shape] = field(default_factory=list)


class ShapesGraph:
    """Shapes read from Turtle; `shapes` are those with targets (validation starts there)."""

    def __init__(self, triples: Iterable[ox.Triple | ox.Quad]) -> None:
        self.index: dict[Term, dict[str, list[Term]]] = defaultdict(lambda: defaultdict(list))
        self.triples: list[ox.Triple] = []
        seen: set[ox.Triple] = set()
        for quad in triples:
            triple = ox.Triple(quad.subject, quad.predicate, quad.object)
            if triple in seen:  # files may repeat a shape's target (one shape, several files)
                continue
            seen.add(triple)
            self.index[triple.subject][triple.predicate.value].append(triple.object)
            self.triples.append(triple)
        self._shapes: dict[Term, Shape] = {}
        self.prefixes: dict[str, str] = self._declared_prefixes()
        self.components = self._components()
        self.shapes = [self.shape(node) for node in self._targeted()]

    # -- reading ------------------------------------------------------------------------------

    def values(self, node: Term, predicate: str) -> list[Term]:
        return self.index.get(node, {}).get(predicate, [])

    def value(self, node: Term, predicate: str) -> Term | None:
        found = self.values(node, predicate)
        return found[0] if found else None

    def rdf_list(self, node: Term) -> list[Term]:
        items = []
        while not (isinstance(node, ox.NamedNode) and node.value == RDF_NIL):
            first = self.value(node, RDF_FIRST)
            rest = self.value(node, RDF_REST)
            if first is None or rest is None:
                raise UnsupportedShape(f"malformed RDF list at {node}")
            items.append(first)
            node = rest
        return items

    def _declared_prefixes(self) -> dict[str, str]:
        found = {}
        for declarations in self.index.values():
            for declaration in declarations.get(SH + "declare", []):
                prefix = self.value(declaration, SH + "prefix")
                namespace = self.value(declaration, SH + "namespace")
                if prefix is not None and namespace is not None:
                    found[prefix.value] = namespace.value
        return found

    def _targeted(self) -> list[Term]:
        target_predicates = [SH + p for p in ("targetClass", "targetNode", "targetSubjectsOf",
                                              "targetObjectsOf", "target")]
        found = []
        for subject, predicates in self.index.items():
            is_class = any(t.value == RDFS + "Class" for t in predicates.get(RDF_TYPE, []))
            if is_class or any(p in predicates for p in target_predicates):
                found.append(subject)
        return sorted(found, key=str)

    # -- shapes -------------------------------------------------------------------------------

    def shape(self, node: Term) -> Shape:
        """The shape at a node (memoised: shapes may be shared and nested)."""
        if node in self._shapes:
            return self._shapes[node]
        path_node = self.value(node, SH + "path")
        shape = Shape(node, self.path(path_node) if path_node is not None else None)
        self._shapes[node] = shape
        severity = self.value(node, SH + "severity")
        if severity is not None:
            shape.severity = severity.value
        shape.messages = [m.value for m in self.values(node, SH + "message")]
        deactivated = self.value(node, SH + "deactivated")
        shape.deactivated = deactivated is not None and deactivated.value == "true"
        shape.targets = self._targets(node)
        for predicate in self.index.get(node, {}):
            name = predicate[len(SH):]
            if name == "select" and self._is_sparql_constraint(node):
                continue
            if predicate.startswith(SH) and name not in COMPONENTS and name not in _OTHER:
                raise UnsupportedShape(f"{node}: sh:{name} is not supported")
        for parameter, component in COMPONENTS.items():
            for value in self.values(node, SH + parameter):
                if parameter in _PROPERTY_ONLY and shape.path is None:
                    raise UnsupportedShape(f"{node}: sh:{parameter} needs a property shape "
                                           "(sh:path)")
                shape.constraints += self._constraints(node, parameter, component, value)
        for component in self.components:
            shape.constraints += self._component_constraints(node, shape, component)
        shape.properties = [self.shape(p) for p in self.values(node, SH + "property")]
        for constraint in shape.constraints:
            if constraint.component == SH + "ClosedConstraintComponent":
                if shape.path is not None:
                    raise UnsupportedShape(f"{node}: sh:closed on a property shape")
                constraint.params["allowed"] = sorted(
                    {p.path.iri for p in shape.properties
                     if p.path is not None and p.path.kind == "iri"}
                    | {i.value for i in constraint.params["ignored"]})
        return shape

    def _constraints(self, node: Term, parameter: str, component: str, value: Term
                     ) -> list[Constraint]:
        """The constraints one parameter value makes (none for `sh:uniqueLang false`)."""
        if parameter in ("uniqueLang", "closed"):
            if not (isinstance(value, ox.Literal) and value.value == "true"):
                return []
            params: dict[str, Any] = {parameter: True}
            if parameter == "closed":
                ignored = self.value(node, SH + "ignoredProperties")
                params["ignored"] = self.rdf_list(ignored) if ignored is not None else []
            return [Constraint(SH + component, params, node)]
        if parameter == "qualifiedValueShape":
            disjoint = self.value(node, SH + "qualifiedValueShapesDisjoint")
            made = []
            for bound in ("qualifiedMinCount", "qualifiedMaxCount"):
                limit = self.value(node, SH + bound)
                if limit is None:
                    continue
                made.append(Constraint(
                    f"{SH}Q{bound[1:]}ConstraintComponent",
                    {"shape": self.shape(value), "limit": int(limit.value), "max": "Max" in bound,
                     "disjoint": disjoint is not None and disjoint.value == "true",
                     "qualified": value}, node))
            return made
        constraint = self._constraint(node, parameter, component, value)
        return [constraint] if constraint else []

    def _components(self) -> list[Component]:
        kinds = {SH + "ConstraintComponent"}  # and its subclasses in the shapes graph
        while True:
            more = {str(s.value) for s, predicates in self.index.items()
                    if any(c.value in kinds for c in predicates.get(RDFS + "subClassOf", []))}
            if more <= kinds:
                break
            kinds |= more
        found = []
        for node, predicates in self.index.items():
            if not any(t.value in kinds for t in predicates.get(RDF_TYPE, [])):
                continue
            parameters = []
            for parameter in predicates.get(SH + "parameter", []):
                path = self.value(parameter, SH + "path")
                if not isinstance(path, ox.NamedNode):
                    raise UnsupportedShape(f"{node}: a parameter needs an IRI sh:path")
                optional = self.value(parameter, SH + "optional")
                name = path.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
                parameters.append((name, path.value,
                                   optional is not None and optional.value == "true"))
            validators = {}
            for kind, predicate in (("any", "validator"), ("node", "nodeValidator"),
                                    ("property", "propertyValidator")):
                validator = self.value(node, SH + predicate)
                if validator is not None:
                    validators[kind] = self._validator(node, validator)
            found.append(Component(node, parameters, validators))  # type: ignore[arg-type]
        return found

    def _validator(self, component: Term, node: Term) -> Validator:
        ask, select = self.value(node, SH + "ask"), self.value(node, SH + "select")
        if ask is None and select is None:
            raise UnsupportedShape(f"{component}: only SPARQL validators (sh:ask / sh:select) "
                                   "are supported")
        text = (ask or select).value  # type: ignore[union-attr]
        return Validator(node, ask is not None, text,
                         [m.value for m in self.values(node, SH + "message")],
                         self._prefixes_of(node))

    def _component_constraints(self, node: Term, shape: Shape, component: Component
                               ) -> list[Constraint]:
        """A constraint per combination of parameter values, when the shape has every
        mandatory parameter of the component."""
        present = {name: self.values(node, predicate)
                   for name, predicate, _ in component.parameters}
        if not component.parameters or any(
                not present[name] for name, _, optional in component.parameters if not optional):
            return []
        kind = "node" if shape.path is None else "property"
        validator = component.validators.get(kind) or component.validators.get("any")
        if validator is None:
            raise UnsupportedShape(f"{node}: constraint component {component.node} has no "
                                   f"validator for {kind} shapes")
        names = [name for name in present if present[name]]
        made = []
        for values in product(*(present[name] for name in names)):
            made.append(Constraint(component.node.value,
                                   {"validator": validator,
                                    "arguments": dict(zip(names, values, strict=True))}, node))
        return made

    def siblings(self, node: Term, qualified: Term) -> list[Shape]:
        """The sibling shapes of a qualified value shape (SHACL 4.7.3): the other
        sh:qualifiedValueShape of the property shapes of the shapes that have `node` as a
        property."""
        found = []
        for predicates in self.index.values():
            if node not in predicates.get(SH + "property", []):
                continue
            for sibling in predicates[SH + "property"]:
                for other in self.values(sibling, SH + "qualifiedValueShape"):
                    if other != qualified and self.shape(other) not in found:
                        found.append(self.shape(other))
        return found

    def _constraint(self, node: Term, parameter: str, component: str, value: Term
                    ) -> Constraint | None:
        params: dict[str, Any] = {parameter: value}
        if parameter in _LIST_PARAMS:
            items = self.rdf_list(value)
            params[parameter] = items if parameter in ("in", "languageIn") else \
                [self.shape(i) for i in items]
        elif parameter in _SHAPE_PARAMS:
            params[parameter] = self.shape(value)
        elif parameter == "pattern":
            flags = self.value(node, SH + "flags")
            params["flags"] = flags.value if flags is not None else ""
        elif parameter == "sparql":
            select = self.value(value, SH + "select")
            if select is None:
                raise UnsupportedShape(f"{node}: only SPARQL SELECT constraints are supported")
            deactivated = self.value(value, SH + "deactivated")
            if deactivated is not None and deactivated.value == "true":
                return None
            params["select"] = select.value
            params["messages"] = [m.value for m in self.values(value, SH + "message")]
            params["prefixes"] = self._prefixes_of(value)
            return Constraint(SH + component, params, value)
        return Constraint(SH + component, params, node)

    def _is_sparql_constraint(self, node: Term) -> bool:
        """A shape may also be the SPARQL constraint it names (sh:sparql pointing to itself)."""
        return node in self.values(node, SH + "sparql") or any(
            t.value == SH + "SPARQLConstraint" for t in self.values(node, RDF_TYPE))

    def _prefixes_of(self, node: Term) -> dict[str, str]:
        """The sh:declare prefixes of the sh:prefixes nodes and of what they owl:import."""
        found: dict[str, str] = {}
        holders = list(self.values(node, SH + "prefixes"))
        for holder in holders:
            holders += [i for i in self.values(holder, OWL_IMPORTS) if i not in holders]
        for holder in holders:
            for declaration in self.values(holder, SH + "declare"):
                prefix = self.value(declaration, SH + "prefix")
                namespace = self.value(declaration, SH + "namespace")
                if prefix is not None and namespace is not None:
                    found[prefix.value] = namespace.value
        return found

    def _targets(self, node: Term) -> list[Target]:
        targets = [Target("class", v) for v in self.values(node, SH + "targetClass")]
        if any(t.value == RDFS + "Class" for t in self.values(node, RDF_TYPE)):
            targets.append(Target("class", node))
        targets += [Target("node", v) for v in self.values(node, SH + "targetNode")]
        targets += [Target("subjectsOf", v) for v in self.values(node, SH + "targetSubjectsOf")]
        targets += [Target("objectsOf", v) for v in self.values(node, SH + "targetObjectsOf")]
        for target in self.values(node, SH + "target"):
            select = self.value(target, SH + "select")
            if select is None:
                raise UnsupportedShape(f"{node}: only SPARQL-based targets (sh:select)")
            targets.append(Target("sparql", select.value, self._prefixes_of(target)))
        return targets

    def path(self, node: Term) -> PropertyPath:
        if isinstance(node, ox.NamedNode):
            return PropertyPath("iri", node.value)
        if self.value(node, RDF_FIRST) is not None:
            return PropertyPath("sequence", items=tuple(self.path(n) for n in self.rdf_list(node)))
        for kind, predicate in (("inverse", "inversePath"), ("zeroOrMore", "zeroOrMorePath"),
                                ("oneOrMore", "oneOrMorePath"), ("zeroOrOne", "zeroOrOnePath")):
            inner = self.value(node, SH + predicate)
            if inner is not None:
                return PropertyPath(kind, items=(self.path(inner),))
        alternatives = self.value(node, SH + "alternativePath")
        if alternatives is not None:
            return PropertyPath("alternative",
                                items=tuple(self.path(n) for n in self.rdf_list(alternatives)))
        raise UnsupportedShape(f"unsupported property path at {node}")


def shape_files(folder: Path | None = None) -> list[Path]:
    """The Turtle files of a shapes folder (default: the shipped `shapes/`)."""
    return sorted((folder or data_dir("shapes")).glob("*.ttl"))


def load_shapes(sources: Iterable[Path | str] | None = None) -> ShapesGraph:
    """Shapes from Turtle files (default: every file of the shipped `shapes/`)."""
    triples: list[ox.Triple] = []
    for source in sources if sources is not None else shape_files():
        triples.extend(ox.parse(path=str(source), format=ox.RdfFormat.TURTLE))
    return ShapesGraph(triples)


def parse_shapes(turtle: str) -> ShapesGraph:
    """Shapes from Turtle text."""
    return ShapesGraph(ox.parse(turtle.encode("utf-8"), format=ox.RdfFormat.TURTLE))


@cache
def default_shapes() -> ShapesGraph:
    """The shipped shapes, read once per process."""
    return load_shapes()
