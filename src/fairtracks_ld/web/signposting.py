"""FAIR Signposting (https://signposting.org/FAIR/) on every resource landing page: the same
typed links as HTTP `Link` headers and as HTML `<link>` elements.

`cite-as` is the resource's IRI (its persistent identifier), `describedby` each RDF
representation, `type` the schema.org type, `license` the collection's licence (only when
stated), `item` a track's file, `collection` the collection it belongs to, `author` an author's
IRI where the metadata names one (FAIRtracks contacts are names and e-mails, so none yet).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, g

from fairtracks_ld.web.negotiation import HTML, SUFFIXES

blueprint = Blueprint("signposting", __name__)
SCHEMA = "https://schema.org/"
TYPES = {"track": "Dataset", "Ensembl track": "Dataset", "collection": "Dataset"}


@dataclass(frozen=True)
class Signpost:
    href: str
    rel: str
    type: str | None = None

    def header(self) -> str:
        kind = f'; type="{self.type}"' if self.type else ""
        return f'<{self.href}>; rel="{self.rel}"{kind}'


def signposts(iri: str, kind: str, collection: str | None, licence: str | None,
              file_url: str | None, authors: tuple[str, ...] = ()) -> list[Signpost]:
    """The signposts of one resource's landing page."""
    found = [Signpost(iri, "cite-as")]
    found += [Signpost(iri + suffix, "describedby", media) for suffix, media in SUFFIXES.items()
              if media != HTML]
    found.append(Signpost(SCHEMA + TYPES.get(kind, "CreativeWork"), "type"))
    found.append(Signpost(SCHEMA + "AboutPage", "type"))
    if licence:
        found.append(Signpost(licence, "license"))
    if file_url:
        found.append(Signpost(file_url, "item"))
    if collection and collection != iri:
        found.append(Signpost(collection, "collection"))
    found += [Signpost(author, "author") for author in authors]
    return found


def offer(found: list[Signpost]) -> None:
    """Signposts of the page being rendered: the response carries them as `Link` headers."""
    g.signposts = found


def take_links() -> str:
    """The `Link` header of the signposts offered while rendering (taken, so a cached answer
    carries them and the hook below does not add them twice)."""
    found = g.pop("signposts", None)
    return ", ".join(s.header() for s in found) if found else ""


@blueprint.after_app_request
def link_headers(response: Response) -> Response:
    found = g.pop("signposts", None)
    if found and response.status_code in (200, 304):
        response.headers["Link"] = ", ".join(s.header() for s in found)
    return response
