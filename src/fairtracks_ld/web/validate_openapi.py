"""The OpenAPI 3.1 description of the validation service (`/validate`)."""

from __future__ import annotations

from typing import Any

from fairtracks_ld import __version__
from fairtracks_ld.web.uploads import Limits

SUPPORTED = (
    "Supported: FAIRtracks v1 documents (top-level `@schema` "
    "`https://raw.githubusercontent.com/fairtracks/fairtracks_standard/v1/current/json/schema/"
    "fairtracks.schema.json`), in both variants of the v1 schemas, the released `v1-current` and "
    "the `master` branch; and single Ensembl-style tracks. Not supported: the newer draft of the "
    "standard (a `document` block in place of `doc_info`, per-object schemas); such documents "
    "are answered with an error that says so."
)

DESCRIPTION = (
    "Validates FAIRtracks documents against the standard's rules, compiled to SHACL, with the "
    "server's current data as context (ontologies, published collections for cross-document "
    "references and unique ids). Nothing sent is stored.\n\n"
    "API-compatible with the FAIRtracks validation server (fairtracks/fairtracks_validator): "
    "same routes and request bodies, same answer per document (`file`, `validated`, "
    "`schema_id`, `errors` with `reason` and `description`). Each error also has its JSON "
    "Pointer (`path`), `severity`, `message`, `value`, schema `rules` and a `hint`; warnings "
    "come separately in `warnings`; a finding caused by another comes under it "
    "(`also_causes`); `groups` sums the findings up by rule, with counts and first pointers. "
    "Send `Accept: text/turtle` or `application/ld+json` for the "
    "W3C `sh:ValidationReport` instead.\n\n" + SUPPORTED
)

ERROR = {"type": "object", "required": ["reason", "description"], "properties": {
    "reason": {"type": "string", "enum": ["schema_error", "dup_pk", "stale_fk", "schema_unknown",
                                          "no_id", "fatal"]},
    "description": {"type": "string", "description": "Path: <JSON Pointer> . Message: <text>"},
    "path": {"type": "string", "description": "JSON Pointer into the document"},
    "severity": {"type": "string", "enum": ["Violation", "Warning", "Info"]},
    "message": {"type": "string"},
    "value": {"description": "the offending value, as the document wrote it"},
    "rules": {"type": "array", "items": {"type": "string"},
              "description": "the schema rules broken (file#JSON-Pointer)"},
    "standard": {"type": "boolean",
                 "description": "false: a FAIRtracks extension or advice, not a JSON Schema rule"},
    "hint": {"type": "string", "description": "how to fix it"},
    "also_causes": {"type": "array", "items": {"$ref": "#/components/schemas/Error"},
                    "description": "findings this one causes (a 'required' next to a value of "
                                   "the wrong type, a *_ref dangling because the objects it "
                                   "names lack their local_id), reported under it; absent when "
                                   "there are none"},
}}
GROUP = {"type": "object", "required": ["severity", "rule", "count", "message", "pointers"],
         "properties": {
    "severity": {"type": "string", "enum": ["Violation", "Warning", "Info"]},
    "rule": {"type": "string", "description": "what the findings break (a SHACL shape IRI)"},
    "count": {"type": "integer", "description": "how many findings break it"},
    "message": {"type": "string", "description": "the first finding's message"},
    "alike": {"type": "boolean", "description": "true when every finding says the same"},
    "rules": {"type": "array", "items": {"type": "string"},
              "description": "the schema rules broken (file#JSON-Pointer)"},
    "pointers": {"type": "array", "items": {"type": "string"},
                 "description": "JSON Pointers of the first findings (up to 10)"},
    "also_causes": {"type": "integer",
                    "description": "how many findings the group's findings cause"},
    "hint": {"type": "string", "description": "how to fix the first finding"},
}}
VALIDATION = {"type": "object", "required": ["validated"], "properties": {
    "file": {"type": "string", "description": "the document's name: (inlineN), a member path "
                                              "of an archive, or a form file's name"},
    "validated": {"type": "boolean", "description": "true when there is no violation"},
    "schema_id": {"type": "string", "description": "the document's @schema"},
    "variant": {"type": "string", "description": "the schema variant used"},
    "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}},
    "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}},
    "groups": {"type": "array", "items": {"$ref": "#/components/schemas/Group"},
               "description": "the findings (errors and warnings) grouped by rule, most severe "
                              "first: a count and the first pointers per rule"},
}}
ONE = {"$ref": "#/components/schemas/Validation"}
MANY = {"type": "array", "items": ONE}
REPORT = {"text/turtle": {"schema": {"type": "string", "description": "sh:ValidationReport"}},
          "application/ld+json": {"schema": {"type": "object",
                                             "description": "sh:ValidationReport"}}}
BINARY = {"schema": {"type": "string", "format": "binary"}}
FORM = {"type": "object", "properties": {"file": {
    "type": "array", "items": {"type": "string", "format": "binary"}}}}


def _post(operation: str, summary: str, body: dict[str, Any], answer: dict[str, Any],
          limits: Limits) -> dict[str, Any]:
    return {"post": {
        "operationId": operation, "summary": summary,
        "requestBody": {"required": True, "content": body},
        "responses": {
            "200": {"description": "one answer per document (valid or not)",
                    "content": {"application/json": {"schema": answer}, **REPORT}},
            "400": {"description": "the input is not what this route reads",
                    "content": {"application/json": {"schema": answer}}},
            "406": {"description": "no acceptable answer type"},
            "413": {"description": f"over a limit: body {limits.body_bytes} bytes, "
                                   f"{limits.members} archive members or files, "
                                   f"{limits.unpacked_bytes} bytes decompressed, or the "
                                   "validation needed more memory than the server allows",
                    "content": {"application/json": {"schema": answer}}},
            "422": {"description": "an RDF report was asked for a document that could not be "
                                   "read as RDF; the JSON answer says why",
                    "content": {"application/json": {"schema": answer}}},
            "429": {"description": "this client has too many validations running or queued; "
                                   "retry after the Retry-After header's seconds",
                    "content": {"application/json": {"schema": answer}}},
            "503": {"description": "the validation queue is full (retry after the Retry-After "
                                   "header's seconds), or the validation ran past the time "
                                   "limit and was stopped",
                    "content": {"application/json": {"schema": answer}}},
        }}}


def openapi(limits: Limits) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "fairtracks-ld validation service", "version": __version__,
                 "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": {
            "/validate": _post("validate", "validate one document", {"application/json": {
                "schema": {"type": "object"}}}, ONE, limits),
            "/validate/array": _post("validate_array", "validate a JSON array of documents", {
                "application/json": {"schema": {"type": "array",
                                                "items": {"type": "object"}}}}, MANY, limits),
            "/validate/archive": _post(
                "validate_archive", "validate the .json members of an archive", {
                "application/zip": BINARY, "application/x-tar": BINARY,
                "application/gzip": BINARY, "application/octet-stream": BINARY}, MANY, limits),
            "/validate/multipart": _post(
                "validate_multipart", "validate uploaded files (documents or archives)",
                {"multipart/form-data": {"schema": FORM}}, MANY, limits),
        },
        "components": {"schemas": {"Validation": VALIDATION, "Error": ERROR,
                                   "Group": GROUP}},
    }
