"""Licences: SPDX ids and licence IRIs checked against the SPDX list, the "open licence" rule,
the collections file, and the catalog taking precedence over it."""

from __future__ import annotations

import pytest
from conftest import BASE

from fairtracks_ld import licences
from fairtracks_ld.licences import LicenceError, is_open, parse_duo, parse_licence, parse_terms


def test_spdx_ids_and_their_iris_are_recognised_in_any_case():
    assert parse_licence("cc-by-4.0").spdx_id == "CC-BY-4.0"
    assert parse_licence("https://spdx.org/licenses/MIT.html").spdx_id == "MIT"
    assert parse_licence("https://creativecommons.org/licenses/by/4.0/").spdx_id == "CC-BY-4.0"
    assert parse_licence("https://creativecommons.org/publicdomain/zero/1.0/").spdx_id == "CC0-1.0"
    custom = parse_licence("https://example.org/our-data-access-agreement")
    assert custom.spdx_id is None and custom.label == custom.iri


@pytest.mark.parametrize("text", ["CC-BY-5.0", "GPL", "", "not a licence"])
def test_anything_else_is_refused(text):
    with pytest.raises(LicenceError):
        parse_licence(text)


def test_open_means_osi_or_fsf_or_cc0_or_cc_by():
    assert is_open(parse_licence("MIT"))  # OSI
    assert is_open(parse_licence("CC0-1.0"))
    assert is_open(parse_licence("CC-BY-3.0"))  # neither OSI nor FSF in the list: CC BY
    assert is_open(parse_licence("ODbL-1.0"))  # FSF-libre
    assert not is_open(parse_licence("CC-BY-NC-4.0"))
    assert not is_open(parse_licence("https://example.org/agreement"))
    assert not is_open(None)


def test_duo_terms():
    assert parse_duo("DUO:0000042") == "http://purl.obolibrary.org/obo/DUO_0000042"
    with pytest.raises(LicenceError):
        parse_duo("http://purl.obolibrary.org/obo/EFO_0000042")


def test_the_catalog_wins_over_the_collections_file(store, tmp_path, monkeypatch):
    path = tmp_path / "collections.toml"
    path.write_text('[collections.one]\nlicence = "MIT"\n[collections.two]\nduo = "DUO:0000004"\n',
                    encoding="utf-8")
    monkeypatch.setenv(licences.COLLECTIONS_FILE_ENV, str(path))
    one, two = f"{BASE}collection/one", f"{BASE}collection/two"
    assert licences.licence_of(store, one).spdx_id == "MIT"
    assert licences.terms_of(store, two).summary == (
        "licence not stated; http://purl.obolibrary.org/obo/DUO_0000004")
    store.ox.update(licences.catalog_update(store.catalog, one, parse_terms("CC0-1.0")))
    assert licences.licence_of(store, one).spdx_id == "CC0-1.0"
    path.write_text('[collections.one]\nlicence = "no-such-licence"\n', encoding="utf-8")
    with pytest.raises(LicenceError, match="one"):
        licences.terms_of(store, two)
