"""Small writes of a bulk load (a document's header and small arrays, the validation report) go
through one transaction instead of a bulk-loader call each (current_view.SMALL_WRITE): the store
ends up holding exactly what bulk-loading them gives."""

from __future__ import annotations

import json

from test_memo import canonical

from fairtracks_ld.load import load_sources
from fairtracks_ld.store import TrackStore, current_view

BASE = "http://localhost:8000/"


def test_small_writes_in_transactions_store_what_the_bulk_loader_stores(generated, tmp_path,
                                                                       monkeypatch):
    sources = []
    for index, document in enumerate(generated[:3]):
        path = tmp_path / f"doc-{index}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        sources.append(str(path))
    stores = []
    for small in (0, current_view.SMALL_WRITE):  # every write bulk-loaded; small ones not
        monkeypatch.setattr(current_view, "SMALL_WRITE", small)
        store = TrackStore(tmp_path / f"store-{small}", base=BASE)
        report = load_sources(store, sources, bulk=True, allow_invalid=True)
        assert report.ok, report.not_loaded
        assert any(loaded.validation.findings for loaded in report.loaded)  # a report written
        stores.append(canonical(store))
    assert stores[0] and stores[0] == stores[1]
