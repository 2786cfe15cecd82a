PYTHON ?= python3

.PHONY: test run bootstrap bench screenshots

## make test: bootstrap Odoo 18 in the user cache, lint, then run every test on a fresh database
test:
	$(PYTHON) scripts/harness.py test

## make run: serve Odoo with the addon on http://127.0.0.1:8069 and print an API key
run:
	$(PYTHON) scripts/harness.py run

bootstrap:
	$(PYTHON) scripts/harness.py bootstrap

## make bench: benchmarks against real servers, figures and ratios printed side by side
bench:
	$(PYTHON) scripts/harness.py bench

## make screenshots: photograph the list, form, kanban, graph and settings from a real server
screenshots:
	$(PYTHON) scripts/screenshots.py
