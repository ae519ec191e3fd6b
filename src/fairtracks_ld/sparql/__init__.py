"""SPARQL text handling the server needs beyond what pyoxigraph offers (protocol rewrites)."""
