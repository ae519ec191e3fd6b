"""What `load` tells people (grouped lines and a summary) and machines (`--report FILE.json`).

People get, per loaded document, one line and its findings grouped by kind
(`fairtracks_ld.validation.findings`); per refused or failed document, the error and its grouped
violations; then a summary: how many loaded, refused (breaks the standard) and failed (could not
be read or written), with the reason for each one not loaded, and whether a snapshot was
published. The JSON report holds every finding of every source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fairtracks_ld.load import DocumentError, Loaded, LoadReport, RefusedDocument
from fairtracks_ld.mapping.models import describe
from fairtracks_ld.store import report_graph
from fairtracks_ld.validation import findings

REFUSED = "refused"
FAILED = "failed"
LOADED = "loaded"


def loaded_lines(report: LoadReport, verbose: bool = False) -> list[str]:
    """Each loaded document and its notes (warnings; info notes too with `verbose`)."""
    lines = []
    for loaded in report.loaded:
        version, validation = loaded.version, loaded.validation
        current = "current" if version.current else "stored (a later-dated version is current)"
        lines.append(f"loaded {loaded.source} → {version.graph} "
                     f"[{describe(version.variant)}, {current}]")
        if validation is not None and not validation.valid:
            lines.append(f"  INVALID, loaded with --allow-invalid: {validation.summary()}\n"
                         f"  the W3C report is kept in graph <{report_graph(version.graph)}>")
        lines.extend(findings.render(_shown(_items(loaded), verbose), verbose=verbose))
    return lines


def problem_lines(report: LoadReport, verbose: bool = False) -> list[str]:
    """Each document not loaded: why, and the grouped findings of a refused one."""
    lines = []
    for error in report.not_loaded:
        if error.validation is None:
            lines.append(f"error: {error}")
        else:  # the reason, then every violation and warning, grouped
            lines.append(f"error: {error.source}: {_reason(error)}:")
            lines.extend(findings.render(error.validation.items(), verbose=verbose))
    if any(e.validation is not None and e.validation.report is not None  # could be stored
           for e in report.refused):
        lines.append("refused documents were not stored; fix them, or load them with "
                     "--allow-invalid (their validation reports are then kept in the store)")
    return lines


def summary_lines(report: LoadReport, snapshot: Path | None) -> list[str]:
    """Counts, the reason for each document not loaded, and what servers now see."""
    total = len(report.loaded) + len(report.not_loaded)
    documents = f"{total} document{'s' if total != 1 else ''}"
    published = f"published snapshot {snapshot}" if snapshot is not None else ""
    if report.ok:
        return [f"all {documents} loaded" + (f"; {published}" if published else "")]
    lines = [f"{len(report.loaded)} loaded, {len(report.refused)} refused (breaks the standard), "
             f"{len(report.failed)} failed (could not be read or written) of {documents}"]
    if total > 1:  # one document's reason is its error line, already printed
        lines.extend(f"  {_status(error)} {error.source}: {_reason(error)}"
                     for error in report.not_loaded)
    if published:
        lines.append(f"{published}: servers now see the documents that loaded")
    elif not report.loaded:
        lines.append("nothing loaded: no new snapshot published")
    return lines


def report_json(report: LoadReport, store: str, snapshot: Path | None) -> dict[str, Any]:
    """Everything machine-readable: per source its status, version graph, notes and findings."""
    sources: list[dict[str, Any]] = []
    for loaded in report.loaded:
        version, validation = loaded.version, loaded.validation
        sources.append({
            "source": loaded.source, "status": LOADED, "graph": version.graph,
            "document": version.document, "collection": version.collection,
            "doc_version": version.doc_version, "variant": version.variant,
            "current": version.current,
            "valid": None if validation is None else validation.valid,
            "notes": [item.to_json() for item in findings.from_notes(loaded.notes)],
            "findings": [] if validation is None else [f.to_json() for f in validation.findings],
        })
    for error in report.not_loaded:
        sources.append({
            "source": error.source, "status": _status(error), "reason": error.message,
            "findings": ([] if error.validation is None
                         else [f.to_json() for f in error.validation.findings]),
        })
    return {
        "store": store,
        "loaded": len(report.loaded), "refused": len(report.refused),
        "failed": len(report.failed),
        "snapshot": None if snapshot is None else str(snapshot),
        "sources": sources,
    }


def write_report(path: str, document: dict[str, Any]) -> None:
    """Write the JSON report ('-' for stdout is not offered: stdout holds the text output)."""
    Path(path).write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")


def _items(loaded: Loaded) -> list[findings.Item]:
    items = findings.from_notes(loaded.notes)
    if loaded.validation is not None:
        items += [item for item in loaded.validation.items() if item.level != "violation"]
    return items


def _shown(items: list[findings.Item], verbose: bool) -> list[findings.Item]:
    return items if verbose else [item for item in items if item.level != "info"]


def _status(error: DocumentError) -> str:
    return REFUSED if isinstance(error, RefusedDocument) else FAILED


def _reason(error: DocumentError) -> str:
    if error.validation is not None:
        return f"breaks the standard: {len(error.validation.violations)} violation(s)"
    return error.message
