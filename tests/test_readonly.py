"""A read-only deployment: the store and its snapshot folder on a read-only mount (a bind mount,
so it binds root too), served by a real server; every kind of page answers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from servers import EXAMPLES, cli, free_port, serve

from fairtracks_ld.store import TrackStore

TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"


def _mount_read_only(source: Path, target: Path) -> str | None:
    """Bind `source` read-only at `target`; the reason when this machine does not allow it."""
    for step in (["mount", "--bind", str(source), str(target)],
                 ["mount", "-o", "remount,bind,ro", str(target)]):
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", str(target)], capture_output=True)
            return done.stderr.strip() or "mount failed"
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readonly")
    data, mounted = folder / "data", folder / "mounted"
    data.mkdir()
    mounted.mkdir()
    port = free_port()
    cli(data / "store", f"http://127.0.0.1:{port}/", "load", "--allow-invalid", *EXAMPLES)
    bare = TrackStore(data / "bare", base=f"http://127.0.0.1:{port}/")  # never published
    bare.flush()
    del bare
    # as a store loaded before the writer made search segments and API exports: the server
    # must read the version graphs itself, and may not write what it read beside the snapshots
    shutil.rmtree(data / "store.snapshots" / "search-segments")
    shutil.rmtree(data / "store.snapshots" / "exports")
    reason = _mount_read_only(data, mounted)
    if reason:
        pytest.skip(f"cannot bind-mount read-only here: {reason}")
    try:
        with pytest.raises(OSError):
            (mounted / "probe").write_text("x")  # really read-only, also for root
        with serve(mounted / "store", port, workers=2) as base:
            yield {"base": base, "mounted": mounted}
    finally:
        subprocess.run(["umount", "-l", str(mounted)], check=False)


@pytest.mark.parametrize("path", [
    "",
    "search",
    "search?q=encode",
    "sparql?query=SELECT%20%3Ft%20WHERE%20%7B%20%3Ft%20a%20ft%3ATrack%20%7D",
    TRACK,
    "api/v1/repositories",
    "api/v1/openapi.json",
])
def test_every_page_answers_on_a_read_only_store(site, path):
    headers = {"Accept": "text/html"} if path == TRACK else {}
    response = requests.get(site["base"] + path, headers=headers, timeout=120)
    assert response.status_code == 200, response.text[:500]


def test_search_finds_tracks_without_writing_segments(site):
    response = requests.get(site["base"] + "search", params={"q": "ENCFF625ZYB"}, timeout=120)
    assert response.status_code == 200
    assert "ENCFF625ZYB" in response.text
    assert not (site["mounted"] / "store.snapshots" / "search-segments").exists()


def test_the_trackfind_api_searches_a_read_only_store(site):
    repositories = requests.get(site["base"] + "api/v1/repositories", timeout=60).json()
    repository = repositories[0]
    hubs = requests.get(site["base"] + f"api/v1/hubs/{repository}", timeout=60)
    assert hubs.status_code == 200, hubs.text
    hub = hubs.json()[0]
    found = requests.get(site["base"] + f"api/v1/search/{repository}/{hub}",
                         params={"query": "tracks->local_id = 'ENCFF625ZYB'"},
                         timeout=120)
    assert found.status_code == 200, found.text
    assert not (site["mounted"] / "store.snapshots" / "exports").exists()


def test_write_commands_on_a_read_only_store_say_so_in_one_line(site):
    store = site["mounted"] / "store"
    result = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                             "reason"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert "read-only" in result.stderr.lower() or "cannot be written" in result.stderr


def test_readers_work_on_a_read_only_store(site):
    store = site["mounted"] / "store"
    result = subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "stats"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"document_versions": 2' in result.stdout


def test_readers_read_an_unpublished_read_only_store_directly(site):
    result = subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(site["mounted"] / "bare"),
         "stats"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"document_versions": 0' in result.stdout
