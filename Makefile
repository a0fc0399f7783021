# Two commands do all set-up on a fresh machine with Python >= 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export SENTINELLE_DATA_DIR ?= $(CURDIR)/var
# `make demo PORT=8080` serves the demo on another port.
PORT ?= 8000

.PHONY: demo test install messages lint serve clean fuzz

# setup.py and the compiled MRT reader's sources too: `pip install -e .` rebuilds the module.
$(BIN)/sentinelle: pyproject.toml setup.py $(wildcard src/sentinelle/observatory/routing/_mrt_accel*.p*)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/sentinelle messages

# Compiled catalogues are build products: made here, not committed. Babel compiles them, so
# GNU gettext is not needed to install or test.
messages: $(BIN)/sentinelle
	$(BIN)/python scripts/compile_messages.py

# The demo serves plain HTTP on 127.0.0.1: SENTINELLE_DEMO turns the production defaults off.
# Links in its e-mails point at the port it serves on.
demo: export SENTINELLE_DEMO := true
demo: export SENTINELLE_BASE_URL ?= http://127.0.0.1:$(PORT)
demo: install
	mkdir -p $(SENTINELLE_DATA_DIR)
	SENTINELLE_REQUIRE_2FA=false $(BIN)/sentinelle migrate --noinput -v 0
	SENTINELLE_REQUIRE_2FA=false $(BIN)/sentinelle seed-demo
	SENTINELLE_REQUIRE_2FA=false $(BIN)/sentinelle seed-actionplan
	SENTINELLE_REQUIRE_2FA=false $(BIN)/sentinelle seed-gateway
	SENTINELLE_REQUIRE_2FA=false $(BIN)/sentinelle seed-observatory
	@echo "Serving on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it). To type sentinelle commands" \
	  "in another shell: . $(VENV)/bin/activate"
	@# The task worker runs beside the server and stops with it.
	trap 'kill 0' EXIT; \
	SENTINELLE_REQUIRE_2FA=false $(BIN)/sentinelle db_worker --interval 1 & \
	SENTINELLE_REQUIRE_2FA=false $(BIN)/sentinelle runserver 127.0.0.1:$(PORT)

# lint-imports checks the import contracts of .importlinter (docs/architecture.md).
test: install
	$(BIN)/ruff check src tests bench scripts fuzz setup.py
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest $(PYTEST_ARGS)

# Mutation fuzzing of every parser a user can reach (fuzz/README.md); `make test` runs a short
# pass of the same targets (tests/test_fuzz.py).
FUZZ_SECONDS ?= 60
fuzz: $(BIN)/sentinelle
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)

lint: $(BIN)/sentinelle
	$(BIN)/ruff check src tests bench scripts fuzz setup.py
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) var
