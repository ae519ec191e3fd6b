"""Hostile input through `fairtracks-ld load` and `validate`, run as real processes: every case
is refused with one line naming the file (and the JSON Pointer or byte where it applies), never
a traceback, and the store is exactly as it was."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import BASE

LOW = ["--max-depth", "16", "--max-string-kb", "1", "--max-document-mb", "1"]
MARK = "\x00HOLE\x00"
NAMES = ["nan", "infinity", "overflow", "deep", "deep-low-limit", "long-string", "huge-string",
         "long-key", "invalid-utf8", "duplicate-key", "duplicate-top-key", "truncated",
         "trailing", "truncated-gzip", "corrupt-gzip", "gzip-bomb", "oversized",
         "lone-surrogate", "not-an-object-item"]


def run(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
         *args], capture_output=True, timeout=300, check=False)


def with_hole(document: dict[str, Any], where: tuple[str, int, str], raw: bytes) -> bytes:
    """The document as JSON with `raw` bytes as the value at tracks[i][key]."""
    document = json.loads(json.dumps(document))
    document[where[0]][where[1]][where[2]] = MARK
    text = json.dumps(document).encode("utf-8")
    return text.replace(json.dumps(MARK).encode(), raw)


def cases(example: dict[str, Any]) -> dict[str, tuple[str, bytes, list[str], list[str]]]:
    """name → (file name, content, extra options, fragments the one-line error must hold)."""
    valid = json.dumps(example).encode("utf-8")
    track = ("tracks", 1, "label_long")
    deep = b"[" * 100_000 + b"]" * 100_000
    bad_utf8 = with_hole(example, track, b'"caf\xe9 au lait"')
    surrogate = with_hole(example, track, b'"\\ud800"')
    return {
        "nan": ("nan.json", with_hole(example, ("tracks", 0, "file_size"), b"NaN"), [],
                ["NaN is not a JSON number", "at /tracks/0/file_size"]),
        "infinity": ("inf.json", with_hole(example, track, b"[1, -Infinity]"), [],
                     ["Infinity is not a JSON number", "at /tracks/1/label_long/1"]),
        "overflow": ("overflow.json", with_hole(example, track, b"1e400"), [],
                     ["a number out of range", "at /tracks/1/label_long"]),
        "deep": ("deep.json", with_hole(example, track, deep), [],
                 ["nested deeper than the limit of 64", "at /tracks/1/label_long/0/0/"]),
        "deep-low-limit": ("deep16.json", with_hole(example, track, deep), LOW,
                           ["nested deeper than the limit of 16 (--max-depth)"]),
        "long-string": ("long.json", with_hole(example, track, b'"' + b"x" * 5000 + b'"'), LOW,
                        ["a string value longer than the limit of 1024 bytes",
                         "at /tracks/1/label_long"]),
        "huge-string": ("huge.json", with_hole(example, track, b'"' + b"y" * (6 << 20) + b'"'),
                        [], ["a string value longer than the limit of 1048576 bytes",
                             "at /tracks/1/label_long"]),
        "long-key": ("longkey.json", valid.replace(b'"tracks"', b'"' + b"k" * 5000 + b'": 1, '
                                                   b'"tracks"', 1), LOW,
                     ["a string value longer than the limit of 1024 bytes"]),
        "invalid-utf8": ("latin1.json", bad_utf8, [],
                         [f"invalid UTF-8 at byte {bad_utf8.index(b'caf') + 3}"]),
        "duplicate-key": ("dup.json", with_hole(example, track, b'{"a": 1, "b": 2, "a": 3}'),
                          [], ["duplicate key 'a'", "at /tracks/1/label_long/a"]),
        "duplicate-top-key": ("duptop.json", valid[:-1] + b', "tracks": []}', [],
                              ["duplicate key 'tracks'", "at /tracks"]),
        "truncated": ("truncated.json", valid[: len(valid) // 2], [],
                      ["malformed JSON (premature EOF)"]),
        "trailing": ("trailing.json", valid + b" {}", [], ["malformed JSON (trailing garbage"]),
        "truncated-gzip": ("truncated.json.gz", gzip.compress(valid)[:-40], [],
                           ["truncated gzip file"]),
        "corrupt-gzip": ("corrupt.json.gz", gzip.compress(valid)[:30] + b"\x00" * 200, [],
                         ["gzip"]),
        "gzip-bomb": ("bomb.json.gz", gzip.compress(valid[:-1] + b" " * (3 << 20) + b"}"), LOW,
                      ["decompresses to more than the limit of 1048576 bytes"]),
        "oversized": ("big.json", valid[:-1] + b", \"pad\": \"" + b"z" * 900 + b"\""
                      + b" " * (2 << 20) + b"}", LOW,
                      ["is larger than the limit of 1048576 bytes (--max-document-mb)"]),
        "lone-surrogate": ("surrogate.json", surrogate, [],
                           [f"a lone surrogate escape '\\\\ud800' (not Unicode text) at byte "
                            f"{surrogate.index(b'ud800') - 1}"]),
        "not-an-object-item": ("item.json", valid.replace(b'"tracks": [', b'"tracks": [7, ', 1),
                               [], ["/tracks/0: an item of tracks must be a JSON object"]),
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, examples) -> dict[str, Any]:
    """Every case through load and validate, against one store holding a valid document."""
    example = json.loads(json.dumps(examples["v1-current"]))
    example["tracks"][0]["raw_file_ids"][0] = "encode:ENCFF207FGO"
    folder = tmp_path_factory.mktemp("hostile")
    store = folder / "store"
    good = folder / "good.json"
    good.write_text(json.dumps(examples["master"]), encoding="utf-8")
    assert run(store, "load", str(good)).returncode == 0
    before = sorted(run(store, "dump", "--format", "nq").stdout.splitlines())
    results = {}
    hostile = cases(example)
    assert list(hostile) == NAMES
    for name, (file, content, options, fragments) in hostile.items():
        path = folder / file
        path.write_bytes(content)
        results[name] = (str(path), fragments, run(store, "load", *options, str(path)),
                         run(store, "validate", *options, str(path)))
    after = sorted(run(store, "dump", "--format", "nq").stdout.splitlines())
    return {"results": results, "unchanged": before == after, "quads": len(after)}


@pytest.mark.parametrize("name", NAMES)
def test_hostile_input_is_one_clear_line_and_changes_nothing(outcomes, name):
    path, fragments, load, validate = outcomes["results"][name]
    for result in (load, validate):
        out = (result.stdout + result.stderr).decode("utf-8", "replace")
        assert result.returncode == 1, out
        assert "Traceback" not in out
    errors = [line for line in load.stderr.decode().splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"error: {path}: ")
    assert all(fragment in errors[0] for fragment in fragments), errors[0]
    report = validate.stdout.decode()
    assert report.startswith(f"{path}: INVALID"), report
    assert all(fragment.removeprefix("at ") in report for fragment in fragments), report


def test_the_store_is_exactly_as_it_was(outcomes):
    assert outcomes["quads"] > 100
    assert outcomes["unchanged"]
