"""The command-line reference (docs/cli.md), written from the argument parser itself.

The reference is generated rather than written by hand so it cannot drift from the commands:
a test compares docs/cli.md with what this module renders, and `make docs` rewrites it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

HEADER = """# Command-line reference

<!-- Generated from the argument parser by `make docs` (python -m fairtracks_ld.cli_reference);
     do not edit by hand: tests/test_docs.py fails when this page and the parser differ. -->

"""


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _option_rows(parser: argparse.ArgumentParser) -> Iterator[str]:
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        label = action.metavar or action.dest
        names = ", ".join(f"`{name}`" for name in action.option_strings) or f"`{label}`"
        if action.option_strings and action.nargs != 0:
            names += f" `{action.metavar or action.dest.upper()}`"
        text = (action.help or "") % {"default": action.default, "prog": parser.prog}
        if action.choices and not isinstance(action.choices, dict):
            text += " (one of: " + ", ".join(str(c) for c in action.choices) + ")"
        cell = text.replace("|", "\\|")
        yield f"| {names} | {cell} |"


def _usage(parser: argparse.ArgumentParser) -> str:
    """The usage line at a fixed width, whatever the terminal's (so the page is reproducible)."""
    formatter = argparse.HelpFormatter(prog=parser.prog, width=100)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip().removeprefix("usage: ")


def _section(parser: argparse.ArgumentParser, path: list[str], level: int) -> Iterator[str]:
    yield f"{'#' * level} `{' '.join(path)}`"
    yield ""
    if parser.description:
        yield parser.description
        yield ""
    yield "```"
    yield _usage(parser)
    yield "```"
    yield ""
    rows = list(_option_rows(parser))
    if rows:
        yield "| argument | meaning |"
        yield "|---|---|"
        yield from rows
        yield ""
    if parser.epilog:
        yield parser.epilog
        yield ""
    for name, child in _subcommands(parser):
        yield from _section(child, [*path, name], min(level + 1, 4))


def render(parser: argparse.ArgumentParser) -> str:
    """Markdown for the whole command tree, in the parser's own order."""
    return HEADER + "\n".join(_section(parser, [parser.prog], 2)).rstrip() + "\n"


def main() -> None:
    from fairtracks_ld.cli import build_parser

    sys.stdout.write(render(build_parser()))


if __name__ == "__main__":
    main()
