# Two commands: `make book` builds the HTML book (every notebook executed), `make test` runs
# every test. Each sets itself up on a fresh machine and is quick when already set up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MATHJAX := _vendor/mathjax/es5/tex-mml-chtml.js
export PYTHONHASHSEED := 0

.PHONY: book test setup lint unit notebooks browser benchmark clean

setup: $(STAMP)

# (re)create the environment when it is missing or requirements/pyproject changed
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

# MathJax for offline math: fetched from npm at build time into an ignored folder, never committed.
# Without npm/network the file becomes a two-line loader for the CDN, so the build still works.
$(MATHJAX):
	@mkdir -p _vendor/mathjax _vendor/.npm
	@if command -v npm >/dev/null && (cd _vendor/.npm && npm pack -q mathjax@3 >/dev/null 2>&1); then \
		tar -xzf _vendor/.npm/mathjax-3*.tgz -C _vendor/.npm && rm -rf _vendor/mathjax/es5 && \
		mv _vendor/.npm/package/es5 _vendor/mathjax/es5 && rm -rf _vendor/.npm; \
	else \
		echo "npm unavailable: MathJax will load from the CDN"; mkdir -p _vendor/mathjax/es5; \
		echo 'var s=document.createElement("script");s.src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js";s.async=true;document.head.appendChild(s);' > $(MATHJAX); \
	fi

book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . -n -W --keep-going
	@echo "open _build/html/index.html"

# ruff, then the layer contract in pyproject.toml (an upward import between layers fails here)
lint: $(STAMP)
	$(BIN)/ruff check diffusion_edu tests benchmarks book
	$(BIN)/lint-imports --no-cache

unit: $(STAMP)
	$(BIN)/pytest tests -q

notebooks: $(STAMP)
	$(BIN)/pytest --nbval-lax --nbval-current-env -p no:randomly book -q

# the browser check runs over the built book (after `make book`); it skips if there is none
browser: $(STAMP)
	$(BIN)/pytest tests/browser -q

test: lint unit notebooks

benchmark: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH)

clean:
	rm -rf _build _vendor
