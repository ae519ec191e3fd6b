"""FAIRtracks JSON → RDF and back: context, IRIs, CURIEs, conversion, export."""
