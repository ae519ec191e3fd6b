"""Server settings, from arguments or `FAIRTRACKS_LD_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SECRETS = ("FAIRTRACKS_LD_ADMIN_TOKEN", "FAIRTRACKS_LD_TARGET_TOKEN")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"FAIRTRACKS_LD_{name}", default)


def forget_secrets() -> None:
    """Remove the tokens given by environment variable from this process's environment, once
    its Settings hold them: granian hands a WSGI application the worker's whole environment in
    every request's environ, where any code that shows the environ would show the token, and
    processes started later (query and update workers) inherit it. (A token file is read on
    each write and never enters the environment.)"""
    for name in SECRETS:
        os.environ.pop(name, None)


@dataclass
class Settings:
    """Everything the web application needs to know."""

    store: Path = field(default_factory=lambda: Path(_env("STORE", "var/store")))
    query_timeout: float = field(default_factory=lambda: float(_env("QUERY_TIMEOUT", "30")))
    max_result_bytes: int = field(
        default_factory=lambda: int(_env("MAX_RESULT_BYTES", str(50_000_000))))
    max_request_bytes: int = field(  # larger request bodies get 413
        default_factory=lambda: int(_env("MAX_REQUEST_BYTES", str(16_000_000))))
    query_workers: int = field(default_factory=lambda: int(_env("QUERY_WORKERS", "2")))
    # admission control (see admission): places waiting for a query worker, and how many queries
    # one client may have running or waiting, per server worker process
    query_queue: int = field(default_factory=lambda: int(_env("QUERY_QUEUE", "2")))
    queries_per_client: int = field(
        default_factory=lambda: int(_env("QUERIES_PER_CLIENT", "2")))
    # a client's queries beyond its share wait in its own queue (per client, and in all)
    query_client_queue: int = field(default_factory=lambda: int(_env("QUERY_CLIENT_QUEUE", "6")))
    query_excess: int = field(default_factory=lambda: int(_env("QUERY_EXCESS", "12")))
    trusted_proxies: tuple[str, ...] = field(default_factory=lambda: tuple(
        s for s in _env("TRUSTED_PROXIES", "").split() if s))
    query_niceness: int = field(  # query workers yield the CPU to cheap requests
        default_factory=lambda: int(_env("QUERY_NICE", "10")))
    update_timeout: float = field(default_factory=lambda: float(_env("UPDATE_TIMEOUT", "60")))
    cache: bool = field(default_factory=lambda: _env("CACHE", "1") not in ("0", "", "no"))
    cache_bytes: int = field(default_factory=lambda: int(_env("CACHE_BYTES", str(64_000_000))))
    admin_token: str | None = field(default_factory=lambda: _env("ADMIN_TOKEN", "") or None)
    admin_token_file: Path | None = field(  # read on each write: rotate by replacing the file
        default_factory=lambda: Path(_env("ADMIN_TOKEN_FILE", "")) if _env("ADMIN_TOKEN_FILE", "")
        else None)
    submitters_file: Path | None = field(  # data providers' tokens (web/auth.py), re-read
        default_factory=lambda: Path(_env("SUBMITTERS_FILE", "")) if _env("SUBMITTERS_FILE", "")
        else None)
    submission_retry_seconds: float = field(  # a busy store is tried again this often
        default_factory=lambda: float(_env("SUBMISSION_RETRY", "2")))
    # an external SPARQL 1.1 endpoint to answer from instead of the store (docs/backends.md),
    # the base IRI its data was published with (else the one its catalog names), and how often
    # its catalog is re-read for changes (seconds)
    backend: str | None = field(default_factory=lambda: _env("BACKEND", "") or None)
    backend_base: str | None = field(default_factory=lambda: _env("BACKEND_BASE", "") or None)
    backend_poll: float = field(default_factory=lambda: float(_env("BACKEND_POLL", "2")))
    # the folder a replica's worker processes share its facet index's segments in (`serve
    # --segments`, or made by `serve --backend` for the server's lifetime; unset: each process
    # keeps its own in memory)
    backend_segments: Path | None = field(
        default_factory=lambda: Path(_env("BACKEND_SEGMENTS", "")) if _env("BACKEND_SEGMENTS", "")
        else None)
    # whether queries go to the published view graph when it is in step (0: always the list of
    # the view's sources, as before the view graph; for comparisons)
    backend_view_graph: bool = field(default_factory=lambda: _env("BACKEND_VIEW_GRAPH", "1")
                                     != "0")
    service_allow_list: tuple[str, ...] = field(default_factory=lambda: tuple(
        s for s in _env("SERVICE_ALLOW_LIST", "").split() if s))
    # a JSON file mapping genome names (hg38 …) to igv.js options (`reference`, `locus`), for
    # sites whose readers cannot reach igv.org's genome list (and for the tests' tiny reference)
    igv_genomes: Path | None = field(default_factory=lambda: Path(_env("IGV_GENOMES", "")) if
                                     _env("IGV_GENOMES", "") else None)
    # the contact a UCSC track hub names (hub.txt `email`, which UCSC requires)
    contact_email: str = field(default_factory=lambda: _env("CONTACT_EMAIL",
                                                            "fairtracks-ld@localhost"))
    # the validation service: request body, archive members and files, decompressed bytes
    validate_max_body: int = field(
        default_factory=lambda: int(_env("VALIDATE_MAX_BODY", str(32 * 1024 * 1024))))
    validate_max_members: int = field(
        default_factory=lambda: int(_env("VALIDATE_MAX_MEMBERS", "1000")))
    validate_max_unpacked: int = field(
        default_factory=lambda: int(_env("VALIDATE_MAX_UNPACKED", str(256 * 1024 * 1024))))
    # its worker processes (web/validation_pool.py), per server worker process: how many
    # validate at once, wait for one, run or wait per client, queue per client and in all
    validate_workers: int = field(default_factory=lambda: int(_env("VALIDATE_WORKERS", "1")))
    validate_queue: int = field(default_factory=lambda: int(_env("VALIDATE_QUEUE", "2")))
    validations_per_client: int = field(
        default_factory=lambda: int(_env("VALIDATIONS_PER_CLIENT", "1")))
    validate_client_queue: int = field(
        default_factory=lambda: int(_env("VALIDATE_CLIENT_QUEUE", "2")))
    validate_excess: int = field(default_factory=lambda: int(_env("VALIDATE_EXCESS", "4")))
    # seconds from arrival, and resident bytes of a worker, past which a validation is stopped
    validate_timeout: float = field(default_factory=lambda: float(_env("VALIDATE_TIMEOUT", "60")))
    validate_max_memory: int = field(
        default_factory=lambda: int(_env("VALIDATE_MAX_MEMORY", str(3 * 1024**3))))
