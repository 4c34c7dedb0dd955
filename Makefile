VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench

# Create .venv from the pinned requirements (again whenever they change).
$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

# Start the IdP on its embedded defaults: Development, the development key, port 5000.
run: $(VENV)/.installed
	TOKENIDP_ENVIRONMENT=$${TOKENIDP_ENVIRONMENT:-Development} $(BIN)/gunicorn wsgi:app

# Lint, then the whole test suite on every core.
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/pytest -n auto --dist loadgroup

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Throughput and cost figures (needs wrk: apt-get install wrk).
bench: $(VENV)/.installed
	$(BIN)/python bench/token_endpoint_bench.py
