# leosim: two commands on a fresh machine
#   make demo   - install into .venv and run the built-in demo scenario (results in demo-out/)
#   make test   - install into .venv (with test extras), lint, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench bench-scale clean viewer-assets wheel-check mutate

$(BIN)/leosim: pyproject.toml
	@echo "installing leosim into $(VENV) (about a minute, once)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,packet]'
	touch $(BIN)/leosim

demo: $(BIN)/leosim
	$(BIN)/leosim demo -o demo-out

# CesiumJS for `leosim view`, from the npm registry (set-up only; nothing is fetched at run time).
viewer-assets: $(BIN)/leosim
	$(BIN)/python -m leosim.viewer.assets install

test: $(BIN)/leosim viewer-assets
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/pytest

bench: $(BIN)/leosim
	$(BIN)/python benchmarks/bench_routing.py

bench-scale: $(BIN)/leosim
	cd benchmarks && ../$(BIN)/python bench_scale.py

bench-postrun: $(BIN)/leosim
	cd benchmarks && ../$(BIN)/python bench_postrun.py --long --before d8e692a

clean:
	rm -rf $(VENV) demo-out .pytest_cache .leosim-assets

# Build the wheel, install it into a fresh venv, run the demo and validate every example there.
wheel-check:
	tools/check_wheel.sh

# Mutation testing of the core modules with mutmut (PyPI), outside CI: make mutate MUTATE=routing
# (routing takes about half an hour on one core). Score and survivors: docs/testing.md.
MUTATE ?= routing links threats metrics engine
mutate: $(BIN)/leosim
	$(BIN)/python -c 'import mutmut' 2>/dev/null || $(BIN)/pip install --quiet -e '.[test,mutate]'
	$(BIN)/python tools/mutate.py $(MUTATE)
