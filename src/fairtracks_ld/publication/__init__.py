"""`fairtracks-ld publish`: the store's current view (and optionally its history) written into
an external SPARQL 1.1 store, incrementally per graph, through standard protocols."""
