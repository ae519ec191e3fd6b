"""Withdrawal over HTTP: `DELETE /collections/{id}` and `DELETE /collections/{id}/documents/{doc}`
with a submitter token scoped to the collection and a reason (`?reason=` or a JSON body
`{"reason": "…"}`). The catalog records when, why and by whom (see fairtracks_ld.withdrawal);
a snapshot is published, so the IRIs answer 410 Gone on the next request. A busy store answers
503 with Retry-After: withdrawals are short, try again.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, request

from fairtracks_ld.store.snapshots import publish
from fairtracks_ld.web.auth import audit, submitter
from fairtracks_ld.web.errors import error_response
from fairtracks_ld.withdrawal import WithdrawalError, withdraw
from fairtracks_ld.writer_lock import StoreLocked, writing

blueprint = Blueprint("withdrawals", __name__)


@blueprint.route("/collections/<collection>", methods=["DELETE"])
def withdraw_collection(collection: str) -> Response:
    return _withdraw(collection, None)


@blueprint.route("/collections/<collection>/documents/<document>", methods=["DELETE"])
def withdraw_document(collection: str, document: str) -> Response:
    return _withdraw(collection, document)


def _reason() -> str:
    reason = request.args.get("reason", "")
    if not reason and request.get_data():
        try:
            body = json.loads(request.get_data())
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("reason"), str):
            reason = body["reason"]
    return " ".join(reason.split())


def _withdraw(collection: str, document: str | None) -> Response:
    who = submitter()
    if isinstance(who, Response):
        return who
    if not who.may(collection):
        return error_response(403, f"your token ({who.name}) may not withdraw from collection "
                                   f"{collection!r}")
    reason = _reason()
    if not reason:
        return error_response(400, "say why: ?reason=… or a JSON body {\"reason\": \"…\"}")
    try:
        with writing(current_app.config["SETTINGS"].store,
                     command=f"withdrawal by {who.name} (server)") as store:
            done = withdraw(store, collection, document, reason, who.name)
            audit("withdrawal", f"{who.name} withdraws {done.target}: {reason}")
            publish(store)
    except StoreLocked as failure:
        response = error_response(503, f"{failure}; try again")
        response.headers["Retry-After"] = "5"
        return response
    except WithdrawalError as failure:
        return error_response(failure.status, str(failure))
    body = {"status": "withdrawn", "withdrawn": done.target, "kind": done.kind,
            "at": done.at, "reason": done.reason, "by": done.by, "versions": list(done.graphs)}
    return Response(json.dumps(body, indent=1) + "\n", mimetype="application/json")
