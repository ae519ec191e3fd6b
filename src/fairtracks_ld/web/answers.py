"""Validation reports in the answer shape of the FAIRtracks validation server.

That server (fairtracks/fairtracks_validator, `python_server/`) answers each document with
`{"file", "validated", "schema_id", "errors": [{"reason", "description"}]}`, reasons such as
`schema_error`, `dup_pk`, `stale_fk`, `schema_unknown`, `no_id` and `fatal`, and descriptions
of the form "Path: /a/b . Message: …". Clients written for it read these answers unchanged.
Each error here also carries the finding's JSON Pointer (`path`), `severity`, `message`,
offending `value`, schema `rules` and a `hint` on how to fix it; warnings (which do not make a
document invalid) come in a separate `warnings` list of the same shape, so that a client
counting `errors` sees violations only. A finding caused by another (a "required" next to a
value of the wrong type, a `*_ref` dangling because the objects it names lack their local_id)
comes under its cause, in `also_causes`, not as an error of its own. `groups` sums the findings
up by rule (what the CLI prints): a rule broken 100,000 times is one group with its count and
its first pointers.
"""

from __future__ import annotations

import re
from typing import Any

from fairtracks_ld.validation import DocumentReport, Finding, findings
from fairtracks_ld.web.uploads import Upload

_SPACES = re.compile(r"\s+")
GROUP_POINTERS = 10  # pointers listed per group


def fatal(description: str, name: str | None = None) -> dict[str, Any]:
    """The answer for input that could not be read as a document at all."""
    answer: dict[str, Any] = {"validated": False,
                              "errors": [{"reason": "fatal", "description": description}]}
    return {"file": name, **answer} if name is not None else answer


def unreadable(upload: Upload) -> dict[str, Any]:
    return fatal(f"Unable to open/parse JSON file: {upload.error}", upload.name)


def answer(report: DocumentReport, document: Any) -> dict[str, Any]:
    """One document's answer: the FAIRtracks validator's fields, then this server's extras."""
    schema_id = document.get("@schema") if isinstance(document, dict) else None
    result: dict[str, Any] = {
        "file": report.source,
        "validated": report.valid,
        "errors": [error(f) for f in report.findings if f.severity == "Violation"],
        "warnings": [error(f) for f in report.findings if f.severity != "Violation"],
        "groups": groups(report),
    }
    if isinstance(schema_id, str):
        result["schema_id"] = schema_id
    if report.variant:
        result["variant"] = report.variant
    return result


def error(finding: Finding) -> dict[str, Any]:
    pointer = finding.pointer or ""
    entry = {
        "reason": reason(finding),
        "description": f"Path: {pointer or '/'} . Message: {finding.message}",
        "path": pointer,
        "severity": finding.severity,
        "message": finding.message,
        "value": finding.value,
        "rules": finding.rules,
        "standard": finding.standard,
    }
    fix = finding.hint or hint(finding)
    if fix:
        entry["hint"] = fix
    if finding.consequences:
        entry["also_causes"] = [error(caused) for caused in finding.consequences]
    return entry


def groups(report: DocumentReport, shown: int = GROUP_POINTERS) -> list[dict[str, Any]]:
    """The findings grouped by rule (`validation.findings.group`), most severe first: per
    group its severity, rule (the SHACL shape), count, message (the first one's; `alike` when
    all say the same), schema rules, hint, first pointers, and how many findings its findings
    cause."""
    by_kind: dict[str, Finding] = {}
    for finding in report.findings:
        by_kind.setdefault(finding.shape or (finding.rules[0] if finding.rules else ""), finding)
    answer = []
    for group in findings.group(report.items()):
        first = by_kind.get(group.kind)
        message = group.items[0].message
        entry: dict[str, Any] = {
            "severity": group.level.capitalize(), "rule": group.kind, "count": group.count,
            "message": message, "alike": all(i.message == message for i in group.items),
            "rules": first.rules if first is not None else [],
            "pointers": [item.pointer for item in group.items[:shown]],
            "also_causes": sum(len(item.causes) for item in group.items),
        }
        fix = first is not None and (first.hint or hint(first))
        if fix:
            entry["hint"] = fix
        answer.append(entry)
    return answer


def reason(finding: Finding) -> str:
    """The FAIRtracks validator's reason code for a finding."""
    if finding.rules == ["json"]:
        return "fatal"
    if finding.rules == ["mapping"]:
        if finding.pointer == "/@schema" and "@schema None" in finding.message:
            return "no_id"
        if finding.pointer == "/@schema" or "does not support" in finding.message:
            return "schema_unknown"  # another version of the standard, or a single object
        return "fatal"
    shape = finding.shape or ""
    if shape.endswith("-unique"):
        return "dup_pk"
    if shape.endswith("-reference"):
        return "stale_fk"
    return "schema_error"


def _key(finding: Finding) -> str:
    """The JSON key a finding is about (the last token of its pointer that is not an index)."""
    tokens = [t for t in (finding.pointer or "").split("/") if t and not t.isdigit()]
    return tokens[-1].replace("~1", "/").replace("~0", "~") if tokens else "the document"


def hint(finding: Finding) -> str | None:
    """How to fix a finding, from the kind of rule it breaks (None when the message says it)."""
    shape = (finding.shape or "").rsplit("#", 1)[-1]
    kind = shape.rsplit("-", 1)[-1] if "-" in shape else ""
    key = _key(finding)
    value = finding.value
    if kind == "pattern" and isinstance(value, str) and _SPACES.search(value):
        return f"remove the spaces: {_SPACES.sub('', value)!r}"
    if reason(finding) in ("schema_unknown", "no_id"):
        return ("send a whole FAIRtracks v1 document: '@schema' names the v1 top-level schema "
                "and 'doc_info' holds the document's details (see /validate/api for the "
                "supported versions)")
    return {
        "minCount": f"add '{key}' here: the schema requires it",
        "maxCount": f"give '{key}' a single value of the type the schema asks for",
        "datatype": f"write '{key}' with the JSON type the schema rule asks for",
        "nodeKind": f"write '{key}' with the JSON type the schema rule asks for",
        "pattern": f"make '{key}' match the pattern of the schema rule",
        "in": f"use one of the values the schema rule lists for '{key}'",
        "hasValue": f"use the value the schema rule fixes for '{key}'",
        "maxLength": f"shorten '{key}'",
        "unique": "give each object of this kind its own local_id",
        "reference": "refer to the local_id of an object in this document (or in a published "
                     "collection)",
        "defined": "use a term of the ontology the schema rule names (its term_id IRI)",
        "ancestors": "use a term that descends from the class the schema rule names",
        "obsolete": "use the term that replaces this obsolete one",
        "offline": "nothing to fix if the term is right: the server lacks the full ontology "
                   "to decide",
    }.get(kind)
