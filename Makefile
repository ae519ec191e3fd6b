# fairtracks-ld — the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STORE  ?= var/store
DEMO_TRACKS ?= 5000
PORT   ?= 8000
# IRIs are minted under the address the demo is served at, so they dereference there.
BASE_IRI ?= http://localhost:$(PORT)/

.PHONY: install run demo test lint context docs lock bench bench-endpoint clean

# A virtualenv with the locked dependency versions, then the project itself (editable).
$(VENV)/.installed: requirements.lock pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Main job: load the bundled ontologies, the example documents and a generated demo corpus into
# the on-disk store, show an ancestor-aware search, then serve it on localhost (prints the URL).
# The official v1-current example breaks one CURIE rule ("encode: ENCFF207FGO"), so it is loaded
# with --allow-invalid, its validation report kept in the store.
run: install
	rm -rf $(STORE) $(STORE).snapshots var/demo-corpus
	$(BIN)/fairtracks-ld generate --tracks $(DEMO_TRACKS) --seed 1 --out var/demo-corpus
	$(BIN)/fairtracks-ld --store $(STORE) --base-iri $(BASE_IRI) ontologies load
	$(BIN)/fairtracks-ld --store $(STORE) --base-iri $(BASE_IRI) load --allow-invalid standard/v1-current/examples/fairtracks.example.json standard/master/examples/fairtracks.example.json
	$(BIN)/fairtracks-ld --store $(STORE) --base-iri $(BASE_IRI) load --bulk var/demo-corpus
	$(BIN)/fairtracks-ld --store $(STORE) --base-iri $(BASE_IRI) query @queries/tracks-per-technique.rq
	$(BIN)/fairtracks-ld --store $(STORE) --base-iri $(BASE_IRI) search tracks-by-cell-type --param term=lymphocyte
	$(BIN)/fairtracks-ld --store $(STORE) --base-iri $(BASE_IRI) serve --host 127.0.0.1 --port $(PORT) --access-log -

test: install
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check src tests bench

# Regenerate the JSON-LD context and vocabulary from the vendored schemas.
context: install
	$(BIN)/python -m fairtracks_ld.mapping.publish

# Rewrite the generated reference pages (docs/cli.md, from the argument parser).
docs: install
	$(BIN)/python -m fairtracks_ld.cli_reference > docs/cli.md

# Re-pin every dependency (run after changing pyproject.toml).
lock:
	rm -rf /tmp/fairtracks-ld-lock && $(PYTHON) -m venv /tmp/fairtracks-ld-lock
	/tmp/fairtracks-ld-lock/bin/pip install --quiet -e '.[test]'
	/tmp/fairtracks-ld-lock/bin/pip freeze --exclude-editable | grep -v '^fairtracks-ld' > requirements.lock

bench: install
	$(BIN)/python bench/ingest.py

# SPARQL endpoint latency/throughput vs `oxigraph serve` on 100k generated tracks.
bench-endpoint: install
	$(BIN)/python bench/endpoint.py

clean:
	rm -rf $(VENV) var bench/work
