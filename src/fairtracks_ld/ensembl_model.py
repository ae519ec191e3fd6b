"""What an Ensembl-style track is, read from `standard/ensembl/` (the second input model).

`ensembl_track.schema.json` is the single source of truth of the model, as the FAIRtracks
schemas are for FAIRtracks: the context, the vocabulary additions, the mapping, the shapes and the
validation pointers are all driven by the property table built here. `species.tsv` and
`assemblies.tsv` are the offline facts that link a track to the NCBITaxon and assembly IRIs a
FAIRtracks document would use.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fairtracks_ld.paths import data_dir

SCHEMA_FILE = "ensembl_track.schema.json"
KNOWN_VALUES = "x-known-values"  # values the draft enumerates; others are allowed (a warning)


@dataclass(frozen=True)
class Condition:
    """`location_type` is `value` → `required` keys must be present (an allOf if/then)."""

    key: str
    value: str
    required: tuple[str, ...]
    rule: str  # schema pointer of the `then/required`


@dataclass(frozen=True)
class EnsemblProp:
    """One key of the model: where it sits, its JSON type and the rules the schema gives it."""

    key: str
    parent: str  # "" for top-level keys, else the object key (genome, release, location)
    json_type: str  # string | boolean | integer | array | object
    title: str
    description: str
    required: bool
    rule: str  # schema pointer of the property, e.g. "#/properties/genome/properties/genome_strain"
    required_rule: str | None = None
    enum: tuple[str, ...] = ()
    known_values: tuple[str, ...] = ()
    pattern: str | None = None
    format: str | None = None
    conditions: list[Condition] = field(default_factory=list)  # objects only

    @property
    def pointer(self) -> str:
        """The JSON Pointer of the key in a document (keys need no escaping)."""
        return f"/{self.parent}/{self.key}" if self.parent else f"/{self.key}"


@cache
def schema() -> dict[str, Any]:
    """The model's JSON Schema."""
    return json.loads((model_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))


def model_dir() -> Path:
    return data_dir("standard") / "ensembl"


def example_documents() -> dict[str, Path]:
    """The shipped example tracks, by location type."""
    folder = model_dir() / "examples"
    return {"mysql": folder / "gencode-m24.mysql.json",
            "uri": folder / "constrained-elements.uri.json"}


def _props(node: dict[str, Any], parent: str, pointer: str) -> list[EnsemblProp]:
    found = []
    required = node.get("required", [])
    for key, child in node["properties"].items():
        rule = f"{pointer}/properties/{key}"
        conditions = [
            Condition(_only(entry["if"]["properties"]), _const(entry["if"]),
                      tuple(entry["then"]["required"]), f"{pointer}/properties/{key}/allOf/"
                      f"{index}/then/required")
            for index, entry in enumerate(child.get("allOf", []))
        ]
        found.append(EnsemblProp(
            key=key, parent=parent, json_type=child["type"], title=child["title"],
            description=child["description"], required=key in required, rule=rule,
            required_rule=f"{pointer}/required/{required.index(key)}" if key in required else None,
            enum=tuple(child.get("enum", ())), known_values=tuple(child.get(KNOWN_VALUES, ())),
            pattern=child.get("pattern"), format=child.get("format"), conditions=conditions,
        ))
        if child["type"] == "object":
            found += _props(child, key, rule)
    return found


def _only(properties: dict[str, Any]) -> str:
    (key,) = properties
    return key


def _const(condition: dict[str, Any]) -> str:
    (test,) = condition["properties"].values()
    return test["const"]


@cache
def properties() -> tuple[EnsemblProp, ...]:
    """Every key of the model, objects before their members, in schema order."""
    return tuple(_props(schema(), "", "#"))


def prop(parent: str, key: str) -> EnsemblProp | None:
    """The model's key `key` inside the object `parent` ("" = top level), if it is one."""
    return _by_place().get((parent, key))


@cache
def _by_place() -> dict[tuple[str, str], EnsemblProp]:
    return {(p.parent, p.key): p for p in properties()}


# ---- offline facts: species and assemblies -----------------------------------------------------


@dataclass(frozen=True)
class Species:
    production_name: str
    taxon_id: str
    scientific_name: str

    @property
    def curie(self) -> str:
        return f"ncbitaxon:{self.taxon_id}"


@dataclass(frozen=True)
class Assembly:
    name: str
    assembly_id: str  # a CURIE as FAIRtracks documents write it
    species: str


def _table(name: str) -> list[dict[str, str]]:
    path = model_dir() / name
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


@cache
def _species() -> dict[str, Species]:
    return {row["production_name"]: Species(row["production_name"], row["taxon_id"],
                                            row["scientific_name"])
            for row in _table("species.tsv")}


@cache
def _assemblies() -> dict[str, Assembly]:
    return {row["assembly_name"]: Assembly(row["assembly_name"], row["assembly_id"],
                                           row["species"])
            for row in _table("assemblies.tsv")}


def species(production_name: str) -> Species | None:
    """The species an Ensembl production name names: an exact entry, else the longest entry the
    name starts with at a `_` boundary (strains such as mus_musculus_129s1svimj)."""
    table = _species()
    parts = production_name.split("_")
    for end in range(len(parts), 1, -1):
        found = table.get("_".join(parts[:end]))
        if found is not None:
            return found
    return None


def scientific_name(taxon_id: str) -> str | None:
    """The NCBI Taxonomy scientific name of a taxon id, if the offline table knows it (used to
    fill FAIRtracks `species_name` offline)."""
    return next((s.scientific_name for s in _species().values() if s.taxon_id == taxon_id), None)


def assembly(name: str) -> Assembly | None:
    """The assembly an Ensembl assembly name names, if the offline table knows it."""
    return _assemblies().get(name)
