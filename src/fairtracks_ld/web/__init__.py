"""The linked-data server: dereferenceable IRIs, the SPARQL endpoint, dataset description."""

from fairtracks_ld.web.app import create_app

__all__ = ["create_app"]
