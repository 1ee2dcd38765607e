# worldplan: the two commands of the README are `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8321
DEMO_MODEL ?= qwen2.5-coder-1.5b
TEST_MODEL ?= smollm2-135m
DEMO_LIMIT ?= 5
DEMO_STRATEGY ?= best_of_n
DEMO_BUDGET ?= 4
DATASET ?= math500
PYTEST_ARGS ?=

.PHONY: demo test venv browser services models serve stop lint unit

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/install.sh
	bash scripts/install.sh $(VENV)
	touch $(STAMP)

browser: venv
	bash scripts/install_browser.sh $(VENV)

services:
	bash scripts/install_services.sh

models: venv
	$(BIN)/worldplan models --fetch $(TEST_MODEL)

## make demo: install everything, serve the demo model, solve a few MATH-500 problems.
demo: venv
	$(BIN)/worldplan serve --model $(DEMO_MODEL) --port $(PORT)
	$(BIN)/worldplan math --dataset $(DATASET) --limit $(DEMO_LIMIT) \
	  --strategy $(DEMO_STRATEGY) --budget $(DEMO_BUDGET) --seed 0 \
	  --llm-url http://127.0.0.1:$(PORT)
	@echo "the server keeps running for later commands; stop it with: $(BIN)/worldplan serve --stop --port $(PORT)"

## make test: install everything, then lint, type-check and run the whole test suite
## (the real vLLM server with the test model and the real browser included).
test: venv browser services models lint
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check agent worldmodel envs traces tests benchmarks
	$(BIN)/lint-imports
	mkdir -p build/mypy/worldplan
	for p in agent worldmodel envs traces; do ln -sfn ../../../$$p build/mypy/worldplan/$$p; done
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -m "not server and not browser and not network" $(PYTEST_ARGS)

serve: venv
	$(BIN)/worldplan serve --model $(DEMO_MODEL) --port $(PORT)

stop:
	$(BIN)/worldplan serve --stop --port $(PORT)
