"""Serving from an external SPARQL 1.1 store (`fairtracks-ld serve --backend ENDPOINT`)."""
