# fairtracks-ld — the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The demo's own folder (store, its snapshots, the generated corpus). `make run` rebuilds it only
# when its marker says `make run` made it: the CLI's default store var/store is never touched.
DEMO   ?= var/demo
DEMO_STORE := $(DEMO)/store
DEMO_MARKER := $(DEMO)/.made-by-make-run
DEMO_TRACKS ?= 5000
PORT   ?= 8000
# IRIs are minted under the address the demo is served at, so they dereference there.
BASE_IRI ?= http://localhost:$(PORT)/

.PHONY: install run demo test lint context docs lock bench bench-endpoint clean

# A virtualenv with the locked dependency versions, then the project itself (editable).
# pip says only errors (-qq): a machine's pip settings can otherwise print a warning per package.
$(VENV)/.installed: requirements.lock pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -r requirements.lock
	$(BIN)/pip install -qq --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Main job: load the bundled ontologies, the example documents and a generated demo corpus into
# the demo's own store, show an ancestor-aware search, then serve it on localhost (prints the URL).
# The official v1-current example breaks one CURIE rule ("encode: ENCFF207FGO"), so it is loaded
# with --allow-invalid, its validation report kept in the store.
FTLD := $(BIN)/fairtracks-ld --store $(DEMO_STORE) --base-iri $(BASE_IRI)
run: install
	@if [ -e $(DEMO) ] && [ ! -e $(DEMO_MARKER) ]; then \
	  echo "error: $(DEMO) exists but make run did not create it, so it is left alone;" \
	       "move it away or run: make run DEMO=another/folder" >&2; exit 1; fi
	@rm -rf $(DEMO) && mkdir -p $(DEMO) && echo "made by make run, which deletes and rebuilds $(DEMO)" > $(DEMO_MARKER)
	@$(BIN)/fairtracks-ld generate --tracks $(DEMO_TRACKS) --seed 1 --out $(DEMO)/corpus
	@$(FTLD) ontologies load
	@$(FTLD) load --allow-invalid standard/v1-current/examples/fairtracks.example.json standard/master/examples/fairtracks.example.json
	@$(FTLD) load --bulk $(DEMO)/corpus
	@echo "--- tracks per technique (queries/tracks-per-technique.rq):"
	@$(FTLD) query @queries/tracks-per-technique.rq --limit 8
	@echo "--- tracks of lymphocytes and every cell type below (named query tracks-by-cell-type):"
	@$(FTLD) search tracks-by-cell-type --param term=lymphocyte --limit 8
	@echo "--- serving $(DEMO_STORE) (Ctrl-C stops):"
	@$(FTLD) serve --host 127.0.0.1 --port $(PORT) --access-log -

# Comunica (the federated engine of tests/test_federation.py), at the version tests/js locks.
tests/js/node_modules/.installed: tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: install tests/js/node_modules/.installed
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

# Removes the demo only when `make run` made it; other stores under var/ (var/store) stay.
clean:
	rm -rf $(VENV) bench/work
	@if [ -e $(DEMO_MARKER) ]; then rm -rf $(DEMO); fi
