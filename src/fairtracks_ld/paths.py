"""Where the project's data folders live, in a source checkout and in an installed wheel.

The folders `context/`, `standard/`, `shapes/`, `ontologies/` and `queries/` sit at the repository
root (the layout the team agreed on); a wheel carries them under `fairtracks_ld/_data/`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent.parent


def data_dir(name: str) -> Path:
    """Return the data folder `name`, preferring the source checkout."""
    for root in (_CHECKOUT, _PACKAGE / "_data"):
        candidate = root / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"fairtracks-ld data folder {name!r} is missing from this installation")


CONTEXT_FILE = "fairtracks.context.jsonld"
VOCABULARY_FILE = "fairtracks.vocab.ttl"
