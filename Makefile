# kefu: `make run` (demo bot) and `make test` (the suite) each set up .venv on a fresh clone.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo
PORT ?= 8000
export HF_HUB_OFFLINE := 1

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo: the bilingual online-shop bot of `kefu init`, trained on first start (and only when its
# files change), served with its web chat at http://127.0.0.1:8000 (`make run PORT=8001` for another
# port) and the dashboard at /admin.
$(DEMO)/kefu.yml: | $(STAMP)
	$(BIN)/kefu init $(DEMO)

run: $(STAMP) $(DEMO)/kefu.yml
	$(BIN)/kefu serve $(DEMO) --port $(PORT)

# The browser test drives Debian's Chromium (never a downloaded browser); install it where we may.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	-@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q chromium fonts-noto-cjk >/dev/null 2>&1 || echo "note: could not install chromium"; \
	else echo "note: no /usr/bin/chromium; the browser test will say so and skip"; fi

test: $(STAMP) $(CHROMIUM)
	$(BIN)/pytest

# The load test drives Debian's wrk (a C load generator: it must not take the CPU the server is measured on).
WRK := /usr/bin/wrk
$(WRK):
	-@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk)) >/dev/null 2>&1 \
		|| echo "note: could not install wrk"; \
	else echo "note: no /usr/bin/wrk; benchmarks/bench_load.py will say so and stop"; fi

# Long runs (tens of minutes on 2 cores); each script prints a table and writes benchmarks/results/*.json.
bench: $(STAMP) $(WRK)
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_kb.py
	$(BIN)/python benchmarks/bench_nlu.py
	$(BIN)/python benchmarks/bench_privacy.py
	$(BIN)/python benchmarks/bench_explain.py
	$(BIN)/python benchmarks/bench_server.py
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_efficiency.py
	$(BIN)/python benchmarks/bench_ddp.py
	$(BIN)/python benchmarks/bench_fuzz.py
	$(BIN)/python benchmarks/bench_topics.py
	$(BIN)/python benchmarks/bench_discovery.py
	$(BIN)/python benchmarks/bench_conversations.py

lint: $(STAMP)
	$(BIN)/ruff check kefu tests benchmarks

clean:
	rm -rf $(VENV) models
