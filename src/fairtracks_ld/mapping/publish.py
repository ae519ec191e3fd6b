"""Regenerate `context/` from the vendored schemas and the Ensembl track model (`make context`);
tests check it is current."""

from __future__ import annotations

from fairtracks_ld.mapping import ensembl_context
from fairtracks_ld.mapping.context import render_context
from fairtracks_ld.mapping.vocabulary import render_vocabulary
from fairtracks_ld.paths import CONTEXT_FILE, VOCABULARY_FILE, data_dir


def published_files() -> dict[str, str]:
    """File name in `context/` → the text it must hold."""
    return {CONTEXT_FILE: render_context(), VOCABULARY_FILE: render_vocabulary(),
            ensembl_context.CONTEXT_FILE: ensembl_context.render_context()}


def main() -> None:
    folder = data_dir("context")
    for name, text in published_files().items():
        (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main()
