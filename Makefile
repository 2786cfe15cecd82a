PYTHON ?= python3
# ODOO_VERSION=18.0|19.0 and ODOO_PYTHON=3.11|3.12 narrow what these commands use
# (make passes them on to the harness through the environment).

.PHONY: test run bootstrap bench screenshots dist

## make test: lint, then for Odoo 18.0 on Python 3.11 and 3.12 and Odoo 19.0 on
## 3.12 (or the one ODOO_VERSION/ODOO_PYTHON pick), every test on a fresh
## database and the in-Odoo tests through Odoo's own runner
test:
	$(PYTHON) scripts/harness.py test-all

## make run: serve Odoo with the addon on http://127.0.0.1:8069 and print an API key
run:
	$(PYTHON) scripts/harness.py run

bootstrap:
	$(PYTHON) scripts/harness.py bootstrap

## make bench: benchmarks against real servers, figures and ratios printed side by side
bench:
	$(PYTHON) scripts/harness.py bench

## make screenshots: photograph the list, form, kanban, graph and settings from a real server
## (SHOTS="screenshot_call_opportunity.png ..." takes only those)
screenshots:
	$(PYTHON) scripts/screenshots.py $(SHOTS)

## make dist: the installable module per Odoo version (dist/18.0, dist/19.0 and
## their .zip), with the series in the manifest's version; ODOO_VERSION=19.0 for one
dist:
	$(PYTHON) scripts/harness.py dist
