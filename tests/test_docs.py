"""The documentation cannot drift from the code it describes."""

from __future__ import annotations

from pathlib import Path

from fairtracks_ld.cli import build_parser
from fairtracks_ld.cli_reference import render

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_cli_reference_matches_the_parser():
    written = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert written == render(build_parser()), "docs/cli.md is stale: run `make docs`"


def test_every_command_is_in_the_reference():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        assert f"`fairtracks-ld {name}`" in text


def test_every_docs_page_is_linked_from_the_readme():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if f"(docs/{p.name})" not in readme]
    assert not missing, f"README.md does not link these docs pages: {missing}"
