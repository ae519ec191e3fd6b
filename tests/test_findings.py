"""Findings grouped by kind: one line per kind with a count and the first pointers, for the
module and for `load` and `validate` run as processes on documents with many alike findings."""

from __future__ import annotations

import copy
import subprocess
import sys

from conftest import BASE, write_json

from fairtracks_ld.validation import findings
from fairtracks_ld.validation.findings import Item


def unknown_prefix(index: int) -> Item:
    return Item("warning", f"/tracks/{index}/global_id",
                f"unknown CURIE prefix 'nowhere' in 'nowhere:{index}'; no link made")


def test_alike_messages_group_into_one_line_with_a_count_and_three_pointers():
    items = [unknown_prefix(i) for i in range(1000)]
    lines = findings.render(items)
    assert lines == ["  1000 warnings like: unknown CURIE prefix 'nowhere' in 'nowhere:0'; no link "
                     "made — at /tracks/0/global_id, /tracks/1/global_id, /tracks/2/global_id … "
                     "and 997 more"]
    verbose = findings.render(items, verbose=True)
    assert len(verbose) == 1001 and verbose[1] == (
        "    /tracks/0/global_id: unknown CURIE prefix 'nowhere' in 'nowhere:0'; no link made")


def test_kinds_levels_and_values():
    items = [
        Item("info", "/a", "replaced 'x' by 'y'"),
        *(Item("warning", f"/tracks/{i}/label_long", "'label_long' is too long", "shape-1",
               "a long label " * 10) for i in range(4)),
        Item("violation", "/tracks/0/file_url", "'file_url' is required", "shape-2"),
        Item("warning", "/x", "something else"),
    ]
    groups = findings.group(items)
    assert [(g.level, g.count) for g in groups] == [("violation", 1), ("warning", 4),
                                                    ("warning", 1), ("info", 1)]
    assert groups[1].heading == "4 warnings: 'label_long' is too long"  # all say the same
    lines = findings.render(items)
    assert lines[0] == "  violation: /tracks/0/file_url: 'file_url' is required"
    assert lines[1] == ("  4 warnings: 'label_long' is too long — at /tracks/0/label_long, "
                        "/tracks/1/label_long, /tracks/2/label_long … and 1 more")
    verbose = findings.render(items, verbose=True)
    value = "a long label " * 10
    assert verbose[2] == f"    /tracks/0/label_long: 'label_long' is too long (value: \"{value}\")"
    assert findings.template("the document follows http://a.org/v1.owl, but the store has "
                             "http://a.org/v2.owl: search uses 2 releases") == (
        "the document follows …, but the store has …: search uses … releases")
    assert [f["kind"] for f in map(Item.to_json, items[:2])] == ["replaced '…' by '…'", "shape-1"]


def run(store, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
         *args], capture_output=True, text=True, timeout=300)


def test_load_and_validate_group_repeated_warnings(tmp_path, generated):
    document = copy.deepcopy(generated[0])
    tracks = document["tracks"]
    for index, track in enumerate(tracks):
        track["global_id"] = f"nowhere:{index}"  # an unknown prefix: one warning per track
        track["label_long"] = "x" * 100  # longer than suggested: one shape warning per track
    path = write_json(tmp_path / "many.json", document)
    result = run(tmp_path / "store", "load", str(path))
    assert result.returncode == 0, result.stderr
    prefix = [line for line in result.stdout.splitlines() if "unknown CURIE prefix" in line]
    assert prefix == [f"  {len(tracks)} warnings like: unknown CURIE prefix 'nowhere' in "
                      f"'nowhere:0'; no link made — at /tracks/0/global_id, /tracks/1/global_id, "
                      f"/tracks/2/global_id … and {len(tracks) - 3} more"]
    assert len(result.stdout.splitlines()) < 10
    verbose = run(tmp_path / "store2", "load", "--verbose", str(path))
    assert sum(line.startswith("    /tracks/") and "unknown CURIE prefix 'nowhere'" in line
               for line in verbose.stdout.splitlines()) == len(tracks)
    checked = run(tmp_path / "store", "validate", str(path))
    assert checked.returncode == 0, checked.stdout
    labels = [line for line in checked.stdout.splitlines() if "'label_long'" in line]
    assert len(labels) == 1 and f"{len(tracks)} warnings: " in labels[0]
    every = run(tmp_path / "store", "validate", "--verbose", str(path))
    assert sum("/label_long" in line for line in every.stdout.splitlines()) == len(tracks)
