"""Which FAIRtracks documents fairtracks-ld reads, and plain words for the ones it does not.

Supported: whole FAIRtracks v1 documents, `@schema` = the v1 top-level schema (`SCHEMA_URL`),
in both variants of the v1 schemas (the released `v1-current` and the later `master`, told
apart by `doc_info.has_augmented_metadata`). Not supported:
- the newer draft of the standard (v2: `@schema` under `fairtracks_standard/v2/`, a `document`
  block in place of `doc_info`, `document_ref` for `doc_ref`, ...): its rules differ and are not
  released, so validating it against v1 would only say "'doc_info' is required";
- single objects described by a per-object schema (`fairtracks_track.schema.json`, ...): the
  standard exchanges whole documents (a collection with its studies, experiments, samples and
  tracks), which is what IRIs are minted for.
"""

from __future__ import annotations

import re
from typing import Any

from fairtracks_ld.standard import SCHEMA_URL

SUPPORTED = ("FAIRtracks v1 documents (@schema " + SCHEMA_URL + ", schema variants v1-current "
             "and master)")
_SCHEMA = re.compile(r"fairtracks_standard/v(?P<major>\d+)/[^/]+/json/schema/"
                     r"fairtracks(?:_(?P<object>[a-z_]+))?\.schema\.json$")
_DRAFT_BLOCKS = {"document": "doc_info"}  # the draft's name → v1's


def unsupported(document: dict[str, Any]) -> tuple[str, str] | None:
    """(JSON Pointer, why) when the document is of a version or kind this project does not
    read; None when it claims to be a whole v1 document."""
    schema = document.get("@schema")
    match = _SCHEMA.search(schema) if isinstance(schema, str) else None
    if match and match["major"] != "1":
        return "/@schema", (f"{schema} is the FAIRtracks v{match['major']} draft, which "
                            f"fairtracks-ld does not support; it reads {SUPPORTED}")
    renamed = [key for key in _DRAFT_BLOCKS if key in document and _DRAFT_BLOCKS[key]
               not in document]
    if renamed:
        key = renamed[0]
        return f"/{key}", (f"'{key}' is the newer draft's name for v1's '{_DRAFT_BLOCKS[key]}': "
                           "this document follows the FAIRtracks v2 draft, which fairtracks-ld "
                           f"does not support (its @schema says v1); it reads {SUPPORTED}")
    if match and match["object"]:
        return "/@schema", (f"{schema} describes a single {match['object']} object; fairtracks-ld "
                            f"reads whole documents ({SUPPORTED}): put the object in a "
                            "document's list")
    if schema != SCHEMA_URL:
        return "/@schema", f"unknown @schema {schema!r}; fairtracks-ld reads {SUPPORTED}"
    return None
