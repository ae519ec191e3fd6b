"""Offline ontology bundle: read ontology sources, write one RDF module per ontology, ship them.

Public API:
- `read_source(path)` -> `OntologyData` (OBO, RDF/XML, Turtle, N-Triples, OWL/XML, cellxgene
  closure JSON, or a folder of FAIRtracks schemas for the NCIT subset)
- `build_bundle(sources, out_dir)` -> `Manifest`; `shipped_sources(shared_dir)` lists the sources
  of the committed bundle
- `load_bundle_modules(out_dir)` -> [(ontology_iri, version_iri, path)], `open_module(path)`
"""

from .bundle import (
    BundleError,
    BundleModule,
    build_bundle,
    default_bundle_dir,
    load_bundle_modules,
    open_module,
    shipped_sources,
    verify_bundle,
)
from .manifest import Manifest, ModuleEntry
from .model import OntologyData, OntologySourceError, Synonym, SynonymScope, Term
from .readers import detect_format, read_source

__all__ = [
    "BundleError",
    "BundleModule",
    "Manifest",
    "ModuleEntry",
    "OntologyData",
    "OntologySourceError",
    "Synonym",
    "SynonymScope",
    "Term",
    "build_bundle",
    "default_bundle_dir",
    "detect_format",
    "load_bundle_modules",
    "open_module",
    "read_source",
    "shipped_sources",
    "verify_bundle",
]
