"""What a validation worker process does with one request of the validation service: parse the
documents, validate them against the current snapshot, and render the answer.

The server thread only reads the request within its limits (body size, archive members,
decompressed bytes) and negotiates the answer's media type; it hands the raw bytes over as a
`Job` and sends back the `Rendered` answer. Everything that costs CPU in proportion to the
documents (JSON parsing, mapping, SHACL, building the answer) happens here, in a process of its
own (see validation_pool), so it neither holds a server thread's interpreter lock nor the server's
CPU priority.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from fairtracks_ld import heap
from fairtracks_ld.mapping.models import prepare_document
from fairtracks_ld.mapping.prepare import MappingError, Prepared
from fairtracks_ld.validation import DocumentReport, Validator
from fairtracks_ld.web.answers import answer, fatal, unreadable
from fairtracks_ld.web.uploads import Budget, Limits, TooLarge, Upload, parse_json

JSON = "application/json"
RDF = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD}
DCT_SOURCE = "http://purl.org/dc/terms/source"
_log = logging.getLogger(__name__)
Checked = tuple[Upload, DocumentReport | None]


@dataclass
class Job:
    """One request: `route` "one" (`body` is a document), "array" (`body` is a JSON array of
    documents) or "uploads" (`uploads` read from archives and form files, `raw` unparsed)."""

    route: str
    media: str  # the negotiated answer type: JSON or one of RDF
    limits: Limits
    body: bytes = b""
    uploads: list[Upload] | None = None


@dataclass
class Rendered:
    """An answer ready to send."""

    status: int
    media: str
    body: bytes
    vary: bool = True  # the answer depends on Accept


def json_answer(body: Any, status: int = 200) -> Rendered:
    return Rendered(status, JSON, json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    vary=False)


def run(job: Job, checker: Validator, leftovers: list[Any] | None = None) -> Rendered:
    """The answer to one job (a bad request is an answer too, never an exception).

    The cyclic garbage collector waits until the job is done: a large document makes millions
    of objects that live until then (the collector would walk them again and again, a tenth of
    the job's time), and the worker collects after each job anyway. What the job made that is
    only to be freed (the parsed documents, the scratch store) goes into `leftovers`, for the
    caller to free after sending the answer: a 10k-track document's take 0.15 s to free."""
    with heap.no_cycle_collection():
        return _run(job, checker, [] if leftovers is None else leftovers)


def _run(job: Job, checker: Validator, leftovers: list[Any]) -> Rendered:
    if job.route == "one":
        upload = parse_json("(inline0)", job.body)
        leftovers.append(upload)
        if upload.error is not None:
            return json_answer(fatal("There were problems processing incoming JSON (is it a "
                                     f"valid one?): {upload.error}"), 400)
        return respond(check([upload], checker, leftovers), job.media, single=True)
    if job.route == "array":
        parsed = parse_json("(inline)", job.body)
        leftovers.append(parsed)
        if parsed.error is not None or not isinstance(parsed.document, list):
            why = parsed.error or "the body is not a JSON array of documents"
            return json_answer([fatal("There were problems processing incoming JSON array "
                                      f"(is it a valid one?): {why}")], 400)
        budget = Budget(job.limits)
        uploads = []
        try:
            for index, document in enumerate(parsed.document):
                budget.member()
                uploads.append(Upload(f"(inline{index})", document))
        except TooLarge as error:
            return json_answer([fatal(f"refused: {error}")], 413)
        return respond(check(uploads, checker, leftovers), job.media)
    uploads = [parse_json(u.name, u.raw) if u.raw is not None else u for u in job.uploads or []]
    leftovers.append(uploads)
    return respond(check(uploads, checker, leftovers), job.media)


def check(uploads: list[Upload], checker: Validator,
          leftovers: list[Any] | None = None) -> list[Checked]:
    """Validate every readable upload against the current snapshot. The documents of one
    request are validated together, as if published together (a local_id used in two of them
    is reported), when they can be: one model, distinct collections; otherwise each alone.
    A scratch store made here goes into `leftovers` (see `run`)."""
    readable = [index for index, upload in enumerate(uploads) if upload.error is None]
    if len(readable) == 1:  # one document: mapped while it loads (`Validator.streamed`)
        one = uploads[readable[0]]
        scratch = ox.Store()
        if leftovers is not None:
            leftovers.append(scratch)
        report = _guarded(lambda: checker.streamed(one.document, one.name, scratch), one)
        return [(upload, report if upload is one else None) for upload in uploads]
    reports: dict[int, DocumentReport] = {}
    mapped: dict[str, list[tuple[int, Prepared, Upload]]] = {}
    for index, upload in enumerate(uploads):
        if upload.error is not None:
            continue
        try:
            prepared = prepare_document(upload.document, checker.base)
        except MappingError:  # the validator words it (as one finding)
            reports[index] = _guarded(lambda u=upload: checker.document(u.document, u.name),
                                      upload)
            continue
        except Exception:
            _log.exception("mapping %s", upload.name)
            upload.error = "the document could not be mapped (logged on the server)"
            continue
        mapped.setdefault(prepared.model, []).append((index, prepared, upload))
    for group in mapped.values():
        try:
            together = checker.batch([(p, u.document, u.name) for _, p, u in group])
        except ValueError:  # two versions of one collection: each alone
            together = [_guarded(lambda p=p, u=u: checker.prepared(p, u.document, u.name), u)
                        for _, p, u in group]
        except Exception:
            _log.exception("validating %d documents together", len(group))
            together = [_guarded(lambda p=p, u=u: checker.prepared(p, u.document, u.name), u)
                        for _, p, u in group]
        for (index, _, _), report in zip(group, together, strict=True):
            reports[index] = report
    return [(upload, reports.get(index)) for index, upload in enumerate(uploads)]


def _guarded(run: Callable[[], DocumentReport], upload: Upload) -> DocumentReport | None:
    """A validator bug must not become a traceback for the provider."""
    try:
        return run()
    except Exception:
        _log.exception("validating %s", upload.name)
        upload.error = "the validator failed on this document (logged on the server)"
        return None


def respond(checked: list[Checked], media: str, single: bool = False) -> Rendered:
    """The answers in the negotiated form: the FAIRtracks validator's JSON, or SHACL reports."""
    answers = [unreadable(u) if r is None else answer(r, u.document) for u, r in checked]
    if media == JSON:
        rendered = json_answer(answers[0] if single else answers)
    else:
        unmapped = [a for (_, r), a in zip(checked, answers, strict=True)
                    if r is None or r.report is None]
        if unmapped:  # no RDF, so no sh:ValidationReport: say why in the JSON answer
            return json_answer(unmapped[0] if single else unmapped, 422)
        rendered = Rendered(200, media,
                            _shacl([r for _, r in checked if r is not None], RDF[media]))
    rendered.vary = True
    return rendered


def _shacl(reports: list[DocumentReport], fmt: ox.RdfFormat) -> bytes:
    """The W3C reports; with several documents each report names its file (dct:source)."""
    if len(reports) == 1:
        return reports[0].shacl_report(fmt)
    triples: list[ox.Triple] = []
    for report in reports:
        own = list(report.report.triples()) if report.report is not None else []
        triples += own
        if own:
            triples.append(ox.Triple(own[0].subject, ox.NamedNode(DCT_SOURCE),
                                     ox.Literal(report.source)))
    prefixes = {"sh": "http://www.w3.org/ns/shacl#", "dct": "http://purl.org/dc/terms/"}
    return ox.serialize(triples, format=fmt, prefixes=prefixes) or b""
