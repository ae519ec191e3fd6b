"""Submission: data providers publish or replace a collection's document over HTTP.

`POST /submissions` (or `PUT /collections/{id}/document`, which also checks the document is that
collection's) with a FAIRtracks JSON body and a submitter token (web/auth.py) scoped to the
document's collection. Optional query parameters state the collection's terms: `licence` (SPDX
id or IRI), `conditions` (free text), `duo` (a Data Use Ontology term).

- 201: validated, stored all or nothing, a snapshot published (visible on the next request);
  JSON says which version graph holds it and whether it is current.
- 422: refused; JSON with the validation report (nothing stored), or why the licence is refused.
- 401 (no or wrong token), 403 (collection outside the token's scope), 400 (not JSON).
- 202: another process holds the store (a `load`, another write). The submission is kept in
  `<store>.submissions/` and a worker thread of the server tries again every
  `FAIRTRACKS_LD_SUBMISSION_RETRY` seconds; `GET /submissions/{id}` (the `Location`) says
  `queued`, then `published` or `refused` with the same JSON as above and its `http_status`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from fairtracks_ld import licences
from fairtracks_ld.load import DocumentError
from fairtracks_ld.store import TrackStore
from fairtracks_ld.store.snapshots import publish
from fairtracks_ld.submission import collection_of, map_document, publish_document
from fairtracks_ld.web.auth import audit, submitter
from fairtracks_ld.web.errors import error_response
from fairtracks_ld.writer_lock import StoreLocked, writing

blueprint = Blueprint("submissions", __name__)
log = logging.getLogger("fairtracks_ld.web.submissions")
GIVE_UP_SECONDS = 24 * 3600  # a queued submission older than this fails instead of waiting on
_STARTED: set[Path] = set()  # the stores this process runs a worker for
_STARTED_LOCK = threading.Lock()


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body, indent=1, ensure_ascii=False) + "\n", status=status,
                    mimetype="application/json")


def jobs_folder(store: Path) -> Path:
    return store.with_name(store.name + ".submissions")


@blueprint.route("/submissions", methods=["POST"])
def submit() -> Response:
    return _submit(None)


@blueprint.route("/collections/<collection>/document", methods=["PUT"])
def submit_to(collection: str) -> Response:
    return _submit(collection)


def _submit(expected: str | None) -> Response:
    who = submitter()
    if isinstance(who, Response):
        return who
    try:
        document = json.loads(request.get_data())
    except (ValueError, UnicodeDecodeError) as failure:
        return error_response(400, f"the body is not JSON: {failure}")
    try:
        terms = _terms()
    except licences.LicenceError as failure:
        return _json({"status": "refused", "message": str(failure)}, 422)
    base = current_app.extensions["snapshots"].store().base
    source = f"submission:{uuid.uuid4().hex}"
    try:
        collection = collection_of(map_document(document, base, source))
    except DocumentError as failure:
        return _json({"status": "refused", "message": failure.message}, 422)
    if expected is not None and collection != expected:
        return error_response(400, f"the document is collection {collection!r}'s, not "
                                   f"{expected!r}: check collection_info.local_id or the URL")
    if not who.may(collection):
        return error_response(403, f"your token ({who.name}) may not publish collection "
                                   f"{collection!r}")
    audit("submission", f"{who.name} submits collection {collection} ({source})")
    job = {"id": source.partition(":")[2], "source": source, "submitter": who.name,
           "collection": collection, "terms": _terms_json(terms), "status": "queued",
           "created": datetime.now(UTC).isoformat(timespec="seconds")}
    settings = current_app.config["SETTINGS"]
    try:
        with writing(settings.store, command=f"submission by {who.name} (server)") as store:
            status, body = _run(store, document, job)
    except StoreLocked:
        return _queue(job, document)
    return _json(body, status)


def _terms() -> licences.Terms | None:
    stated = {name: request.args.get(name) for name in ("licence", "conditions", "duo")}
    if not any(stated.values()):
        return None
    return licences.parse_terms(stated["licence"], stated["conditions"], stated["duo"])


def _terms_json(terms: licences.Terms | None) -> dict[str, str | None] | None:
    if terms is None:
        return None
    return {"licence": terms.licence.iri if terms.licence else None,
            "conditions": terms.conditions, "duo": terms.duo}


def _terms_of(job: dict[str, Any]) -> licences.Terms | None:
    stated = job.get("terms")
    return None if stated is None else licences.parse_terms(**stated)


def _run(store: TrackStore, document: Any, job: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Validate and publish on an opened store: (HTTP status, JSON answer)."""
    try:
        published = publish_document(store, document, job["source"], job["submitter"],
                                     _terms_of(job))
    except DocumentError as refused:
        body: dict[str, Any] = {"status": "refused", "message": refused.message}
        if refused.validation is not None:
            body["report"] = refused.validation.to_json()
        return 422, body
    publish(store)
    return 201, published.to_json()


