"""The Python web stack's floor for bench/endpoint.py: a Flask app that answers every SPARQL
request with one constant Turtle body (the file FLOOR_BODY names), no store and no parsing.

Served by the HTTP server with the settings `fairtracks-ld serve` uses (bench/endpoint.py), its
throughput is the ceiling for any Flask server on the same machine, whatever its query engine.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response

app = Flask(__name__)
BODY = Path(os.environ["FLOOR_BODY"]).read_bytes()


@app.route("/", methods=["GET"])
@app.route("/sparql", methods=["GET", "POST"])
@app.route("/<path:_resource>", methods=["GET"])
def answer(_resource: str = "") -> Response:
    return Response(BODY, mimetype="text/turtle")
