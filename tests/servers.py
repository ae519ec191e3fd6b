"""Real server processes for the tests: the CLI as a subprocess and `fairtracks-ld serve` on a
free loopback port, shared by every module that talks to a live server."""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from fairtracks_ld.standard import example_documents

EXAMPLES = [str(p) for p in example_documents().values()]
STARTUP_SECONDS = 180  # generous: CI machines may be busy
# A served validation's time limit counts from its arrival, so it includes a fresh validation
# worker's start and warm-up at nice 10: behind other work that took over 120 s (10 s on a quiet
# machine). The test servers' limit is only a hang guard (the limit itself is tested on a pool of
# its own, in test_validation_pool), and a client waits a minute longer for the answer.
VALIDATION_SECONDS = 600
ANSWER_SECONDS = VALIDATION_SECONDS + 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def oxigraph() -> str:
    """The `oxigraph` command of the PyPI package, next to this interpreter."""
    found = Path(sys.executable).with_name("oxigraph")
    if found.exists():
        return str(found)
    if shutil.which("oxigraph"):
        return str(shutil.which("oxigraph"))
    pytest.fail("the oxigraph command is missing: `make install` installs the PyPI package "
                "oxigraph", pytrace=False)


def cli(store: Path, base: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                           "--base-iri", base, *args], capture_output=True, text=True,
                          timeout=300, check=True)


def hostile_document(examples: dict[str, Any]) -> dict[str, Any]:
    """The v1-current example in its own collection, with a script tag as a track label."""
    hostile = copy.deepcopy(examples["v1-current"])
    hostile["collection_info"]["local_id"] = "hostile"
    hostile["tracks"][0]["label_long"] = '<script>alert("x")</script>'
    return hostile


@contextmanager
def oxigraph_serve(location: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`oxigraph serve` of the store in `location` on a free loopback port; yields its base URL
    (`/query`, `/update`, `/store` below it) and process once it answers, stops it after."""
    port = free_port()
    process = subprocess.Popen([oxigraph(), "serve", "--location", str(location), "--bind",
                                f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + STARTUP_SECONDS
        while True:
            try:
                if requests.get(f"{base}/query", params={"query": "ASK {}"}, timeout=5).ok:
                    break
            except requests.RequestException:
                if process.poll() is not None or time.time() > deadline:
                    raise RuntimeError("oxigraph serve did not start") from None
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def serve(store: Path, port: int, *args: str, env: dict[str, str] | None = None,
          workers: int = 2) -> Iterator[str]:
    """A real `fairtracks-ld serve` on 127.0.0.1:port; yields its base URL, stops it after."""
    base = f"http://127.0.0.1:{port}/"
    env = {"FAIRTRACKS_LD_VALIDATE_TIMEOUT": str(VALIDATION_SECONDS), **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "serve", "--port",
         str(port), "--workers", str(workers), *args],
        env=dict(os.environ, **env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + STARTUP_SECONDS
        while True:
            try:
                if requests.get(base, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                if process.poll() is not None or time.time() > deadline:
                    process.kill()
                    raise RuntimeError(process.stdout.read().decode()) from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def html_page(site: str, path: str) -> str:
    """A page of a running server, as a browser asks for it (200 expected)."""
    response = requests.get(site + path, headers={"Accept": "text/html"}, timeout=60)
    assert response.status_code == 200, response.text[:500]
    return response.text


def html_section(text: str, name: str) -> str:
    """The `<section id=name>` of a page's HTML ("" when it is not closed)."""
    start = text.index(f'id="{name}"')
    return text[start:text.index("</section>", start)] if "</section>" in text[start:] else ""