# ---- queued submissions --------------------------------------------------------------------


def _write_job(folder: Path, job: dict[str, Any]) -> None:
    path = folder / f"{job['id']}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)  # readers see the old or the new status, never half


def _queue(job: dict[str, Any], document: Any) -> Response:
    settings = current_app.config["SETTINGS"]
    folder = jobs_folder(settings.store)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{job['id']}.body").write_text(json.dumps(document), encoding="utf-8")
    _write_job(folder, job)
    Worker.start(settings.store, settings.submission_retry_seconds)
    status_url = url_for("submissions.status", job_id=job["id"], _external=True)
    response = _json({**job, "status_url": status_url,
                      "message": "the store is busy (another process is writing); the "
                                 "submission is queued and will be published when it is free"},
                     202)
    response.headers["Location"] = status_url
    response.headers["Retry-After"] = str(max(1, round(settings.submission_retry_seconds)))
    return response


@blueprint.route("/submissions/<job_id>")
def status(job_id: str) -> Response:
    if not job_id.isalnum():
        return error_response(404, f"no submission {job_id!r}")
    path = jobs_folder(current_app.config["SETTINGS"].store) / f"{job_id}.json"
    try:
        job = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return error_response(404, f"no submission {job_id!r}")
    return _json(job, 200)


class Worker:
    """One thread per server process completing queued submissions once the store opens. Any
    process may take any job (a lock file per job), so a job queued by a process that has since
    stopped is completed by the next worker started."""

    @classmethod
    def start(cls, store: Path, retry: float) -> None:
        with _STARTED_LOCK:
            if store in _STARTED:
                return
            _STARTED.add(store)
        threading.Thread(target=cls(store, retry).run, name="submissions", daemon=True).start()

    def __init__(self, store: Path, retry: float) -> None:
        self.store = store
        self.folder = jobs_folder(store)
        self.retry = retry

    def run(self) -> None:
        while True:
            for path in sorted(self.folder.glob("*.body")):
                try:
                    self.attempt(path.with_suffix(".json"))
                except Exception:  # a worker that dies would strand every queued job
                    log.exception("queued submission %s failed", path.stem)
            time.sleep(self.retry)

    def attempt(self, path: Path) -> None:
        """Complete one job if the store can be opened now; otherwise leave it queued."""
        with open(path.with_suffix(".lock"), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another process is on it
            body = path.with_suffix(".body")
            if not body.exists():
                return
            job = json.loads(path.read_text(encoding="utf-8"))
            created = datetime.fromisoformat(job["created"])
            if (datetime.now(UTC) - created).total_seconds() > GIVE_UP_SECONDS:
                job.update(status="failed", http_status=503,
                           message="the store stayed busy; submit again")
            else:
                try:
                    with writing(self.store, command="queued submission (server)") as store:
                        http_status, answer = _run(
                            store, json.loads(body.read_text(encoding="utf-8")), job)
                except StoreLocked:
                    return
                job.update(answer, status=answer["status"], http_status=http_status,
                           completed=datetime.now(UTC).isoformat(timespec="seconds"))
            _write_job(self.folder, job)
            body.unlink()
        path.with_suffix(".lock").unlink(missing_ok=True)


def resume_queued(store: Path, retry: float) -> None:
    """Start the worker at server start when submissions are still queued."""
    if any(jobs_folder(store).glob("*.body")):
        Worker.start(store, retry)

