# kefu: `make run` (demo bot) and `make test` (the suite) each set up .venv on a fresh clone.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_MODEL := models/demo
export HF_HUB_OFFLINE := 1

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DEMO_MODEL)/config.json: $(STAMP) examples/demo/nlu.yml examples/demo/train.yml
	$(BIN)/kefu train examples/demo/nlu.yml --config examples/demo/train.yml --out $(DEMO_MODEL)

run: $(DEMO_MODEL)/config.json
	$(BIN)/kefu shell $(DEMO_MODEL)

test: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py

lint: $(STAMP)
	$(BIN)/ruff check kefu tests benchmarks

clean:
	rm -rf $(VENV) models
