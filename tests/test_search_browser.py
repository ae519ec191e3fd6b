"""The search page in Debian's Chromium (Playwright) against a real server: term lookup by
synonym, tree browsing, narrowing, paging, shareable URLs, links to track pages, escaping."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import B_CELL, track_iris
from test_search import HOSTILE, chosen, site  # noqa: F401  (module fixtures)
from test_web_browser import browser  # noqa: F401  (module fixture)


@pytest.fixture
def page(browser, site):  # noqa: F811
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    tab = context.new_page()
    tab.seen = {"errors": [], "dialogs": [], "outside": []}
    origin = urlsplit(site["base"]).netloc
    tab.on("pageerror", lambda e: tab.seen["errors"].append(str(e)))
    tab.on("dialog", lambda d: (tab.seen["dialogs"].append(d.message), d.dismiss()))
    tab.on("request", lambda r: urlsplit(r.url).netloc == origin or r.url.startswith("data:")
           or tab.seen["outside"].append(r.url))
    tab.set_default_timeout(20_000)
    yield tab
    assert tab.seen == {"errors": [], "dialogs": [], "outside": []}
    context.close()


def total(tab) -> int:
    return int(tab.locator("#total strong").inner_text().replace(",", ""))


def test_find_a_term_by_synonym_and_see_its_tracks(page, site, chosen):  # noqa: F811
    page.goto(site["base"])
    page.locator("a#search-link").click()
    page.wait_for_url("**/search")
    everything = total(page)
    page.locator("#term-input").fill("B-lymph")
    suggestion = page.locator("#suggestions a.suggestion", has_text="B cell").first
    suggestion.click()
    page.wait_for_url("**/search?sample_type=*")
    assert parse_qs(urlsplit(page.url).query)["sample_type"] == [B_CELL]
    assert total(page) == len(track_iris(chosen, sample=0)) < everything
    assert "ft:sample_type_ancestor <http://purl.obolibrary.org/obo/CL_0000236>" in \
        page.locator("#search-sparql").inner_text()
    assert "VALUES ?track" in page.locator("#rows-sparql").inner_text()
    # the other fields are narrowed: their counts add up to the matches
    assemblies = page.locator("#facet-assembly .count").all_inner_texts()
    assert sum(map(int, assemblies)) == total(page)
    # the shareable URL gives the same search; a row leads to its track page
    shared = page.locator("a#share").get_attribute("href")
    page.goto(shared)
    assert total(page) == len(track_iris(chosen, sample=0))
    first = page.locator("#results tbody a").first
    label = first.inner_text()
    first.click()
    page.wait_for_url("**/track/**")
    assert page.locator("h1").inner_text() == label


def test_browse_the_tree_and_narrow(page, site):  # noqa: F811
    page.goto(site["base"] + "search")
    facet = page.locator("#facet-sample_type")
    facet.locator("button.expand").first.click()
    child = facet.locator("li > ul > li").first
    child.wait_for()
    expected = int(child.locator(".count").first.inner_text())
    child.locator("a.value").first.click()
    page.wait_for_url("**/search?sample_type=*")
    assert total(page) == expected
    assert page.locator("#chosen a.chosen").count() == 1
    page.locator("#chosen a.chosen").click()  # removing the filter restores everything
    page.wait_for_url("**/search")
    assert page.locator("#chosen a.chosen").count() == 0


def test_paging_and_free_text(page, site):  # noqa: F811
    page.goto(site["base"] + "search?size=5")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 5
    first_page = rows.all_inner_texts()
    page.locator("a#next").click()
    page.wait_for_url("**page=2**")
    assert rows.count() == 5 and rows.all_inner_texts() != first_page
    page.locator("#text-input").fill("<script>alert")
    page.locator("#text-search button").click()
    page.wait_for_url("**q=**")
    assert total(page) == 1
    assert page.locator("#results tbody a").inner_text() == HOSTILE  # shown as text, not run
    assert page.locator("main script:not([src])").count() == 0
